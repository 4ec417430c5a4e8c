"""The Athena query (shared/earnest/report/report_aggregate.sql) gives the Python path's numbers.

DuckDB reads the same gzip NDJSON files, laid out as in S3 (events/dt=…/hour=…/), as a view
named like the Glue table (tests.builders.duckdb_queries); the query runs as Athena would run
it, and its result set, turned into Totals, must equal what earnest.report.aggregation
counts from the same objects.
"""

from __future__ import annotations

import dataclasses
import functools
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from earnest.report import build as report_build
from earnest.report import sql as report_sql
from earnest.report.aggregation import Aggregator, Attribution, Totals
from earnest_aws.report_sources import Queried
from tests.builders.duckdb_queries import DuckDBQueries
from tests.builders.experiences import experience
from tests.builders.report_events import (
    at,
    conversion,
    exposure,
    iso,
    objects,
    simulate,
    write_files,
)

pytest.importorskip("duckdb")

DAY = date(2026, 11, 20)
ALLOCATED = "2026-11-18T00:00:00.000Z"


def docs() -> list[dict[str, Any]]:
    mixed = experience(
        id="mixed",
        placement="pdp",
        audience={},
        holdout=0.3,
        variants=[{"id": "a", "weight": 1, "content": {}}, {"id": "b", "weight": 2, "content": {}}],
    )
    mixed["allocation_started_at"] = ALLOCATED  # re-weighted then: earlier units do not count
    signup = experience(
        id="signup",
        placement="footer",
        audience={},
        holdout=0.5,
        variants=[{"id": "b", "weight": 1, "content": {}}],
    )
    signup["measurement_plan"] = {
        **signup["measurement_plan"],
        "primary_metric": "signup",
        "attribution_window_days": 2,
    }
    return [mixed, signup]


@functools.cache
def records() -> list[dict[str, Any]]:
    rates = {"mixed": {None: 0.10, "a": 0.12, "b": 0.06}, "signup": {None: 0.2, "b": 0.3}}
    out = simulate(docs(), 4000, rates, DAY, global_holdout=0.05, days=5)
    out += out[:300]  # a retried request: the same events again
    t = at(DAY - timedelta(days=1), 9)
    out += [
        # converted before exposure (not counted), and long after the window (not counted)
        exposure("edge-1", "mixed", "a", "personalized", t),
        conversion("edge-1", t - timedelta(hours=1), 10.0, event_id="edge-c1"),
        conversion("edge-1", t + timedelta(days=8), 11.0, event_id="edge-c2"),
        # exposed to two arms (a re-weighting): stays in the first
        exposure("edge-2", "mixed", "b", "personalized", t + timedelta(hours=1)),
        exposure("edge-2", "mixed", None, "holdout", t),
        conversion("edge-2", t + timedelta(hours=2), 7.5),
        # named metric: only `signup` counts, within 2 days
        exposure("edge-3", "signup", "b", "personalized", t),
        conversion("edge-3", t + timedelta(hours=1), 3.0, name="purchase"),
        conversion("edge-3", t + timedelta(days=1), 0.0, name="signup"),
        # an erased subject
        exposure("erased-1", "mixed", "a", "personalized", t),
        conversion("erased-1", t + timedelta(hours=1), 100.0),
        # outside the window's partitions
        exposure("old-1", "mixed", "a", "personalized", at(DAY - timedelta(days=60))),
        # not a tracked experience: coverage only
        exposure("other-1", "retired-exp", None, "not_in_audience", t),
        # stamped on the day, arrived two days late: counts; stamped the day after: does not
        late(exposure("late-1", "signup", "b", "personalized", at(DAY, 23)), days=2),
        late(conversion("late-1", at(DAY, 23, 30), 0.0, name="signup"), days=2),
        exposure("after-1", "signup", "b", "personalized", at(DAY + timedelta(days=1), 1)),
        conversion("edge-3", at(DAY + timedelta(days=1), 2), 0.0, name="signup"),
    ]
    return out


