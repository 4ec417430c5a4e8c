"""The nightly report written through the SQL path is the Python path's report.

Given experiences in DynamoDB (one variant losing to its default), an erased subject and a
window of events in S3 (a retried request stored twice), the nightly run aggregates once
in this function (REPORT_AGGREGATION=python) and once as the report's SQL, run through the
same `QueryRunner` interface Athena is run through, on DuckDB over the same stored files
(moto's Athena runs no SQL). The two report.json files it writes must say the same: per-arm
numbers, verdicts, program, coverage, guardrail actions. Only `events` differs: the SQL
path counts exposures alone, not records, duplicates and skips.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from earnest.report.sources import Queried, Streamed
from earnest_aws.clients import client
from earnest_aws.experiences_store import ExperiencesStore
from earnest_aws.nightly_report import ReportOptions, run, stores_from_settings
from tests.builders.duckdb_queries import DuckDBQueries
from tests.builders.experiences import allocated, one_variant, two_variants
from tests.builders.report_events import download, put_s3, simulate

pytest.importorskip("duckdb")

DAY = date(2026, 11, 20)
PUSHED = "2026-11-01T09:00:00.000Z"  # the allocation's start, before every event here
HERO = one_variant("hero", "home")
RECS = two_variants("recs", "pdp")
RATES = {"hero": {None: 0.08, "b": 0.12}, "recs": {None: 0.10, "a": 0.10, "b": 0.04}}


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two reports differ; sums of floats may differ in their last bits only."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{path}: keys {sorted(a)} != {sorted(b)}"]
        return [d for k in a for d in differences(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items != {len(b)}"]
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in differences(x, y, f"{path}[{i}]")
        ]
    if isinstance(a, float) and isinstance(b, float | int):
        return [] if math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) else [f"{path}: {a} != {b}"]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


@pytest.fixture
def stored(aws: Any) -> Any:
    settings = dataclasses.replace(aws, global_holdout=0.05)
    store = ExperiencesStore(settings.experiences_table)
    for doc in (HERO, RECS):
        store.save(doc, None, actor="alice", action="create", ops=allocated(doc, PUSHED))
    records = simulate([HERO, RECS], 12_000, RATES, DAY, days=3, global_holdout=0.05)
    s3 = client("s3")
    put_s3(s3, settings.events_bucket, records)
    put_s3(s3, settings.events_bucket, records[:400], tag="retry")  # a retried request
    erased = next(r["unit_id"] for r in records if r["reason"] == "personalized")
    client("dynamodb").put_item(
        TableName=settings.consent_table,
        Item={
            "subject_id": {"S": erased},
            "record": {"S": "state"},
            "erased_at": {"S": "2026-11-20T12:00:00.000Z"},
            "erased_marker": {"S": "1"},
        },
    )
    return settings


def verdicts(report: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {
        (e["id"], v["variant"]): v["verdict"] for e in report["experiences"] for v in e["variants"]
    }


def written_report(settings: Any) -> dict[str, Any]:
    body = client("s3").get_object(
        Bucket=settings.events_bucket, Key="reports/dt=2026-11-20/report.json"
    )["Body"]
    report: dict[str, Any] = orjson.loads(body.read())
    return report


def test_the_report_written_through_the_sql_path_is_the_python_paths(
    stored: Any, tmp_path: Path
) -> None:
    # When the nightly run aggregates in this function, and writes its report
    options = ReportOptions(apply_guardrails=False)
    python_stores = stores_from_settings(stored, options)
    assert isinstance(python_stores.source, Streamed)
    run(DAY, stored, options, stores=python_stores)
    python = written_report(stored)
    # and then runs the same aggregation as SQL over the same stored files
    assert download(client("s3"), stored.events_bucket, tmp_path) > 10
    sql_stores = dataclasses.replace(
        python_stores, source=Queried(DuckDBQueries(tmp_path), "earnest_events")
    )
    run(DAY, stored, dataclasses.replace(options, aggregation="athena"), stores=sql_stores)
    sql = written_report(stored)
    # Then the two reports say the same, number for number
    assert verdicts(python)[("hero", "b")] == "beats_default"  # the true effects
    assert verdicts(python)[("recs", "b")] == "loses_to_default"
    assert verdicts(sql) == verdicts(python)
    assert (
        differences(
            {k: v for k, v in sql.items() if k != "events"},
            {k: v for k, v in python.items() if k != "events"},
        )
        == []
    )
    # and the guardrail the Python path would take, the SQL path takes too
    assert [(g["experience"], g["action"], g["variant"]) for g in sql["guardrails"]] == [
        ("recs", "pause_variant", "b")
    ]
    assert sql["events"]["exposures"] == python["events"]["exposures"]
    # (the retried copies of the erased subject's events are dropped as erased, not duplicates)
    assert python["events"]["duplicates_dropped"] >= 390 and python["events"]["erased_dropped"] >= 2


def test_the_sql_path_acts_on_its_guardrails_as_the_python_path_does(
    stored: Any, tmp_path: Path
) -> None:
    download(client("s3"), stored.events_bucket, tmp_path)
    options = ReportOptions(aggregation="athena")
    stores = dataclasses.replace(
        stores_from_settings(stored),
        source=Queried(DuckDBQueries(tmp_path), "earnest_events"),
    )
    result = run(DAY, stored, options, stores=stores)
    assert [a["experience"] for a in result.applied] == ["recs"]
    current = ExperiencesStore(stored.experiences_table).get("recs")
    assert current is not None
    b = next(v for v in current.effective["variants"] if v["id"] == "b")
    assert b["paused"] is True
    # and a re-run through the same path finds it done: nothing written twice
    again = run(DAY, stored, options, stores=stores)
    assert again.applied == [] and again.files == result.files
