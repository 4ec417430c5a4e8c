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
from earnest.report.aggregation import Aggregator
from earnest.report.cuped import Covariate
from earnest.report.plan import tracked
from earnest.report.sources import Queried
from earnest.report.totals import Attribution, Totals
from earnest.report.window import Window, days_before, spans
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
    mixed["measurement_plan"] = {
        **mixed["measurement_plan"],
        "primary_metric": "revenue",
        "revenue_cap_percentile": 0.9,
    }
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
        "guardrail_metrics": ["unsubscribe", {"name": "complaint", "direction": "lower_is_better"}],
    }
    return [mixed, signup]


@functools.cache
def records() -> list[dict[str, Any]]:
    rates = {"mixed": {None: 0.10, "a": 0.12, "b": 0.06}, "signup": {None: 0.2, "b": 0.3}}
    out = simulate(docs(), 4000, rates, DAY, global_holdout=0.05, days=5)
    for i in range(0, 4000, 3):  # spread baskets, conversions before exposure, named events
        unit, when = f"u-{i:06d}", at(DAY - timedelta(days=i % 5), 8 + (i % 12), i % 60)
        out.append(conversion(unit, when - timedelta(days=1 + i % 3), 1.0 + (i * 37 % 101) ** 2))
        if i % 2:
            out.append(conversion(unit, when + timedelta(hours=2), 2.0 * i, name="unsubscribe"))
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
WINDOW = Window(DAY, 28, late_days=3, early_seconds=300).reading(docs())
# A window that starts inside the data, with two days before it read for CUPED's covariate.
SHORT = Window(DAY, 3, late_days=3, early_seconds=300).reading(docs())
PRE_DAYS = 2


@pytest.fixture(scope="module")
def events_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bucket")
    write_files(root, records())
    return root


def python_totals(window: Window = WINDOW, pre_days: int = 0) -> Totals:
    agg = Aggregator(
        tracked(docs()),
        erased=ERASED,
        spans=spans(window, docs()),
        program_span=window.program_span().bounds(),
        pre_exposure_days=pre_days,
    )
    stored = objects(records())
    before = days_before(window.start, pre_days)
    for day in [*before, *window.days()]:
        agg.partition(day.isoformat(), pre_exposure=day < window.start)
        for key, data in stored.items():
            if key.startswith(f"events/dt={day.isoformat()}/"):
                agg.feed_object(data)
    return agg.totals()


def sql_totals(root: Path, window: Window = WINDOW, pre_days: int = 0) -> Totals:
    source = Queried(DuckDBQueries(root), "earnest_events")
    return source.totals(window, docs(), ERASED, 7, pre_days)


def rounded(totals: Totals) -> Totals:
    """Revenue sums differ only in the last bits of floating-point addition order."""

    def near(value: Any) -> Any:
        return value if value is None else float(f"{value:.9g}")

    def arm(a: Any) -> Any:
        pre = a.pre_exposure and {
            m: Covariate(near(c.total), near(c.total_sq), near(c.product))
            for m, c in a.pre_exposure.items()
        }
        sums = {m: (near(total), near(total_sq)) for m, (total, total_sq) in a.sums.items()}
        return dataclasses.replace(a, sums=sums, pre_exposure=pre)

    return Totals(
        {
            name: dataclasses.replace(
                e, arms={k: arm(v) for k, v in e.arms.items()}, revenue_cap=near(e.revenue_cap)
            )
            for name, e in totals.experiences.items()
        },
        totals.coverage,
        {k: arm(v) for k, v in totals.program.items()},
        {},
        near(totals.program_revenue_cap),
    )


@pytest.mark.parametrize(("window", "pre_days"), [(WINDOW, 0), (SHORT, PRE_DAYS)])
def test_the_sql_gives_the_same_per_arm_numbers_as_the_python_path(
    events_root: Path, window: Window, pre_days: int
) -> None:
    py = rounded(python_totals(window, pre_days))
    sql = rounded(sql_totals(events_root, window, pre_days))
    assert sql.experiences == py.experiences
    assert sql.program == py.program
    assert sql.coverage == py.coverage


def test_both_paths_cap_revenue_read_the_covariate_and_count_named_events(
    events_root: Path,
) -> None:
    sql = sql_totals(events_root, SHORT, PRE_DAYS)
    mixed, signup = sql.experiences["mixed"], sql.experiences["signup"]
    holdout = mixed.arms[None]
    # Revenue is capped at the plan's 90th percentile: the capped sum is below the raw one
    assert mixed.revenue_cap is not None
    assert holdout.total("revenue_per_unit_capped") < holdout.total("revenue_per_unit")
    # The units' conversions in the two days before their first exposure were read
    assert holdout.pre_exposure is not None
    assert holdout.pre_exposure["conversion_rate"].total > 0
    # And the guardrail's named event is counted per arm (complaints: nobody had one)
    assert signup.arms["b"].events["unsubscribe"] > 0
    assert "complaint" not in signup.arms["b"].events


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
        built = report_build.build(SHORT, docs(), totals, None, global_holdout=0.05)
        return {
            e["id"]: [(v["variant"], v["verdict"]) for v in e["variants"]]
            for e in built["experiences"]
        }

    sql, python = sql_totals(events_root, SHORT, PRE_DAYS), python_totals(SHORT, PRE_DAYS)
    assert report(sql) == report(python)


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
