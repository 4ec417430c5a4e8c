"""The report's two paths agree on hostile input (issue 18, "The report's two paths").

Whoever posts events can send duplicates, conversions for units never exposed (forged
units) whose event_id collides with someone's real order, replayed exposure tokens, absurd
values, and events stamped late or early. Both paths (the Python path streaming the stored
objects, the SQL on DuckDB over the same files) must give the same report.json, its
`events` counters aside (only the Python path counts records, duplicates and skips).
"""

from __future__ import annotations

import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from earnest.report.window import Window
from tests.builders.experiences import one_variant, two_variants
from tests.builders.report_events import at, conversion, exposure, iso, write_requests
from tests.builders.report_paths import both_reports, both_totals, comparable

pytest.importorskip("duckdb")

DAY = date(2026, 11, 20)
LATE_DAYS, EARLY_SECONDS = 2, 300
HERO = one_variant("hero", "home-hero")
HERO["measurement_plan"] = {
    **HERO["measurement_plan"],
    "guardrail_metrics": ["unsubscribe"],
}
RECS = two_variants("recs", "pdp-recs", allocation_started_at="2026-11-18T06:00:00.000Z")
RECS["measurement_plan"] = {
    **RECS["measurement_plan"],
    "primary_metric": "revenue",
    "revenue_cap_percentile": 0.9,
    "attribution_window_days": 2,
}
DOCS = [HERO, RECS]
WINDOW = Window(DAY, 3, LATE_DAYS, EARLY_SECONDS).reading(DOCS)
UNITS = [f"u-{i}" for i in range(8)]
ERASED = frozenset({"u-7"})


def received(record: dict[str, Any], after: timedelta, request: str) -> dict[str, Any]:
    """`record` as stored when it arrived `after` its event time, in request `request`."""
    when = datetime.fromisoformat(record["event_time"]) + after
    return {**record, "receive_time": iso(when), "request_id": request}


# Event times from two days before the window's start to the day after the report's.
moments = st.builds(
    lambda day, minute: at(DAY - timedelta(days=day), 0) + timedelta(minutes=minute),
    st.integers(-1, 4),
    st.integers(0, 24 * 60 - 1),
)
# How long after its event time a record arrived: early (stamped ahead of its arrival, as
# far as /events allows), on time, or late (up to the days the report waits for).
delays = st.one_of(
    st.integers(-EARLY_SECONDS, 0).map(lambda s: timedelta(seconds=s)),
    st.integers(1, LATE_DAYS * 86_400).map(lambda s: timedelta(seconds=s)),
)
exposures = st.builds(
    lambda unit, arm, when: exposure(unit, *arm, when),
    st.sampled_from(UNITS),
    st.sampled_from(
        [
            ("hero", "b", "personalized"),
            ("hero", None, "holdout"),
            ("recs", "a", "personalized"),
            ("recs", "b", "personalized"),
            ("recs", None, "holdout"),
            ("recs", "gone", "personalized"),  # a variant since removed
            ("hero", None, "global_holdout"),
            ("recs", None, "no_consent"),
            ("other", None, "not_in_audience"),  # not a tracked experience
            ("hero", None, "personalized"),  # malformed: personalized without a variant
        ]
    ).map(lambda arm: (arm[0], arm[1], arm[2])),
    moments,
)
conversions = st.builds(
    lambda unit, when, value, name, order: conversion(unit, when, value, name, order),
    # forged units: never exposed, posting orders with ids that collide with real ones
    st.sampled_from([*UNITS, "forged-1", "forged-2"]),
    moments,
    st.sampled_from([None, 0.0, 10.0, 25.0, 80.0, 1e12, -5.0]),  # absurd and negative too
    st.sampled_from(["purchase", "purchase", "unsubscribe"]),
    st.sampled_from([f"order-{n}" for n in range(1000, 1006)]),
)


@st.composite
def streams(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Events as stored: each its own request, then duplicates and replays of some."""
    events = draw(st.lists(st.one_of(exposures, conversions), min_size=1, max_size=40))
    stored = [received(e, draw(delays), f"r{i:03d}") for i, e in enumerate(events)]
    for i, original in enumerate(draw(st.lists(st.sampled_from(stored), max_size=10))):
        again = timedelta(seconds=draw(st.integers(1, 4 * 86_400)))
        arrived = datetime.fromisoformat(original["receive_time"]) + again
        # sent again with an Idempotency-Key (an object named by it), or without one
        request = draw(st.sampled_from([f"d{i:03d}", f"idem-{i:03d}"]))
        if draw(st.booleans()) or original["type"] == "conversion":
            # the same event again (a retried request, a replayed order id), or, for an
            # exposure, one with the same id stamped otherwise (a forged copy)
            moved = draw(st.sampled_from([timedelta(0), timedelta(0), -again]))
            event_time = datetime.fromisoformat(original["event_time"]) + moved
            copy = {**original, "event_time": iso(event_time)}
            stored.append({**copy, "receive_time": iso(arrived), "request_id": request})
        else:
            # a replayed exposure token: the same exposure as a new event, stamped later
            event_time = datetime.fromisoformat(original["event_time"]) + again
            replay = exposure(
                original["unit_id"],
                original["experience"],
                original["variant"],
                original["reason"],
                event_time,
                event_id=f"{original['event_id']}-replay{i}",
            )
            stored.append({**replay, "receive_time": iso(arrived), "request_id": request})
    return stored


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(), st.sampled_from([0, 1]))
def test_both_paths_give_the_same_report_on_hostile_events(
    records: list[dict[str, Any]], pre_exposure_days: int
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_requests(root, records)
        python, sql = both_reports(
            root, DOCS, WINDOW, ERASED, pre_exposure_days=pre_exposure_days, global_holdout=0.1
        )
    assert comparable(python) == comparable(sql)


def test_a_forged_units_order_id_does_not_remove_anothers_conversion(tmp_path: Path) -> None:
    # Given a real conversion of an exposed unit (80.0, order-1001), and, posted an hour
    # before it, a conversion with the same event_id for a unit never exposed
    t = at(DAY, 10)
    write_requests(
        tmp_path,
        [
            received(exposure("buyer", "hero", "b", "personalized", t), timedelta(0), "r1"),
            received(conversion("nobody", t, 1.0, event_id="order-1001"), timedelta(0), "r2"),
            received(
                conversion("buyer", t + timedelta(hours=1), 80.0, event_id="order-1001"),
                timedelta(0),
                "r3",
            ),
        ],
    )
    # When either path counts them
    python, sql = both_totals(tmp_path, DOCS, WINDOW)
    # Then the buyer's conversion counts on both: 1 conversion, revenue 80
    for totals in (python, sql):
        b = totals.experiences["hero"].arms["b"]
        assert (b.conversions, b.total("revenue_per_unit")) == (1, 80.0)
