"""A bandit's nightly re-weighting (earnest.report.bandit) and its lift across epochs
(earnest.report.epochs): reproducible, floored, gated, and honest against the holdout."""

from __future__ import annotations

import re
from datetime import date

import pytest

from earnest.experiences import actions, lifecycle
from earnest.report import bandit, build, epochs, render, stats
from earnest.report.totals import ArmTotals, ExperienceTotals, Totals
from earnest.report.window import Window
from tests.builders.bandit_simulation import Bandit, authored, run, treated_share

DAY = date(2026, 11, 20)
ARMS = {
    None: ArmTotals(600, 600, 30),
    "a": ArmTotals(1800, 1800, 90),
    "b": ArmTotals(1800, 1800, 150),
}


def _doc(**allocation: object) -> dict[str, object]:
    doc = authored(Bandit({None: 0.05, "a": 0.05, "b": 0.08}))
    doc["allocation"] = {**doc["allocation"], **allocation}  # type: ignore[dict-item]
    doc["allocation_started_at"] = "2026-11-17T00:00:00.000Z"
    return doc


def test_p_best_is_reproducible_from_the_experience_and_the_date() -> None:
    moments = {"a": (1800, 90.0, 90.0), "b": (1800, 150.0, 150.0)}
    seed = bandit.seed_of("x", DAY)
    assert bandit.p_best(moments, seed) == bandit.p_best(moments, bandit.seed_of("x", DAY))
    assert bandit.seed_of("x", DAY) != bandit.seed_of("x", date(2026, 11, 21))
    assert bandit.p_best(moments, seed)["b"] > 0.99  # 8.3 % against 5 % on 1,800 units each


def test_the_floor_is_kept_and_the_weights_sum_to_one() -> None:
    weights = bandit.floored({"a": 0.0, "b": 0.0, "c": 1.0}, 0.05)
    assert weights == pytest.approx({"a": 0.05, "b": 0.05, "c": 0.9})


def test_it_reweights_after_the_exploration_window_with_enough_units_only() -> None:
    action = bandit.reweight(DAY, _doc(exploration_days=3), ARMS, set())
    assert action is not None and action.action == actions.REWEIGHT
    assert action.evidence["weights"]["b"] > 0.9 and action.evidence["weights"]["a"] >= 0.01
    assert action.reason.startswith("weights a 0.50 → ")
    assert bandit.reweight(DAY, _doc(exploration_days=5), ARMS, set()) is None  # exploring
    few = {k: ArmTotals(99, 99, 5) for k in ARMS}
    assert bandit.reweight(DAY, _doc(), few, set()) is None  # under min_units_per_variant
    assert bandit.reweight(DAY, _doc(mode="fixed"), ARMS, set()) is None


def test_a_variant_paused_tonight_takes_no_part_and_stays_paused() -> None:
    doc = _doc()
    doc["variants"].append({"id": "c", "weight": 1, "content": {}})  # type: ignore[attr-defined]
    arms = {**ARMS, "c": ArmTotals(1800, 1800, 20)}
    action = bandit.reweight(DAY, doc, arms, {"c"})
    assert action is not None and set(action.evidence["weights"]) == {"a", "b"}
    pause = actions.Action(
        str(doc["id"]), actions.PAUSE_VARIANT, "loses_to_default", "c", "loses", {}
    )
    ops = actions.record({}, doc, [pause, action], "2026-11-21T00:00:00.000Z")
    served = lifecycle.effective(
        {k: v for k, v in doc.items() if k != "allocation_started_at"}, ops
    )
    assert next(v for v in served["variants"] if v["id"] == "c")["paused"] is True
    # recorded twice, nothing more is written
    assert actions.record(ops, served, [pause, action], "2026-11-22T00:00:00.000Z") == ops


