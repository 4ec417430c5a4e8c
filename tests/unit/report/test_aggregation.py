"""The report's counting rules (earnest.report.aggregation), event by event, no AWS."""

from __future__ import annotations

import gzip
from datetime import date, timedelta

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from earnest.report import build as report_build
from earnest.report.aggregation import GLOBAL_HOLDOUT, Aggregator, format_ms, revenue_cap, to_ms
from earnest.report.cuped import Covariate
from earnest.report.totals import PROGRAM_ARM, ArmTotals, Attribution
from earnest.report.window import Window, spans
from tests.builders.experiences import experience
from tests.builders.report_events import at, conversion, exposure

DAY = date(2026, 11, 20)
T0 = at(DAY, 10)


def aggregate(records: list[dict], **kwargs: object) -> Aggregator:
    agg = Aggregator({"hero": Attribution(7)}, **kwargs)  # type: ignore[arg-type]
    agg.partition(DAY.isoformat())
    agg.feed(records)
    return agg


def arms(agg: Aggregator) -> dict:
    return agg.totals().experiences["hero"].arms


def test_a_unit_counts_once_in_the_arm_of_its_first_exposure() -> None:
    # Given two exposures of one unit to variant b and one holdout unit
    records = [
        exposure("u1", "hero", "b", "personalized", T0),
        exposure("u1", "hero", "b", "personalized", T0 + timedelta(hours=1)),
        exposure("u2", "hero", None, "holdout", T0),
    ]
    # When aggregated
    result = arms(aggregate(records))
    # Then one unit per arm, every exposure counted
    assert result["b"] == ArmTotals(units=1, exposures=2)
    assert result[None] == ArmTotals(units=1, exposures=1)


def test_duplicated_events_are_dropped_by_event_id() -> None:
    first = exposure("u1", "hero", "b", "personalized", T0, event_id="e1")
    buy = conversion("u1", T0 + timedelta(minutes=5), 30.0, event_id="c1")
    agg = aggregate([first, dict(first), buy, dict(buy)])
    assert arms(agg)["b"] == ArmTotals(1, 1, 1, 30.0, 900.0, 0, 30.0, 900.0)
    assert agg.counters["duplicates_dropped"] == 2


def test_a_duplicate_from_the_day_before_is_still_dropped() -> None:
    agg = Aggregator({"hero": Attribution(7)})
    agg.partition("2026-11-19")
    agg.add(exposure("u1", "hero", "b", "personalized", T0 - timedelta(days=1), event_id="e1"))
    agg.partition("2026-11-20")
    agg.add(exposure("u1", "hero", "b", "personalized", T0 - timedelta(days=1), event_id="e1"))
    assert arms(agg)["b"].exposures == 1


def test_a_conversion_before_the_exposure_does_not_count() -> None:
    records = [
        conversion("u1", T0 - timedelta(minutes=1), 50.0),
        exposure("u1", "hero", "b", "personalized", T0),
    ]
    assert arms(aggregate(records))["b"] == ArmTotals(units=1, exposures=1)


def test_a_conversion_at_the_exposure_instant_and_at_the_window_end_counts() -> None:
    records = [
        exposure("u1", "hero", "b", "personalized", T0),
        conversion("u1", T0, 10.0, event_id="c1"),
        conversion("u1", T0 + timedelta(days=7), 5.0, event_id="c2"),
        conversion("u1", T0 + timedelta(days=7, milliseconds=1), 99.0, event_id="c3"),
    ]
    b = arms(aggregate(records))["b"]
    assert (b.conversions, b.sums["revenue_per_unit"]) == (1, (15.0, 225.0))


def test_conversions_may_arrive_before_the_exposure_that_precedes_them() -> None:
    # The conversion's object was read first; its exposure (earlier event time) later.
    records = [
        conversion("u1", T0 + timedelta(hours=2), 20.0),
        exposure("u1", "hero", "b", "personalized", T0),
    ]
    assert arms(aggregate(records))["b"].conversions == 1


def test_a_named_primary_metric_counts_only_that_conversion() -> None:
    agg = Aggregator({"hero": Attribution.for_metric("signup", 7)})
    agg.feed(
        [
            exposure("u1", "hero", "b", "personalized", T0),
            conversion("u1", T0 + timedelta(hours=1), 40.0, name="purchase"),
            exposure("u2", "hero", "b", "personalized", T0),
            conversion("u2", T0 + timedelta(hours=1), None, name="signup"),
        ]
    )
    b = agg.totals().experiences["hero"].arms["b"]
    assert (b.units, b.conversions, b.total("revenue_per_unit")) == (2, 1, 0.0)


