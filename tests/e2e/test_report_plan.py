"""`earnest plan ID` against the local stack: days to a verdict at the experience's traffic."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from tests.builders.experiences import experience
from tests.builders.report_events import EVENTS_BUCKET, put_s3, s3_client, simulate
from tests.builders.stack import Stack, earnest


def push(stack: Stack, tmp_path: Path, **changes: object) -> dict:
    doc = experience(
        audience={},
        holdout=0.5,
        variants=[{"id": "b", "weight": 1, "content": {"headline": "b"}}],
        **changes,
    )
    source = tmp_path / f"{doc['id']}.yaml"
    source.write_text(yaml.safe_dump(doc))
    pushed = earnest("push", str(source), env=stack.env)
    assert pushed.returncode == 0, pushed.stderr
    return doc


@pytest.mark.slow
@pytest.mark.clock
def test_plan_reads_traffic_and_base_rate_from_yesterdays_events(
    stack: Stack, tmp_path: Path
) -> None:
    # Given a live experience and yesterday's events: 6 000 units, the holdout at 8 %
    doc = push(stack, tmp_path, id="plan-hero", placement="plan-slot")
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    rates = {"plan-hero": {None: 0.08, "b": 0.08}}
    put_s3(s3_client(stack), EVENTS_BUCKET, simulate([doc], 6000, rates, yesterday, prefix="plan"))
    # When its owner asks how long a verdict takes
    result = earnest("plan", "plan-hero", "--days", "1", "--json", env=stack.env)
    # Then the forecast uses that traffic and rate
    assert result.returncode == 0, result.stderr
    said = json.loads(result.stdout)
    assert said["daily_units"] == 6000
    assert said["base_rate"] == pytest.approx(0.08, abs=0.015)
    assert said["days_to_min_units"] == 1  # 1 000 units per arm at 3 000 a day
    assert said["days_to_detect"] is None or said["days_to_detect"] > 30
    assert said["within_review"] is False


def test_plan_says_plainly_when_an_audience_is_too_small(stack: Stack, tmp_path: Path) -> None:
    # Given a draft (no events of its own) and a figure for its traffic
    push(stack, tmp_path, id="plan-draft", placement="plan-draft-slot", status="draft")
    result = earnest(
        "plan", "plan-draft", "--daily-units", "200", "--base-rate", "0.05", env=stack.env
    )
    assert result.returncode == 0, result.stderr
    assert "200 units a day" in result.stdout
    assert "not worth personalizing" in result.stdout
    # And without a figure it asks for one, naming the flag
    missing = earnest("plan", "plan-draft", env=stack.env)
    assert missing.returncode == 2 and "--daily-units" in missing.stderr


def test_plan_of_an_unknown_experience_is_refused(stack: Stack) -> None:
    result = earnest("plan", "no-such-experience", env=stack.env)
    assert result.returncode == 2 and "no-such-experience" in result.stderr


def test_validate_warns_when_a_verdict_takes_longer_than_the_review_cadence(
    tmp_path: Path,
) -> None:
    # Given a plan hoping for +5 % reviewed every 30 days
    doc = experience(id="small-audience", placement="small-slot")
    source = tmp_path / "small.yaml"
    source.write_text(yaml.safe_dump(doc))
    # When it is validated for 200 units a day at a 5 % base rate
    small = earnest("validate", str(source), "--daily-units", "200", "--base-rate", "0.05")
    # Then it passes, with a warning that says why it is not worth it
    assert small.returncode == 0, small.stderr
    assert "warning: small-audience: finding its plan's +5% takes" in small.stderr
    assert "longer than its review cadence (30 days)" in small.stderr
    # and at a million units a day there is nothing to warn about
    large = earnest("validate", str(source), "--daily-units", "1000000", "--base-rate", "0.05")
    assert large.returncode == 0 and "warning: small-audience: finding" not in large.stderr
    # and without a figure it says it cannot estimate, and assumes no base rate silently
    unknown = earnest("validate", str(source))
    assert unknown.returncode == 0
    assert "note: small-audience: days to a verdict not estimated" in unknown.stderr
    assumed = earnest("validate", str(source), "--daily-units", "200")
    assert "base rate of 5.00% (assumed; give --base-rate)" in assumed.stderr


@pytest.mark.slow
@pytest.mark.clock
def test_push_warns_from_the_experiences_own_recent_traffic(stack: Stack, tmp_path: Path) -> None:
    # Given a live experience with yesterday's events: 2 000 units, no effect, 8 %
    doc = push(stack, tmp_path, id="push-hero", placement="push-slot")
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    rates = {"push-hero": {None: 0.08, "b": 0.08}}
    put_s3(s3_client(stack), EVENTS_BUCKET, simulate([doc], 2000, rates, yesterday, prefix="ph"))
    # When its owner pushes a new version
    source = tmp_path / "push-hero.yaml"
    source.write_text(yaml.safe_dump({**doc, "priority": 3}))
    result = earnest("push", str(source), env=stack.env)
    # Then it is pushed, with the warning computed from its last week of events
    assert result.returncode == 0, result.stderr
    assert "warning: push-hero: finding its plan's +5% takes" in result.stderr
    assert "at 286 units a day and a base rate of " in result.stderr  # 2 000 over 7 days
    assert "(assumed" not in result.stderr  # its holdout's own rate
