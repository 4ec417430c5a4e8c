"""A segmented bandit's nightly re-weighting and report (earnest.report.bandit with
`allocation.segments`): each segment value gets its own weights once every variant has
enough units in it, its epochs are kept per value, and the report shows each value's
weights, while the experience's one lift by segment (earnest.report.segment_lift) reads
each value's lift against that value's holdout across its epochs.

The per-segment totals (`ExperienceTotals.segments`: path -> value -> arm -> totals) are
built by hand here, as the aggregation hands them over."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import orjson
import pytest
from scipy.stats import false_discovery_control

from earnest.decide import slices
from earnest.experiences import actions, lifecycle, weights
from earnest.report import bandit, build, epochs
from earnest.report.lifts import judged
from earnest.report.plan import Plan
from earnest.report.segment_lift import segment_section
from earnest.report.totals import ArmKey, ArmTotals, ExperienceTotals, Totals
from earnest.report.window import Window
from tests.builders.bandit_simulation import (
    OWN_BEST,
    SEGMENT,
    SEGMENTED,
    Bandit,
    authored,
    run,
    segment_share,
)

DAY = date(2026, 11, 20)
AT = "2026-11-20T23:59:59.999Z"
Arms = dict[ArmKey, ArmTotals]


def _arms(holdout: tuple[int, int], a: tuple[int, int], b: tuple[int, int]) -> Arms:
    return {k: ArmTotals(n, n, x) for k, (n, x) in {None: holdout, "a": a, "b": b}.items()}


# a helps mobile, b helps desktop; tablet has too few units to learn from
BY_VALUE = {
    "mobile": _arms((300, 15), (900, 90), (900, 45)),
    "desktop": _arms((300, 15), (900, 45), (900, 90)),
    "tablet": _arms((20, 1), (50, 3), (50, 2)),
}


def _overall(by_value: dict[str, Arms]) -> Arms:
    out: Arms = {}
    for arms in by_value.values():
        for k, t in arms.items():
            n, x = (out[k].units, out[k].conversions) if k in out else (0, 0)
            out[k] = ArmTotals(n + t.units, n + t.units, x + t.conversions)
    return out


def _authored(**allocation: Any) -> dict[str, Any]:
    doc = authored(Bandit({None: 0.05, "a": 0.05, "b": 0.05}, segments={"mobile": {}}))
    doc["allocation"] = {**doc["allocation"], **allocation}
    return doc


def _served(ops: dict[str, Any] | None = None) -> dict[str, Any]:
    doc = _authored()
    return lifecycle.effective(
        doc, ops or lifecycle.with_allocation(doc, {}, "2026-11-17T00:00:00.000Z")
    )


def _first_reweighting() -> dict[str, Any]:
    """The operational state after the night (DAY) that gave mobile and desktop their own
    weights, recorded as the nightly run records it."""
    start = lifecycle.with_allocation(_authored(), {}, "2026-11-17T00:00:00.000Z")
    served = lifecycle.effective(_authored(), start)
    action = _tonight(DAY, served, BY_VALUE)
    assert action is not None
    return lifecycle.with_allocation(_authored(), actions.record(start, served, [action], AT), AT)


def _tonight(day: date, served: dict[str, Any], by_value: dict[str, Arms]) -> actions.Action | None:
    return bandit.reweight(day, served, _overall(by_value), set(), {SEGMENT: by_value})


def test_a_value_gets_its_own_weights_once_every_variant_has_enough_units_in_it() -> None:
    action = _tonight(DAY, _served(), BY_VALUE)
    assert action is not None
    own = action.evidence["segments"]
    assert set(own) == {"mobile", "desktop"}  # tablet: 50 units a variant, under 100
    assert own["mobile"]["weights"]["a"] > 0.9 and own["desktop"]["weights"]["b"] > 0.9
    assert own["mobile"]["weights_before"] == {"a": 0.5, "b": 0.5}  # the overall it had
    assert set(action.evidence["segment_arms"]) == {"mobile", "desktop", "tablet"}
    # what `earnest history` shows, value by value
    assert "weights mobile: a 0.50 → 0.9" in action.reason
    assert "weights desktop: a 0.50 → 0.0" in action.reason


def test_without_segment_data_only_the_overall_weights_move() -> None:
    served, overall = _served(), _overall(BY_VALUE)
    without = bandit.reweight(DAY, served, overall, set(), {})
    assert without == bandit.reweight(DAY, served, overall, set())
    assert without is not None and "segments" not in without.evidence
    assert bandit.reweight(DAY, served, overall, set(), {SEGMENT: {}}) == without


def test_the_epochs_keep_each_values_numbers_and_a_later_night_counts_them() -> None:
    # Given the night that gave mobile and desktop their own weights, recorded
    ops = _first_reweighting()
    state = ops["bandit"]
    assert set(state["segments"]) == {"mobile", "desktop"}
    assert state["epochs"][-1]["segments"]["tablet"]["arms"]["a"] == [50, 3, 3]
    assert lifecycle.allocation_start(ops) == AT  # a new epoch for every value at once
    # When tablet's next 60 units a variant arrive (110 with its earlier epoch's)
    later = _served(ops)
    assert slices.segment_states(later).keys() == {"desktop", "mobile"}
    tablet = {"tablet": _arms((20, 1), (60, 9), (60, 1))}
    action = _tonight(DAY + timedelta(days=1), later, tablet)
    # Then tablet gets weights of its own, counted over both epochs
    assert action is not None and set(action.evidence["segments"]) == {"tablet"}
    assert action.evidence["segments"]["tablet"]["units"] == {"a": 110, "b": 110}
    # and list / explain and the audit trail say so per value
    described = slices.describe(later)
    assert described is not None and "; mobile: a 0.9" in described
    assert "weights mobile: a 0.50 → 0.9" in weights.change(None, ops["bandit"])


def test_srm_checks_each_values_split_against_the_weights_it_serves() -> None:
    # Given the night after mobile and desktop got their own weights
    later = _served(_first_reweighting())
    own = {v: s["weights"] for v, s in later["bandit_segments"].items()}
    # When each value's units match its own weights (so the pooled split matches none)
    by_value = {
        value: _arms(
            (200, 10), *((n, n // 20) for n in (round(1800 * w["a"]), round(1800 * w["b"])))
        )
        for value, w in own.items()
    }
    totals = Totals(
        {"bandit-sim": ExperienceTotals(_overall(by_value), {}, None, {SEGMENT: by_value})},
        {},
        {},
        {},
    )
    report = build.assemble(
        Window(DAY + timedelta(days=1)), [later], totals, None, global_holdout=0.0
    )
    (section,) = report.report["experiences"]
    # Then the check passes, value by value, beside the holdout's own split
    assert not section["srm"]["flagged"]
    assert [t["test"] for t in section["srm"]["tests"]] == [
        "holdout_split",
        "variant_split desktop",
        "variant_split mobile",
    ]
    # and a value served off its weights is flagged
    by_value["mobile"] = _arms((200, 10), (900, 45), (900, 45))
    totals = Totals(
        {"bandit-sim": ExperienceTotals(_overall(by_value), {}, None, {SEGMENT: by_value})},
        {},
        {},
        {},
    )
    report = build.assemble(
        Window(DAY + timedelta(days=1)), [later], totals, None, global_holdout=0.0
    )
    assert report.report["experiences"][0]["srm"]["flagged"]


TONIGHT = {
    "mobile": _arms((400, 20), (2000, 200), (100, 5)),
    "desktop": _arms((400, 20), (100, 5), (2000, 130)),
    "tablet": _arms((40, 2), (100, 5), (100, 6)),
}


def test_the_report_shows_each_values_weights_and_its_lift_across_epochs_once() -> None:
    # Given a segmented bandit that has re-weighted once, and tonight's numbers per value
    later = _served(_first_reweighting())
    exp = ExperienceTotals(_overall(TONIGHT), {}, None, {SEGMENT: TONIGHT})
    section = bandit.segments_section(later, {SEGMENT: TONIGHT})
    assert section is not None and section["path"] == SEGMENT
    rows = {r["value"]: r for r in section["values"]}
    assert rows["mobile"]["own_weights"] and not rows["tablet"]["own_weights"]
    assert rows["mobile"]["weights"] == later["bandit_segments"]["mobile"]["weights"]
    assert rows["mobile"]["units"] == {"a": 2900, "b": 1000, "holdout": 700}  # both epochs
    assert all(set(r) == {"value", "own_weights", "weights", "units"} for r in rows.values())
    # When the experience's segments section reads each value's lift
    by_segment = segment_section(later, exp, Plan.of(later))
    assert by_segment is not None
    tests = {(t["value"], t["variant"]): t for t in by_segment["tests"]}
    # Then it is the epoch estimator's against that value's holdout, over both epochs
    mobile_epochs = [
        later["bandit_epochs"][0]["segments"]["mobile"]["arms"],
        bandit.epoch_arms(TONIGHT["mobile"], "conversion_rate"),
    ]
    expected = epochs.stratified(mobile_epochs, "a", "conversion_rate")
    assert expected is not None
    mobile_a = tests[("mobile", "a")]
    assert mobile_a["across_epochs"] and mobile_a["relative"] == pytest.approx(expected.relative)
    assert mobile_a["units"] == {"holdout": 700, "variant": 2900}
    assert mobile_a["p_value"] == pytest.approx(expected.sequential_ratio_p_value)
    assert mobile_a["relative"] > 0.5 and mobile_a["effect"] == "helps"  # 10 % against 5 %
    assert tests[("tablet", "a")]["effect"] == "needs_more_data"
    # counting the earlier epoch's units too, not tonight's alone (only tonight's epoch)
    tonight = epochs.stratified(mobile_epochs[1:], "a", "conversion_rate")
    assert tonight is not None and mobile_a["p_value"] < tonight.sequential_ratio_p_value / 10
    # and the p-values are adjusted once across every value and variant, as scipy does
    raw = [t["p_value"] for t in by_segment["tests"]]
    assert len(raw) == 6 and len(set(raw)) == 3  # 1.0: no effect, or too few units
    assert [t["p_value_bh"] for t in by_segment["tests"]] == pytest.approx(
        list(false_discovery_control(raw, method="bh")), rel=1e-12
    )


def test_a_plans_own_path_on_a_bandit_reads_the_current_allocation_in_the_same_family() -> None:
    # Given the segmented bandit whose plan also records context.country
    later = _served(_first_reweighting())
    later["measurement_plan"] = {**later["measurement_plan"], "segments": ["context.country"]}
    country = {"fr": _arms((300, 15), (1100, 90), (1100, 60)), "de": _overall(TONIGHT)}
    split = {SEGMENT: TONIGHT, "context.country": country}
    section = segment_section(
        later, ExperienceTotals(_overall(TONIGHT), {}, None, split), Plan.of(later)
    )
    assert section is not None and section["paths"] == ["context.country", SEGMENT]
    # Then the country's tests are the verdict's lift on tonight's totals (no epochs)
    fr_a = next(t for t in section["tests"] if (t["value"], t["variant"]) == ("fr", "a"))
    lift = judged(country["fr"][None], country["fr"]["a"], "conversion_rate", 1)
    assert not fr_a["across_epochs"] and fr_a["relative"] == pytest.approx(lift.relative)
    assert fr_a["units"] == {"holdout": 300, "variant": 1100}
    # and Benjamini-Hochberg runs once over both paths' tests
    assert len(section["tests"]) == 10
    raw = [t["p_value"] for t in section["tests"]]
    assert [t["p_value_bh"] for t in section["tests"]] == pytest.approx(
        list(false_discovery_control(raw, method="bh")), rel=1e-12
    )


def test_a_reweighting_that_needs_more_than_max_slices_is_refused() -> None:
    # Given overall slices cut into more pieces than the bound allows (a and b in turns)
    n = slices.MAX_SLICES + 60
    step = slices.FULL // n
    cut = [[i * step, (i + 1) * step if i < n - 1 else slices.FULL, "ab"[i % 2]] for i in range(n)]
    served = _served()
    served["variant_slices"] = cut
    assert slices.parse(cut) is not None
    # When tonight's numbers move the overall weights a little and mobile's a lot
    action = _tonight(DAY, served, BY_VALUE)
    # Then the overall weights are kept (the small move would leave too many slices), and
    # mobile's, whose large move coalesces them, are taken
    assert action is not None
    assert action.evidence["weights"] == action.evidence["weights_before"]
    assert "mobile" in action.evidence["segments"]
    assert bandit.reweight(DAY, _served(), _overall(BY_VALUE), set())  # uncut: it moves


def test_simulated_each_segments_weights_go_to_its_own_best() -> None:
    # Given a known truth: a helps mobile (+25 %), b helps desktop (+25 %), c neither
    nights = run(SEGMENTED, 2026)
    # Then by night 30 each value's weights, and its traffic, are on its own best
    for value, best in OWN_BEST.items():
        own = nights[-1].segment_weights[value]
        assert max(own, key=own.__getitem__) == best and own[best] > 0.8
        assert segment_share(nights[-1], value, best) > 0.8
    # while the holdout keeps its share in each value, night after night
    for n in nights:
        for units in n.segment_units.values():
            assert abs(units["holdout"] / sum(units.values()) - SEGMENTED.holdout) < 0.04
    # and the report shows both values with their own weights
    shown = {r["value"]: r["own_weights"] for r in nights[-1].segments["values"]}
    assert shown == {"mobile": True, "desktop": True}


def test_a_values_numbers_are_folded_after_20_epochs_so_the_stored_state_stays_bounded() -> None:
    # Given 60 nights that each re-weighted a bandit of 16 segment values
    values = [f"device{i:02}" for i in range(slices.MAX_SEGMENT_VALUES)]
    night = {"holdout": [100, 5, 5], "a": [450, 30, 30], "b": [450, 20, 20]}
    ops = lifecycle.with_allocation(_authored(), {}, "2026-11-17T00:00:00.000Z")
    for n in range(60):
        evidence = {
            "report_date": (DAY + timedelta(days=n)).isoformat(),
            "weights_before": {"a": 0.5, "b": 0.5},
            "weights": {"a": 0.5, "b": 0.5},
            "arms": night,
            "segment_arms": dict.fromkeys(values, night),
        }
        ops = weights.record(ops, _served(ops), evidence, AT)
    # Then only the last 20 epochs keep their numbers per value one by one
    kept = [e for e in ops["bandit"]["epochs"] if e.get("segments")]
    assert len(kept) == weights.MAX_SEGMENT_EPOCHS
    assert len(orjson.dumps(ops)) < 100_000  # well inside DynamoDB's 400 KB item
    # and every unit of every night is still counted per value (the older ones pooled)
    empty = {None: ArmTotals(), "a": ArmTotals(), "b": ArmTotals()}
    section = bandit.segments_section(_served(ops), {SEGMENT: dict.fromkeys(values, empty)})
    assert section is not None
    assert all(
        r["units"] == {"a": 60 * 450, "b": 60 * 450, "holdout": 60 * 100} for r in section["values"]
    )