def test_erased_subjects_are_excluded() -> None:
    records = [
        exposure("gone", "hero", "b", "personalized", T0),
        conversion("gone", T0 + timedelta(hours=1), 10.0),
        exposure("kept", "hero", "b", "personalized", T0),
    ]
    agg = aggregate(records, erased={"gone"})
    assert arms(agg)["b"] == ArmTotals(units=1, exposures=1)
    assert agg.counters["erased_dropped"] == 2


def test_a_unit_in_several_arms_stays_in_its_first_and_is_counted_as_such() -> None:
    # Read out of order: the later exposure (to a) comes first in the stream.
    records = [
        exposure("u1", "hero", "a", "personalized", T0 + timedelta(hours=3)),
        exposure("u1", "hero", "b", "personalized", T0),
        conversion("u1", T0 + timedelta(hours=4), 10.0),
    ]
    result = arms(aggregate(records))
    assert result["b"] == ArmTotals(1, 1, 1, 10.0, 100.0, 1, 10.0, 100.0)
    assert result["a"] == ArmTotals(0, 1, revenue_capped=0.0, revenue_capped_sq=0.0)


def test_a_tie_in_time_goes_to_the_holdout() -> None:
    records = [
        exposure("u1", "hero", "b", "personalized", T0, event_id="e1"),
        exposure("u1", "hero", None, "holdout", T0, event_id="e2"),
    ]
    result = arms(aggregate(records))
    assert (result[None].units, result["b"].units) == (1, 0)


def test_coverage_counts_every_exposure_by_reason_and_the_program_splits_units() -> None:
    records = [
        exposure("u1", "hero", "b", "personalized", T0),
        exposure("u2", "hero", None, "holdout", T0),
        exposure("u3", "hero", None, "global_holdout", T0),
        exposure("u4", "hero", None, "no_consent", T0),
        exposure("u5", "other", None, "not_in_audience", T0),
        conversion("u3", T0 + timedelta(hours=1), 12.0),
    ]
    totals = aggregate(records).totals()
    assert totals.coverage == {
        "global_holdout": 1,
        "holdout": 1,
        "no_consent": 1,
        "not_in_audience": 1,
        "personalized": 1,
    }
    assert totals.program[GLOBAL_HOLDOUT] == ArmTotals(1, 1, 1, 12.0, 144.0, 0, 12.0, 144.0)
    assert totals.program[PROGRAM_ARM] == ArmTotals(2, 2, revenue_capped=0.0, revenue_capped_sq=0.0)
    # global-holdout units are not in the experience's arms
    assert sum(a.units for a in totals.experiences["hero"].arms.values()) == 2


def test_malformed_records_are_counted_and_skipped() -> None:
    agg = Aggregator({"hero": Attribution(7)})
    bad_json = b'{"type": "exposure", \n'
    good = orjson.dumps(exposure("u1", "hero", "b", "personalized", T0))
    agg.feed_object(gzip.compress(bad_json + good + b"\n"))
    agg.feed([{"type": "exposure"}, exposure("u2", "hero", None, "personalized", T0), []])
    assert agg.counters["malformed_dropped"] == 4
    assert arms(agg)["b"].units == 1


def test_times_in_other_iso_forms_are_read_the_same() -> None:
    agg = Aggregator({"hero": Attribution(1)})
    shown = exposure("u1", "hero", "b", "personalized", T0)
    agg.add({**shown, "event_time": "2026-11-20T10:00:00Z"})
    agg.add(
        {**conversion("u1", T0), "event_time": "2026-11-20T11:00:00.000+01:00", "event_id": "c"}
    )
    assert arms(agg)["b"].conversions == 1  # 11:00+01:00 is exactly the exposure instant


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=4_102_444_800_000))
def test_times_round_trip(ms: int) -> None:
    assert to_ms(format_ms(ms)) == ms


@settings(max_examples=40, deadline=None)
@given(st.permutations(list(range(8))), st.lists(st.booleans(), min_size=8, max_size=8))
def test_the_totals_do_not_depend_on_the_order_events_are_read(
    order: list[int], duplicated: list[bool]
) -> None:
    base = [
        exposure("u1", "hero", "b", "personalized", T0),
        exposure("u1", "hero", "a", "personalized", T0 + timedelta(hours=1)),
        exposure("u2", "hero", None, "holdout", T0),
        exposure("u3", "hero", "a", "personalized", T0),
        conversion("u1", T0 + timedelta(minutes=10), 10.1),
        conversion("u2", T0 + timedelta(minutes=10), 20.2),
        conversion("u3", T0 - timedelta(minutes=10), 30.3),
        conversion("u3", T0 + timedelta(days=2), 0.7),
    ]
    records = [base[i] for i in order] + [base[i] for i in range(8) if duplicated[i]]
    reference = aggregate(base).totals()
    assert aggregate(records).totals().experiences == reference.experiences
    assert aggregate(records).totals().program == reference.program


