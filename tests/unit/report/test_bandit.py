"""A bandit's nightly re-weighting (earnest.report.bandit) and its lift across epochs
(earnest.report.epochs): reproducible, floored, gated, and honest against the holdout."""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pytest

from earnest.experiences import actions, lifecycle
from earnest.report import bandit, build, epochs, render, stats, thompson
from earnest.report.cuped import Covariate
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
    posterior, adjusted = thompson.posteriors(moments, "conversion_rate")
    assert not adjusted  # no covariate: the raw metric
    assert posterior["b"] == pytest.approx(
        (150 / 1800, (150 / 1800 * (1 - 150 / 1800) / 1799) ** 0.5)
    )
    seed = thompson.seed_of("x", DAY)
    assert thompson.p_best(posterior, seed) == thompson.p_best(
        posterior, thompson.seed_of("x", DAY)
    )
    assert thompson.seed_of("x", DAY) != thompson.seed_of("x", date(2026, 11, 21))
    assert thompson.p_best(posterior, seed)["b"] > 0.99  # 8.3 % against 5 % on 1,800 units each


def _with_covariate(rng: np.random.Generator, units: int, lift: float) -> ArmTotals:
    """An arm of units of which 6 % are habitual buyers (they converted before exposure,
    x = 1, and convert again at 75 %, the others at 0.3 %), every rate times `lift`: a
    pre-exposure covariate independent of the arm that explains most of the variance
    (rho about 0.83)."""
    habitual = rng.random(units) < 0.06
    x = habitual.astype(float)
    y = (rng.random(units) < np.where(habitual, 0.75, 0.003) * lift).astype(float)
    pre = {"conversion_rate": Covariate(float(x.sum()), float(x @ x), float(x @ y))}
    return ArmTotals(units, units, int(y.sum()), pre_exposure=pre)


def _night(seed: int) -> dict[str | None, ArmTotals]:
    """A night's arms: b truly converts 15 % better than a and the holdout."""
    rng = np.random.default_rng(seed)
    return {
        None: _with_covariate(rng, 600, 1.0),
        "a": _with_covariate(rng, 2000, 1.0),
        "b": _with_covariate(rng, 2000, 1.15),
    }


def _bare(arms: dict[str | None, ArmTotals]) -> dict[str | None, ArmTotals]:
    """The same units without their covariate."""
    return {k: ArmTotals(t.units, t.units, t.conversions) for k, t in arms.items()}


def test_a_covariate_that_explains_most_of_the_variance_gives_a_more_decided_posterior() -> None:
    decided = {True: [], False: []}  # type: dict[bool, list[float]]
    for seed in range(40):
        # Given the same units, once with their pre-exposure covariate and once without
        arms = _night(seed)
        moments = {
            k: (t.units, float(t.conversions), float(t.conversions)) for k, t in arms.items() if k
        }
        pre = {
            k: t.pre_exposure["conversion_rate"] for k, t in arms.items() if k and t.pre_exposure
        }
        # When the posterior reads the CUPED-adjusted means, and when it reads the raw ones
        tight, adjusted = thompson.posteriors(moments, "conversion_rate", pre)
        plain, raw = thompson.posteriors(moments, "conversion_rate")
        assert adjusted and not raw
        # Then each variant's posterior variance shrinks by the share its covariate
        # explains, 1 - rho^2 (rho the correlation of x and y over its units), within 15 %
        for v in ("a", "b"):
            n, sy, _ = moments[v]
            c = pre[v]
            cov = c.product / n - (c.total / n) * (sy / n)
            rho = cov / ((c.total_sq / n - (c.total / n) ** 2) * (sy / n - (sy / n) ** 2)) ** 0.5
            assert (tight[v][1] / plain[v][1]) ** 2 == pytest.approx(1 - rho**2, rel=0.15)
        decided[True].append(thompson.p_best(tight, seed)["b"])
        decided[False].append(thompson.p_best(plain, seed)["b"])
    # and over 40 replications P(best) of the true best is more decided on the same data
    assert np.mean(decided[True]) > np.mean(decided[False]) + 0.1
    assert np.median(decided[True]) > 0.95 > 0.8 > np.median(decided[False])
    # and the re-weighting reads it, says so, and keeps the covariate's sums for later nights
    with_pre = bandit.reweight(DAY, _doc(), _night(0), set())
    without = bandit.reweight(DAY, _doc(), _bare(_night(0)), set())
    assert with_pre is not None and without is not None
    assert with_pre.evidence["cuped"] and not without.evidence["cuped"]
    assert "pre" not in without.evidence
    c = _night(0)["b"].pre_exposure["conversion_rate"]  # type: ignore[index]
    assert with_pre.evidence["pre"]["b"] == [c.total, c.total_sq, c.product]


def test_the_posterior_reads_cuped_across_epochs_only_when_every_epoch_kept_the_covariate() -> None:
    # Given a night re-weighted with the covariate, recorded as the nightly run records it
    doc = _doc()
    action = bandit.reweight(DAY, doc, _night(1), set())
    assert action is not None and action.evidence["cuped"]
    ops = actions.record({}, doc, [action], "2026-11-21T00:00:00.000Z")
    assert ops["bandit"]["epochs"][-1]["pre"] == action.evidence["pre"]
    later = lifecycle.effective({k: v for k, v in doc.items() if k != "allocation_started_at"}, ops)
    # When the next night has the covariate too, the posterior pools it over both epochs
    rng = np.random.default_rng(2)
    tonight = {k: _with_covariate(rng, 200, 1.0) for k in (None, "a", "b")}
    nxt = date(2026, 11, 21)
    pooled = bandit.reweight(nxt, later, tonight, set())
    # but a night without it leaves every unit raw (all of them adjusted, or none)
    unadjusted = bandit.reweight(nxt, later, _bare(tonight), set())
    assert pooled is not None and unadjusted is not None
    assert pooled.evidence["cuped"] and not unadjusted.evidence["cuped"]
    assert pooled.evidence["units"] == unadjusted.evidence["units"] == {"a": 2200, "b": 2200}
    both = [
        later["bandit_epochs"][0],
        {"arms": pooled.evidence["arms"], "pre": pooled.evidence["pre"]},
    ]
    n = epochs.pooled([e["arms"] for e in both])
    x = epochs.pooled([e["pre"] for e in both])
    expected, _ = thompson.posteriors(
        {v: (int(n[v][0]), n[v][1], n[v][2]) for v in "ab"},
        "conversion_rate",
        {v: Covariate(*x[v]) for v in "ab"},
    )
    seed = thompson.seed_of(str(doc["id"]), nxt)
    assert pooled.evidence["p_best"] == {
        v: round(p, 4) for v, p in thompson.p_best(expected, seed).items()
    }
    # and so does an earlier epoch that kept no covariate
    bare_past = [{k: v for k, v in e.items() if k != "pre"} for e in later["bandit_epochs"]]
    past = bandit.reweight(nxt, {**later, "bandit_epochs": bare_past}, tonight, set())
    assert past is not None and not past.evidence["cuped"]


def test_the_floor_is_kept_and_the_weights_sum_to_one() -> None:
    weights = thompson.floored({"a": 0.0, "b": 0.0, "c": 1.0}, 0.05)
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
