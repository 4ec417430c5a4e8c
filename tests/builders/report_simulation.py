"""Nightly reports over simulated experiences with a known truth, through the report's path.

Each run is one experience (a holdout and one variant, 50 : 50) whose units arrive every
night and convert at known rates. Every night the per-arm totals of the nights the
report's own window analyses (`Window.span`: from the start of the allocation, or the
28-day lookback of an experience without one) go through `earnest.report.build.build`
with last night's report, exactly as the nightly run does (verdicts, small-counts gate,
SRM, guardrails), and a paused variant stops there. Draws come from numpy's seeded
generator, so every run of a scenario is the same run.

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
from earnest.report.aggregation import revenue_cap
from earnest.report.totals import DEFAULT_CAP_PERCENTILE, ArmTotals, ExperienceTotals, Totals
from earnest.report.window import Window
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
    allocated: bool = True  # False: no allocation start recorded (the sliding lookback)
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
        **(
            {"allocation_started_at": f"{START.isoformat()}T00:00:00.000Z"}
            if scenario.allocated
            else {}
        ),
    )


def first_night(window: Window, doc: dict[str, Any]) -> int:
    """The first night (0 = START) whose units the report of `window.day` analyses."""
    start = window.span(doc).start.date()
    return max((start - START).days, 0)


def in_span(cumulative: Any, night: int, first: int) -> Any:
    """The per-arm sums of nights `first`..`night` from cumulative sums over nights."""
    return cumulative[night] - (cumulative[first - 1] if first > 0 else 0)


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
            window = Window(START + timedelta(days=night))
            first = first_night(window, doc)
            n, x = in_span(n_cum[r], night, first), in_span(x_cum[r], night, first)
            e = in_span(e_cum[r], night, first)
            arms: dict[str | None, ArmTotals] = {
                key: ArmTotals(int(n[i]), 0, int(x[i]), events={GUARDRAIL_EVENT: int(e[i])})
                for i, key in enumerate((None, "b"))
            }
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


@dataclass(frozen=True, slots=True)
class Changes:
    """A healthy A/A/A experience (holdout, b, c) whose c is paused by the nightly report
    on night `pause_night` and resumed by an operator on night `resume_night`."""

    holdout: float = 0.5
    daily_units: int = 4000  # expected units a night over every arm
    nights: int = 30
    pause_night: int = 10
    resume_night: int = 20
    allocated: bool = True  # False: no allocation start recorded (the sliding lookback)


def _three_arms(changes: Changes) -> dict[str, Any]:
    doc = _doc(Scenario(mde=0.0, allocated=False))
    doc["holdout"] = changes.holdout
    doc["variants"] = [
        {"id": "b", "weight": 1, "content": {}},
        {"id": "c", "weight": 1, "content": {}},
    ]
    return doc


def _night_ops(changes: Changes, authored: dict[str, Any]) -> list[dict[str, Any]]:
    """The operational state each night is served and reported under, by the product's rules
    (`lifecycle.with_allocation` restarts the allocation at the end of the changing night)."""
    from earnest.experiences import lifecycle
    from earnest.report.guardrails import end_of
    from earnest.timefmt import format_time

    def stamp(night: int) -> str:
        return format_time(end_of(START + timedelta(days=night)))

    ops = lifecycle.with_allocation(authored, {}, f"{START.isoformat()}T00:00:00.000Z")
    if not changes.allocated:
        ops = {}
    out = []
    pause = lifecycle.entry("paused", "operator", "simulated", "sim", stamp(0), {})
    for night in range(changes.nights):
        out.append(ops)
        if night == changes.pause_night:
            ops = lifecycle.set_entry(ops, "c", pause)
        elif night == changes.resume_night:
            ops = lifecycle.without(ops, "c")
        if changes.allocated and night in (changes.pause_night, changes.resume_night):
            ops = lifecycle.with_allocation(authored, ops, stamp(night))
    return out


def srm_after_changes(changes: Changes, runs: int, seed: int) -> tuple[int, int]:
    """How many runs are SRM-flagged on some night after the pause, and after the resume."""
    from earnest.experiences import lifecycle

    rng = np.random.default_rng(seed)
    authored = _three_arms(changes)
    nightly = [lifecycle.effective(authored, ops) for ops in _night_ops(changes, authored)]
    h = changes.holdout
    shares = [
        [h, (1 - h) / 2, (1 - h) / 2]
        if not any(v.get("paused") for v in doc["variants"])
        else [h, 1 - h, 0.0]
        for doc in nightly
    ]
    # (runs, nights, arm): each night's units by the shares served that night
    units = np.stack([rng.multinomial(changes.daily_units, p, size=runs) for p in shares], axis=1)
    converted = rng.binomial(units, 0.05)
    n_cum, x_cum = units.cumsum(axis=1), converted.cumsum(axis=1)
    after_pause = after_resume = 0
    for r in range(runs):
        flagged = [False] * changes.nights
        for night, doc in enumerate(nightly):
            if night <= changes.pause_night:
                continue
            window = Window(START + timedelta(days=night))
            first = first_night(window, doc)
            n, x = in_span(n_cum[r], night, first), in_span(x_cum[r], night, first)
            arms = {
                key: ArmTotals(int(n[i]), 0, int(x[i]))
                for i, key in enumerate((None, "b", "c"))
                if n[i]
            }
            report = report_build.build(window, [doc], _totals(arms), None, global_holdout=0.0)
            flagged[night] = report["experiences"][0]["srm"]["flagged"]
        after_pause += any(flagged[changes.pause_night + 1 : changes.resume_night + 1])
        after_resume += any(flagged[changes.resume_night + 1 :])
    return after_pause, after_resume


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