@pytest.mark.parametrize("value", [-1.0, float("inf"), float("nan"), "12", True, 1e308])
def test_conversions_with_impossible_values_are_dropped(value: object) -> None:
    agg = aggregate(
        [exposure("u1", "hero", "b", "personalized", T0), {**conversion("u1", T0), "value": value}]
    )
    assert agg.counters["malformed_dropped"] == 1


def test_two_conversions_of_1e308_do_not_stop_the_report() -> None:
    # Given a unit exposed once and two posted conversions of 1e308 (the largest float)
    shown = exposure("u1", "hero", "b", "personalized", T0)
    huge = [
        {**conversion("u1", T0 + timedelta(minutes=m), 1e308), "event_id": f"c{m}"} for m in (1, 2)
    ]
    fair = conversion("u2", T0 + timedelta(minutes=3), 30.0)
    agg = aggregate([shown, exposure("u2", "hero", None, "holdout", T0), *huge, fair])
    # Then both are skipped and counted, and the totals hold the conversion that is usable
    assert agg.counters["malformed_dropped"] == 2
    totals = agg.totals()
    assert arms(agg)[None] == ArmTotals(1, 1, 1, 30.0, 900.0, 0, 30.0, 900.0)
    assert arms(agg)["b"].conversions == 0
    # And the report is built from them
    report = report_build.build(
        Window(DAY), [experience(id="hero")], totals, None, global_holdout=0.05
    )
    assert report["events"]["malformed_dropped"] == 2


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(
        [
            "exposure",
            "conversion",
            "hero",
            "b",
            "personalized",
            "holdout",
            "global_holdout",
            "2026-11-20T10:00:00.000Z",
            "-999999-01-01T00:00:00Z",
        ]
    ),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
_FIELDS = (
    "event_id",
    "type",
    "unit_id",
    "experience",
    "variant",
    "reason",
    "name",
    "value",
    "event_time",
)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.fixed_dictionaries({}, optional={f: _JSON for f in _FIELDS}), max_size=12))
def test_no_stored_record_stops_the_report(records: list[dict]) -> None:
    # Given any records at all beside a good exposure and conversion
    good = [exposure("u1", "hero", "b", "personalized", T0), conversion("u1", T0, 5.0)]
    agg = aggregate([*good, *records])
    # Then the report is built, and every record read is counted once as used or dropped
    totals = agg.totals()
    report_build.build(Window(DAY), [experience(id="hero")], totals, None, global_holdout=0.05)
    c = agg.counters
    assert c["records"] == 2 + len(records)
    used = c["exposures"] + c["conversions"]
    assert (
        used + c["duplicates_dropped"] + c["malformed_dropped"] + c["erased_dropped"]
        == c["records"]
    )


def test_an_experience_counts_only_units_first_exposed_since_its_allocation_started() -> None:
    # Given hero's allocation restarted at noon (a variant paused), the program's lookback
    # covering the whole day, and units exposed before and after it
    window = Window(DAY, 28)
    doc = experience(id="hero", allocation_started_at="2026-11-20T12:00:00.000Z")
    records = [
        exposure("before", "hero", "a", "personalized", at(DAY, 9)),
        exposure("before", "hero", "a", "personalized", at(DAY, 13)),  # seen again after
        exposure("after", "hero", "b", "personalized", at(DAY, 14)),
        conversion("after", at(DAY, 15), 10.0),
    ]
    agg = aggregate(
        records,
        spans=spans(window, [doc]),
        program_span=window.program_span().bounds(),
    )
    totals = agg.totals()
    # Then "before" counts from its first exposure since the start (as a new phase does),
    # "after" with its conversion; the program and coverage see every exposure of the day
    hero = totals.experiences["hero"].arms
    assert hero["a"].units == 1 and hero["a"].exposures == 1
    assert hero["b"].units == 1 and hero["b"].conversions == 1
    assert totals.coverage == {"personalized": 3}
    assert totals.program[PROGRAM_ARM].units == 2


def test_events_stamped_after_the_reported_day_do_not_count_whatever_their_partition() -> None:
    window = Window(DAY, 28)
    records = [
        exposure("u1", "hero", "a", "personalized", at(DAY, 23)),
        conversion("u1", at(DAY + timedelta(days=1), 1), 10.0),  # the next day: not yet
        exposure("u2", "hero", "a", "personalized", at(DAY + timedelta(days=1), 2)),
    ]
    agg = aggregate(records, program_span=window.program_span().bounds())
    assert arms(agg)["a"].units == 1 and arms(agg)["a"].conversions == 0
    assert agg.counters["after_day_dropped"] == 2


