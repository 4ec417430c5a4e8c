"""`earnest report --date` against the local stack, as an operator backfills a day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from tests.builders.experiences import experience
from tests.builders.report_events import EVENTS_BUCKET, put_s3, s3_client, simulate
from tests.builders.stack import Stack, earnest

BUCKET = EVENTS_BUCKET


@pytest.mark.slow
@pytest.mark.clock
def test_earnest_report_backfills_a_date_and_a_rerun_writes_the_same_files(
    own_stack: Stack, tmp_path: Path
) -> None:
    # A stack of its own: the report acts on every experience stored (it would retire the
    # session's pushed examples whose review is due by tomorrow, as a real night does).
    stack = own_stack
    # Given an experience pushed by its owner (its allocation starts now) and a day of its
    # events after that (tomorrow's, as the report counts events by their time)
    day = datetime.now(UTC).date() + timedelta(days=1)
    doc = experience(
        id="cli-report-hero",
        placement="cli-report-slot",
        audience={},
        holdout=0.5,
        variants=[{"id": "b", "weight": 1, "content": {"headline": "b"}}],
        last_reviewed=day.isoformat(),
    )
    source = tmp_path / "cli-report-hero.yaml"
    source.write_text(yaml.safe_dump(doc))
    pushed = earnest("push", str(source), env=stack.env)
    assert pushed.returncode == 0, pushed.stderr
    rates = {"cli-report-hero": {None: 0.08, "b": 0.13}}
    s3 = s3_client(stack)
    put_s3(s3, BUCKET, simulate([doc], 6000, rates, day, prefix="cli"))

    # When the operator runs the report for that date
    first = earnest("report", "--date", str(day), "--out", str(tmp_path / "one"), env=stack.env)

    # Then it says what it found and wrote the files to S3 and to the folder
    assert first.returncode == 0, first.stderr
    assert "cli-report-hero" in first.stdout and "b:beats_default" in first.stdout
    assert f"reports/dt={day}/report.json" in first.stdout
    assert "allocation since " in first.stdout  # where its analysis starts
    stored = s3.get_object(Bucket=BUCKET, Key=f"reports/dt={day}/report.json")["Body"].read()
    assert stored == (tmp_path / "one" / "report.json").read_bytes()
    assert (tmp_path / "one" / "index.html").read_bytes().startswith(b"<!DOCTYPE html>")

    # and a re-run overwrites the same outputs with the same bytes
    again = earnest("report", "--date", str(day), "--out", str(tmp_path / "two"), env=stack.env)
    assert again.returncode == 0, again.stderr
    for name in ("report.json", "report.csv", "index.html"):
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()


def test_a_dry_run_writes_nothing(stack: Stack) -> None:
    result = earnest("report", "--date", "2026-10-01", "--dry-run", env=stack.env)
    assert result.returncode == 0, result.stderr
    assert "dry run" in result.stdout
    listed = s3_client(stack).list_objects_v2(Bucket=BUCKET, Prefix="reports/dt=2026-10-01/")
    assert not listed.get("Contents")


def test_a_bad_date_is_refused_naming_it() -> None:
    result = earnest("report", "--date", "2026-13-01")
    assert result.returncode == 2
    assert "not a date" in result.stderr


def test_a_lookback_under_one_day_is_refused_naming_it() -> None:
    result = earnest("report", "--date", "2026-11-20", "--lookback-days", "0")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "earnest report: argument --lookback-days: 0 is out of range: 1 to 400 days "
        "(see `earnest report --help`)"
    )


def test_a_bad_report_setting_in_the_environment_is_refused_naming_it() -> None:
    result = earnest("report", "--date", "2026-11-20", env={"REPORT_LOOKBACK_DAYS": "many"})
    assert result.returncode == 2
    assert result.stderr.startswith("earnest report: ") and "REPORT_LOOKBACK_DAYS" in result.stderr


def test_an_unreachable_store_is_one_line_naming_it_and_exit_2() -> None:
    env = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing listens there
        "AWS_CONNECT_TIMEOUT": "0.2",
        "EXPERIENCES_TABLE": "experiences",
        "CONSENT_TABLE": "consent",
        "EVENTS_BUCKET": "events",
    }
    result = earnest("report", "--date", "2026-11-20", env=env)
    assert result.returncode == 2
    assert result.stderr.startswith("earnest report: experiences table unreadable")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