def test_a_flagged_sample_ratio_or_a_pause_of_the_whole_stops_the_reweighting() -> None:
    doc = _doc()
    totals = Totals({str(doc["id"]): ExperienceTotals(dict(ARMS), {})}, {}, {}, {})
    assert bandit.reweights(DAY, [doc], totals, [])
    assert bandit.reweights(DAY, [doc], totals, [], frozenset({str(doc["id"])})) == []
    whole = actions.Action(str(doc["id"]), actions.PAUSE_EXPERIENCE, "operator", None, "x", {})
    assert bandit.reweights(DAY, [doc], totals, [whole]) == []


def test_one_epoch_is_the_reports_own_comparison() -> None:
    lift = epochs.stratified(
        [{"holdout": [600, 30, 30], "b": [1800, 150, 150]}], "b", "conversion_rate"
    )
    same = stats.compare(stats.Arm(600, 30), stats.Arm(1800, 150))
    assert lift is not None
    assert lift.absolute == pytest.approx(same.absolute)
    assert lift.sequential_ratio_low == pytest.approx(same.sequential_ratio_low)
    assert lift.sequential_ratio_high == pytest.approx(same.sequential_ratio_high)


def test_stratifying_removes_the_drift_that_pooling_mixes_in() -> None:
    # Given a base rate that doubles between two epochs while the variant's weight rises,
    # and a variant with no effect at all
    first = {"holdout": [1000, 50, 50], "b": [1000, 50, 50]}
    second = {"holdout": [1000, 100, 100], "b": [9000, 900, 900]}
    # Then pooling calls it a large lift, and stratifying finds none
    naive = epochs.stratified([epochs.pooled([first, second])], "b", "conversion_rate")
    strat = epochs.stratified([first, second], "b", "conversion_rate")
    assert naive is not None and strat is not None
    assert naive.relative is not None and naive.relative > 0.2
    assert strat.absolute == pytest.approx(0.0)


def test_a_simulated_bandit_moves_traffic_to_the_best_and_keeps_the_holdout() -> None:
    nights = run(Bandit({None: 0.05, "a": 0.05, "b": 0.055, "c": 0.0625}, nights=12), 3)
    assert nights[0].weights == {"a": 1, "b": 1, "c": 1}  # the file's while exploring
    assert treated_share(nights[10], "c") > 0.5
    held = [n.units["holdout"] / sum(n.units.values()) for n in nights]
    assert all(abs(h - 0.10) < 0.03 for h in held)


def test_the_html_report_draws_the_weights_of_every_epoch() -> None:
    # Given a bandit re-weighted once (the file's equal split, then tonight's weights)
    doc = _doc()
    action = bandit.reweight(DAY, doc, ARMS, set())
    assert action is not None
    ops = actions.record({}, doc, [action], "2026-11-21T00:00:00.000Z")
    served = lifecycle.effective(
        {k: v for k, v in doc.items() if k != "allocation_started_at"}, ops
    )
    served["allocation_started_at"] = "2026-11-21T00:00:00.000Z"
    totals = Totals({str(doc["id"]): ExperienceTotals(dict(ARMS), {})}, {}, {}, {})
    built = build.assemble(Window(date(2026, 11, 23)), [served], totals, None, global_holdout=0.0)
    html = render.to_html(built.report).decode()
    # Then the page has one bar per epoch, the past one at the file's split, the current
    # one at the weights the re-weighting set, and says what tonight did
    chart = re.search(r'<svg class="chart weights".*?</svg>', html)
    assert chart is not None
    bars = re.findall(r'<g class="weights-epoch" data-started="([^"]*)"', chart.group(0))
    assert bars == ["2026-11-17", "2026-11-21"]
    shares = re.findall(r'data-variant="(\w)" data-share="([0-9.]+)"', chart.group(0))
    new = action.evidence["weights"]
    assert shares == [
        ("a", "0.5000"),
        ("b", "0.5000"),
        ("a", f"{new['a']:.4f}"),
        ("b", f"{new['b']:.4f}"),
    ]
    assert "(now)" in chart.group(0) and "Bandit on conversion_rate: tonight weights" in html