def test_revenue_is_capped_at_the_pooled_percentile_of_positive_revenues() -> None:
    # Given ten buyers over two arms spending 1..10, one whale of 1 000, and a non-buyer
    records = [exposure("none", "hero", None, "holdout", T0)]
    for i, value in enumerate([*range(1, 11), 1000]):
        arm = "b" if i % 2 else None
        records.append(exposure(f"u{i}", "hero", arm, "personalized" if arm else "holdout", T0))
        records.append(conversion(f"u{i}", T0 + timedelta(minutes=5), float(value)))
    agg = Aggregator({"hero": Attribution(7, cap_percentile=0.9)})
    agg.partition(DAY.isoformat())
    agg.feed(records)
    totals = agg.totals().experiences["hero"]
    # Then the cap is the 90th percentile (nearest rank: the 10th of 11 values), the whale is
    # capped to it, and the raw sums are kept beside the capped ones
    assert totals.revenue_cap == 10.0
    b = totals.arms["b"]  # 2, 4, 6, 8, 10
    assert (b.total("revenue_per_unit"), b.total("revenue_per_unit_capped")) == (30.0, 30.0)
    holdout = totals.arms[None]  # 1, 3, 5, 7, 9, 1000
    assert holdout.total("revenue_per_unit") == 1025.0
    assert holdout.sums["revenue_per_unit_capped"] == (35.0, 1 + 9 + 25 + 49 + 81 + 100)


def test_conversions_before_first_exposure_are_the_covariate_and_its_days_read_only_them() -> None:
    # Given N = 3 pre-exposure days: a day before the window (its exposure is not analysed)
    # and the window's day, where units are first exposed
    before = DAY - timedelta(days=2)
    agg = Aggregator({"hero": Attribution(7)}, pre_exposure_days=3)
    agg.partition(before.isoformat(), pre_exposure=True)
    agg.feed(
        [
            exposure("early", "hero", "b", "personalized", at(before)),
            conversion("u1", at(before), 40.0),  # 2 days before u1's exposure: the covariate
            conversion("u2", at(before) - timedelta(days=2), 9.0),  # 4 days before: too early
        ]
    )
    agg.partition(DAY.isoformat())
    agg.feed(
        [
            exposure("u1", "hero", "b", "personalized", T0),
            exposure("u2", "hero", "b", "personalized", T0),
            conversion("u1", T0 + timedelta(hours=1), 30.0),
        ]
    )
    b = agg.totals().experiences["hero"].arms["b"]
    # Then the exposure read before the window is not analysed, and u1's conversion before
    # its exposure is its covariate, not an outcome
    assert (b.units, b.conversions, b.total("revenue_per_unit")) == (2, 1, 30.0)
    assert agg.counters["exposures_before_window"] == 1
    assert b.pre_exposure is not None
    assert b.pre_exposure["conversion_rate"] == Covariate(1, 1, 1)  # before, and after too
    # x capped at the cap (30) too
    assert b.pre_exposure["revenue_per_unit_capped"].product == 30.0 * 30.0


def test_a_guardrail_event_counts_units_with_it_within_the_attribution_window() -> None:
    agg = Aggregator({"hero": Attribution(2, guardrail_events=("unsubscribe",))})
    agg.partition(DAY.isoformat())
    agg.feed(
        [
            exposure("u1", "hero", "b", "personalized", T0),
            exposure("u2", "hero", "b", "personalized", T0),
            conversion("u1", T0 + timedelta(hours=1), None, name="unsubscribe"),
            conversion("u1", T0 + timedelta(hours=2), None, name="unsubscribe", event_id="c2"),
            conversion("u2", T0 + timedelta(days=3), None, name="unsubscribe"),  # too late
        ]
    )
    b = agg.totals().experiences["hero"].arms["b"]
    assert b.events == {"unsubscribe": 1}
    assert b.conversions == 1  # the primary metric counts every conversion


def test_the_cap_ignores_zeros_and_survives_a_percentile_that_skipped_validation() -> None:
    assert revenue_cap([0.0, 0.0], 0.99) is None  # nobody spent: nothing to cap at
    assert revenue_cap([0.0, *range(1, 101)], 0.99) == 99  # rank 99 of 100, zeros left out
    assert revenue_cap([1.0, 2.0, 3.0], 5.0) == 3.0