def late(record: dict[str, Any], days: int) -> dict[str, Any]:
    arrival = datetime.fromisoformat(record["event_time"]) + timedelta(days=days)
    return {**record, "receive_time": iso(arrival)}


ERASED = {"erased-1"}
WINDOW = report_build.Window(DAY, 28, late_days=3, early_seconds=300).reading(docs())


@pytest.fixture(scope="module")
def events_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bucket")
    write_files(root, records())
    return root


def python_totals() -> Totals:
    agg = Aggregator(
        report_build.tracked(docs()),
        erased=ERASED,
        spans=report_build.spans(WINDOW, docs()),
        program_span=WINDOW.program_span().bounds(),
    )
    stored = objects(records())
    for day in WINDOW.days():
        agg.partition(day.isoformat())
        for key, data in stored.items():
            if key.startswith(f"events/dt={day.isoformat()}/"):
                agg.feed_object(data)
    return agg.totals()


def sql_totals(root: Path) -> Totals:
    return Queried(DuckDBQueries(root), "earnest_events").totals(WINDOW, docs(), ERASED, 7)


def rounded(totals: Totals) -> Totals:
    """Revenue sums differ only in the last bits of floating-point addition order."""

    def arm(a: Any) -> Any:
        return dataclasses.replace(
            a, revenue=round(a.revenue, 6), revenue_sq=round(a.revenue_sq, 4)
        )

    return Totals(
        {
            name: dataclasses.replace(e, arms={k: arm(v) for k, v in e.arms.items()})
            for name, e in totals.experiences.items()
        },
        totals.coverage,
        {k: arm(v) for k, v in totals.program.items()},
        {},
    )


def test_the_sql_gives_the_same_per_arm_numbers_as_the_python_path(events_root: Path) -> None:
    py, sql = rounded(python_totals()), rounded(sql_totals(events_root))
    assert sql.experiences == py.experiences
    assert sql.program == py.program
    assert sql.coverage == py.coverage


def test_the_edge_cases_are_counted_as_documented(events_root: Path) -> None:
    sql = sql_totals(events_root)
    mixed = sql.experiences["mixed"].arms
    assert sum(a.units_in_several_arms for a in mixed.values()) == 1
    assert mixed[None].units_in_several_arms == 1  # edge-2, first in the holdout
    assert "not_in_audience" in sql.coverage  # an untracked experience still counts there
    # the allocation's start: only units first exposed since (simulated over 5 days) count
    assert sum(a.units for a in mixed.values()) < 4000 * 3 / 5 + 10
    signup = sql.experiences["signup"].arms["b"]
    py = python_totals().experiences["signup"].arms["b"]
    assert signup == py  # late-1 counted (and converted), after-1 not, on both paths


def test_both_paths_give_the_same_report(events_root: Path) -> None:
    def report(totals: Totals) -> dict[str, Any]:
        built = report_build.build(WINDOW, docs(), totals, None, global_holdout=0.05)
        return {
            e["id"]: [(v["variant"], v["verdict"]) for v in e["variants"]]
            for e in built["experiences"]
        }

    assert report(sql_totals(events_root)) == report(python_totals())


def test_render_refuses_what_is_not_a_table_or_a_date() -> None:
    tracked = {"x": Attribution(7)}
    with pytest.raises(ValueError):
        report_sql.render("2026-11-01", "2026-11-20", tracked, events_table="t; DROP TABLE x")
    with pytest.raises(ValueError):
        report_sql.render("2026-11-01' OR '1'='1", "2026-11-20", tracked)
    quoted = report_sql.render("2026-11-01", "2026-11-20", {"o'brien": Attribution(7)}, ["a'b"])
    assert "'o''brien'" in quoted and "'a''b'" in quoted
    # each list once: the query's size (Athena takes 262,144 bytes) grows by one copy
    assert quoted.count("'a''b'") == 1 and quoted.count("'o''brien'") == 1
