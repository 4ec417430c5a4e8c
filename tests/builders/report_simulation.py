"""Nightly reports over simulated experiences with a known truth, through the report's path.

Each run is one experience (a holdout and one variant, 50 : 50) whose units arrive every
night and convert at known rates. Every night the cumulative per-arm totals go through
`earnest.report.build.build` with last night's report, exactly as the nightly run does
(verdicts, small-counts gate, SRM, guardrails), and a paused variant stops there. Draws come
from numpy's seeded generator, so every run of a scenario is the same run.

Used by tests/unit/report/test_stats_targets.py (the targets of issue 10) and by
bench/bench_stats.py, which prints the same table.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from statistics import NormalDist
from typing import Any

import numpy as np

from earnest.report import build as report_build
from earnest.report import cuped, stats
from earnest.report.aggregation import (
    DEFAULT_CAP_PERCENTILE,
    ArmTotals,
    ExperienceTotals,
    Totals,
    revenue_cap,
)
from tests.builders.experiences import experience

START = date(2026, 1, 1)  # any date: the report reads no clock
GUARDRAIL_EVENT = "unsubscribe"


@dataclass(frozen=True, slots=True)
class Scenario:
    """One kind of experience: base rate, true relative lift, traffic, and the plan."""

    base: float = 0.05
    lift: float = 0.0  # the variant's true rate is base * (1 + lift)
    daily_units: int = 2000  # expected units per arm per night (the split is random)
    nights: int = 30
    min_units: int = 1000
    mde: float = 0.05
    # A lower-is-better guardrail event (`unsubscribe`, default margin): the holdout's share
    # of units with one, and the variant's true relative change of it; 0: no guardrail.
    guardrail_rate: float = 0.0
    guardrail_lift: float = 0.0


@dataclass(slots=True)
class Outcome:
    """What happened to the variant over its nights, counted over runs."""

    runs: int = 0
    found: int = 0  # called beats_default on some night
    false_call: int = 0  # called beats_default or loses_to_default against the truth
    paused: Counter[str] = field(default_factory=Counter)  # by guardrail rule
    srm_flagged: int = 0  # flagged on some night (the sequential SRM test)
    srm_chi2_flagged: int = 0  # chi-square p < 0.001 on some night (the rule before it)

    def share(self, count: int) -> float:
        return count / self.runs if self.runs else 0.0

    @property
    def any_pause(self) -> int:
        return sum(self.paused.values())


def _doc(scenario: Scenario) -> dict[str, Any]:
    return experience(
        id="sim",
        holdout=0.5,
        variants=[{"id": "b", "weight": 1, "content": {}}],
        measurement_plan={
            "hypothesis": "simulated",
            "primary_metric": "conversion",
            "minimum_detectable_effect": scenario.mde,
            "min_units_per_arm": scenario.min_units,
            "guardrail_metrics": [{"name": GUARDRAIL_EVENT, "direction": "lower_is_better"}]
            if scenario.guardrail_rate
            else [],
        },
        last_reviewed=START.isoformat(),
        review_every_days=3650,
    )


def _totals(arms: dict[str | None, ArmTotals]) -> Totals:
    return Totals({"sim": ExperienceTotals(arms, {})}, {}, {}, {})


def run(scenario: Scenario, runs: int, seed: int) -> Outcome:
    """`runs` experiences of `scenario`, each reported every night until paused or done."""
    rng = np.random.default_rng(seed)
    doc = _doc(scenario)
    rates = (scenario.base, scenario.base * (1.0 + scenario.lift))
    # Every run's nightly units and conversions, drawn at once: (runs, nights, arm).
    units = rng.binomial(2 * scenario.daily_units, 0.5, size=(runs, scenario.nights))
    split = np.stack([units, 2 * scenario.daily_units - units], axis=-1)
    converted = rng.binomial(split, np.array(rates))
    n_cum, x_cum = split.cumsum(axis=1), converted.cumsum(axis=1)
    # Drawn last, so the scenarios without a guardrail keep their draws.
    event_rates = (scenario.guardrail_rate, scenario.guardrail_rate * (1 + scenario.guardrail_lift))
    e_cum = rng.binomial(split, np.array(event_rates)).cumsum(axis=1)
    truth = "beats_default" if scenario.lift > 0 else "loses_to_default"
    out = Outcome(runs=runs)
    for r in range(runs):
        previous: dict[str, Any] | None = None
        found = false_call = flagged = chi2_flagged = False
        for night in range(scenario.nights):
            arms: dict[str | None, ArmTotals] = {
                key: ArmTotals(
                    int(n_cum[r, night, i]),
                    0,
                    int(x_cum[r, night, i]),
                    events={GUARDRAIL_EVENT: int(e_cum[r, night, i])},
                )
                for i, key in enumerate((None, "b"))
            }
            window = report_build.Window(START + timedelta(days=night))
            report = report_build.build(window, [doc], _totals(arms), previous, global_holdout=0.0)
            section = report["experiences"][0]
            said = section["variants"][0]["verdict"]
            found |= said == "beats_default"
            wrong = said in ("beats_default", "loses_to_default") and (
                scenario.lift == 0 or said != truth
            )
            false_call |= wrong
            flagged |= section["srm"]["flagged"]
            chi2_flagged |= any(t["p_value"] < 0.001 for t in section["srm"]["tests"])
            pauses = [g["rule"] for g in report["guardrails"] if g["action"] == "pause_variant"]
            if pauses:
                out.paused[pauses[0]] += 1
                break
            previous = report
        out.found += found
        out.false_call += false_call
        out.srm_flagged += flagged
        out.srm_chi2_flagged += chi2_flagged
    return out


# -- revenue with heavy tails, and CUPED: per-arm sums through the report's statistics ------


@dataclass(frozen=True, slots=True)
class Coverage:
    """How often the relative interval covered the true lift, raw and capped revenue."""

    runs: int
    raw: float  # the raw interval covers the raw metric's true lift
    capped: float  # the capped interval covers the capped metric's true lift
    capped_raw_truth: float  # the capped interval covers the raw metric's true lift
    width_ratio: float  # mean capped / raw relative interval width
    raw_truth: float
    capped_truth: float


def revenue_coverage(
    runs: int,
    seed: int,
    *,
    units: int = 5_000,
    base: float = 0.05,
    lift: float = 0.10,
    basket_lift: float = 0.0,
    sigma: float = 2.0,
    percentile: float = DEFAULT_CAP_PERCENTILE,
) -> Coverage:
    """Log-normal baskets (sigma) bought by `base` and base * (1 + lift) of each arm's units,
    the variant's baskets scaled by 1 + basket_lift.

    With basket_lift = 0 the variant changes who buys, not what a basket is worth, so the
    true relative lift of revenue per unit is `lift` whether revenue is capped or not (the
    cap is one number for both arms). With larger baskets the capped metric's true lift is
    smaller than the raw one: `capped_truth`, from the population's cap (`capped_truth_of`).
    """
    rng = np.random.default_rng(seed)
    rates, scales = (base, base * (1 + lift)), (1.0, 1.0 + basket_lift)
    raw_truth = (1 + lift) * (1 + basket_lift) - 1
    capped_truth = capped_truth_of(rates, scales, sigma, percentile)
    hits = np.zeros(3)
    widths: list[float] = []
    for _ in range(runs):
        baskets = [
            scale * rng.lognormal(0.0, sigma, rng.binomial(units, p))
            for p, scale in zip(rates, scales, strict=True)
        ]
        cap = revenue_cap(np.concatenate(baskets).tolist(), percentile)
        arms = [_revenue_arm(units, b, cap) for b in baskets]
        raw, capped = (
            stats.compare(*arms, m) for m in ("revenue_per_unit", "revenue_per_unit_capped")
        )
        hits += (
            _covers(raw, raw_truth),
            _covers(capped, capped_truth),
            _covers(capped, raw_truth),
        )
        widths.append(_width(capped) / _width(raw))
    covered = hits / runs
    return Coverage(
        runs,
        float(covered[0]),
        float(covered[1]),
        float(covered[2]),
        float(np.mean(widths)),
        raw_truth,
        capped_truth,
    )


def capped_truth_of(
    rates: tuple[float, float], scales: tuple[float, float], sigma: float, percentile: float
) -> float:
    """The capped metric's true relative lift: E[min(Y, c)] of the arms at the population cap.

    c is the `percentile` of the buyers' baskets of both arms pooled (the limit of the
    report's cap), found by bisection on the mixture's CDF; E[min(X, c)] of a log-normal X
    is exp(mu + sigma^2 / 2) Phi((ln c - mu - sigma^2) / sigma) + c (1 - Phi((ln c - mu) / sigma)).
    """
    phi = NormalDist().cdf
    weights = [r / sum(rates) for r in rates]
    mus = [math.log(scale) for scale in scales]

    def pooled_cdf(log_c: float) -> float:
        return sum(w * phi((log_c - mu) / sigma) for w, mu in zip(weights, mus, strict=True))

    low, high = -20.0, 20.0
    for _ in range(200):
        mid = (low + high) / 2
        low, high = (mid, high) if pooled_cdf(mid) < percentile else (low, mid)
    log_c = high

    def capped_mean(rate: float, mu: float) -> float:
        below = math.exp(mu + sigma * sigma / 2) * phi((log_c - mu - sigma * sigma) / sigma)
        return rate * (below + math.exp(log_c) * (1 - phi((log_c - mu) / sigma)))

    control, variant = (capped_mean(r, mu) for r, mu in zip(rates, mus, strict=True))
    return variant / control - 1


def _revenue_arm(units: int, baskets: np.ndarray, cap: float | None) -> stats.Arm:
    capped = baskets if cap is None else np.minimum(baskets, cap)
    return stats.Arm(
        units,
        len(baskets),
        float(baskets.sum()),
        float((baskets * baskets).sum()),
        float(capped.sum()),
        float((capped * capped).sum()),
    )


def _covers(lift: stats.Lift, truth: float) -> bool:
    low, high = lift.relative_low, lift.relative_high
    return low is not None and high is not None and low <= truth <= high


def _width(lift: stats.Lift) -> float:
    assert lift.relative_low is not None and lift.relative_high is not None
    return lift.relative_high - lift.relative_low


@dataclass(frozen=True, slots=True)
class CupedOutcome:
    """CUPED against the raw comparison over runs with a known rho and true effect."""

    runs: int
    rho: float
    variance_ratio: float  # mean over runs of (adjusted se / raw se) ** 2
    spread_ratio: float  # variance of the adjusted estimates / of the raw ones, over runs
    coverage: float  # the adjusted fixed-horizon absolute interval covers the true effect
    raw_coverage: float


def cuped_simulation(
    runs: int,
    seed: int,
    *,
    rho: float,
    units: int = 2_000,
    effect: float = 0.3,
    mean: float = 10.0,
    sd: float = 3.0,
) -> CupedOutcome:
    """Each unit's metric before (x) and after (y) exposure, bivariate normal with correlation
    `rho`; the variant adds `effect` to y. Per-arm sums go through earnest.report.cuped."""
    rng = np.random.default_rng(seed)
    cov = sd * sd * np.array([[1.0, rho], [rho, 1.0]])
    ratios: list[float] = []
    raw_estimates: list[float] = []
    adjusted_estimates: list[float] = []
    covered = raw_covered = 0
    for _ in range(runs):
        arms, covariates = [], []
        for shift in (0.0, effect):
            x, y = rng.multivariate_normal([mean, mean], cov, size=units).T
            y = y + shift
            arms.append(_revenue_arm(units, y, None))
            covariates.append(
                cuped.Covariate(float(x.sum()), float((x * x).sum()), float((x * y).sum()))
            )
        raw = stats.compare(*arms, "revenue_per_unit_capped")
        adjusted = cuped.compare(*arms, "revenue_per_unit_capped", *covariates)
        assert adjusted is not None
        ratios.append(
            ((adjusted.absolute_high - adjusted.absolute) / (raw.absolute_high - raw.absolute)) ** 2
        )
        raw_estimates.append(raw.absolute)
        adjusted_estimates.append(adjusted.absolute)
        covered += adjusted.absolute_low <= effect <= adjusted.absolute_high
        raw_covered += raw.absolute_low <= effect <= raw.absolute_high
    return CupedOutcome(
        runs,
        rho,
        float(np.mean(ratios)),
        float(np.var(adjusted_estimates) / np.var(raw_estimates)),
        covered / runs,
        raw_covered / runs,
    )
