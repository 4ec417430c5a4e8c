"""The report's two paths agree on hostile input (issue 18, "The report's two paths").

Whoever posts events can send duplicates, conversions for units never exposed (forged
units) whose event_id collides with someone's real order, replayed exposure tokens, absurd
values, and events stamped late or early; a unit's exposures may record other segment
values (or none), and tie as its first exposure. Both paths (the Python path streaming the stored
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
from tests.builders.report_paths import both_totals, comparable, reports_of

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
    "segments": ["context.device", "attributes.stage"],
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
# What an exposure's token recorded: nothing, either path or both, (none) and (other) too.
SEGMENTS = [
    None,
    {"context.device": "mobile"},
    {"context.device": "desktop", "attributes.stage": "cart"},
    {"context.device": "mobile", "attributes.stage": "(other)"},
    {"attributes.stage": "(none)"},
]
exposures = st.builds(
    lambda unit, arm, when, seg, event_id: exposure(unit, *arm, when, event_id, seg),
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
    st.sampled_from(SEGMENTS),
    # the id the time gives, or one of two shared ids: exposures that tie as a unit's first
    st.sampled_from([None, None, "tied-1", "tied-2"]),
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
                segments=original.get("segments"),
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
        totals = both_totals(root, DOCS, WINDOW, ERASED, pre_exposure_days=pre_exposure_days)
    python, sql = reports_of(totals, DOCS, WINDOW, len(ERASED), pre_exposure_days, 0.1)
    assert comparable(python) == comparable(sql)
    assert totals[0].experiences["recs"].segments == totals[1].experiences["recs"].segments


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


def test_segments_count_a_unit_in_its_first_exposures_values_and_bound_them(
    tmp_path: Path,
) -> None:
    # Given units of 13 devices, v0 with 1 unit ... v12 with 13; a unit seen first on a
    # phone then on a laptop; one whose two first exposures tie (tablet and mobile); a buyer
    t = at(DAY, 10)
    records = [
        exposure(f"u-{k}-{n}", "recs", "a", "personalized", t, segments={"context.device": f"v{k}"})
        for k in range(13)
        for n in range(k + 1)
    ]
    device = "context.device"
    records += [
        exposure("mover", "recs", "b", "personalized", t, "m1", {device: "mobile"}),
        exposure(
            "mover", "recs", "b", "personalized", t + timedelta(hours=1), "m2", {device: "pc"}
        ),
        exposure("tied", "recs", None, "holdout", t, "t1", {device: "tablet"}),
        exposure("tied", "recs", None, "holdout", t, "t2", {device: "mobile"}),
        conversion("mover", t + timedelta(hours=2), 40.0),
    ]
    write_requests(
        tmp_path, [received(r, timedelta(0), f"r{i:03d}") for i, r in enumerate(records)]
    )
    # When either path counts them
    python, sql = both_totals(tmp_path, DOCS, WINDOW)
    for totals in (python, sql):
        split = totals.experiences["recs"].segments[device]
        # Then the 12 devices with most units are kept (mobile's 2 before v1's 2, by name)
        # and the rest pooled as (other)
        assert set(split) == {f"v{k}" for k in range(2, 13)} | {"(other)", "mobile"}
        assert split["(other)"]["a"].units == 1 + 2
        assert split["v12"]["a"].units == 13
        # and a unit counts where its first exposure was, ties in the smallest value
        assert split["mobile"]["b"].units == 1 and split["mobile"][None].units == 1
        assert split["mobile"]["b"].total("revenue_per_unit") == 40.0
        assert "pc" not in split and "tablet" not in split
        # the path declared but never recorded is (none) for everyone
        stage = totals.experiences["recs"].segments["attributes.stage"]
        assert list(stage) == ["(none)"]
        assert sum(a.units for a in stage["(none)"].values()) == 91 + 2
    assert python.experiences["recs"].segments == sql.experiences["recs"].segments
