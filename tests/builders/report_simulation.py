"""Nightly reports over simulated experiences with a known truth, through the report's path.

Each run is one experience (a holdout and 1 to 4 variants) whose units arrive every night
and convert at known rates. `run` reports it every night on the per-arm totals of the
nights the report's own window analyses (`Window.span`: from the start of the allocation,
or the 28-day lookback of an experience without one) through
`earnest.report.build.build` with last night's report, exactly as the nightly run does
(verdicts, small-counts gate, SRM, guardrails), and stops at its first pause. `replay`
gives the same nights and rules from the same draws with numpy over every run and night
at once, so the bench can afford thousands of runs of a year of nights; a test holds the
two to the same answers. Draws come from numpy's seeded generator, so every run of a
scenario is the same run.

Used by tests/unit/report/test_stats_targets.py (the targets of issues 10 and 20) and by
bench/bench_stats.py, which prints the same table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import NormalDist
from typing import Any

import numpy as np
from scipy.special import gammaln
from scipy.stats import chi2

from earnest.report import build as report_build
from earnest.report import cuped, gate, srm, stats
from earnest.report.aggregation import revenue_cap
from earnest.report.totals import DEFAULT_CAP_PERCENTILE, ArmTotals, ExperienceTotals, Totals
from earnest.report.window import Window
from tests.builders.experiences import experience

START = date(2026, 1, 1)  # any date: the report reads no clock
NEVER = 1 << 30  # the night of an event that did not happen
LOSES, HARM, FUTILE = "loses_to_default", "guardrail_harm", "stopped_beating_default"


@dataclass(frozen=True, slots=True)
class Guarded:
    """A guardrail metric of the simulated plan: `revenue` (capped, higher is better) or an
    event (lower is better, at the default margin), with the variants' true change of it."""

    name: str
    rate: float = 0.01  # an event's share of the holdout's units (revenue: unused)
    lift: float = 0.0

    @property
    def lower_is_better(self) -> bool:
        return self.name != "revenue"


@dataclass(frozen=True, slots=True)
class Scenario:
    """One kind of experience: base rate, true relative lift, traffic, arms and the plan."""

    base: float = 0.05
    lift: float = 0.0  # every variant's true rate is base * (1 + lift)
    daily_units: int = 4000  # expected units a night over every arm (the split is random)
    holdout: float = 0.5
    variants: int = 1  # sharing the rest equally
    nights: int = 30
    min_units: int = 1000
    mde: float | None = 0.05  # None: the plan names no effect, so futility is off
    allocated: bool = True  # False: no allocation start recorded (the sliding lookback)
    guarded: tuple[Guarded, ...] = ()
    sigma: float = 1.0  # a converting unit's revenue is log-normal(0, sigma)

    @property
    def shares(self) -> list[float]:
        return [self.holdout, *[(1 - self.holdout) / self.variants] * self.variants]

    @property
    def cap(self) -> float:
        """The revenue cap: the baskets' 99th percentile, the limit of the report's own
        (every arm buys from the same baskets)."""
        return math.exp(self.sigma * NormalDist().inv_cdf(DEFAULT_CAP_PERCENTILE))

    @property
    def ids(self) -> list[str]:
        return [chr(ord("b") + i) for i in range(self.variants)]


@dataclass(frozen=True, slots=True)
class Outcome:
    """When things first happened to each run's variants (NEVER: not within its nights)."""

    scenario: Scenario
    pause_night: np.ndarray  # the first night a variant was paused; the run stops there
    pause_rule: tuple[str, ...]  # its rule, `guardrail_harm:<metrics>` for a harm ("": none)
    wrong_night: np.ndarray  # the first night a variant got a verdict against the truth
    found_night: np.ndarray  # the first night a variant was called beats_default
    srm_night: np.ndarray  # the first night SRM was flagged (the sequential test)
    chi2_flagged: np.ndarray  # chi-square p < 0.001 on some night (the rule before it)

    @property
    def runs(self) -> int:
        return len(self.pause_night)

    def share(self, hits: Any) -> float:
        return float(np.mean(hits)) if self.runs else 0.0

    def paused(self, rule: str = "", by: int = NEVER) -> np.ndarray:
        """Runs paused by night `by` (1-based count of nights) under `rule` (a prefix)."""
        return np.array(
            [
                n < by and r.startswith(rule) and r != ""
                for n, r in zip(self.pause_night, self.pause_rule, strict=True)
            ]
        )

    def false_pause(self) -> np.ndarray:
        """Pauses against the truth: any pause of a true winner (or a tie), except futility
        when the truth is below the plan's effect, and a harm on a metric truly harmed."""
        s = self.scenario
        harmed = {g.name for g in s.guarded if g.lift != 0}

        def false(rule: str) -> bool:
            if not rule or s.lift < 0:
                return False
            if rule == FUTILE:
                return s.mde is not None and s.lift >= s.mde
            if rule.startswith(HARM):
                return not set(rule.partition(":")[2].split(",")) <= harmed
            return True

        return np.array([false(r) for r in self.pause_rule])

    def false_event(self, by: int = NEVER) -> np.ndarray:
        """Any false verdict or false pause by night `by`."""
        return (self.wrong_night < by) | (self.false_pause() & (self.pause_night < by))

    def standard_error(self, hits: np.ndarray) -> float:
        p = self.share(hits)
        return math.sqrt(p * (1 - p) / self.runs) if self.runs else 0.0


@dataclass(frozen=True, slots=True)
class Draws:
    """Every run's cumulative per-arm sums after each night: (runs, nights, arms)."""

    units: np.ndarray
    conversions: np.ndarray
    events: dict[str, np.ndarray]
    revenue: np.ndarray | None  # capped revenue's sum and sum of squares (revenue guarded)
    revenue_sq: np.ndarray | None


def draw(scenario: Scenario, runs: int, seed: int) -> Draws:
    rng = np.random.default_rng(seed)
    shape = (runs, scenario.nights)
    units = rng.multinomial(scenario.daily_units, scenario.shares, size=shape)
    rates = np.array([scenario.base] + [scenario.base * (1 + scenario.lift)] * scenario.variants)
    converted = rng.binomial(units, rates)
    events = {}
    revenue = revenue_sq = None
    for g in scenario.guarded:
        if g.name == "revenue":
            # each converting unit buys one log-normal basket, capped at the cap
            flat = converted.ravel()
            baskets = np.minimum(rng.lognormal(0.0, scenario.sigma, flat.sum()), scenario.cap)
            where = np.repeat(np.arange(flat.size), flat)
            revenue = np.bincount(where, baskets, flat.size).reshape(units.shape).cumsum(axis=1)
            squares = np.bincount(where, baskets * baskets, flat.size)
            revenue_sq = squares.reshape(units.shape).cumsum(axis=1)
        else:
            event_rates = np.array([g.rate] + [g.rate * (1 + g.lift)] * scenario.variants)
            events[g.name] = rng.binomial(units, event_rates).cumsum(axis=1)
    return Draws(units.cumsum(axis=1), converted.cumsum(axis=1), events, revenue, revenue_sq)


def _doc(scenario: Scenario) -> dict[str, Any]:
    plan: dict[str, Any] = {
        "hypothesis": "simulated",
        "primary_metric": "conversion",
        "min_units_per_arm": scenario.min_units,
        "guardrail_metrics": [
            {
                "name": g.name,
                "direction": "lower_is_better" if g.lower_is_better else "higher_is_better",
            }
            for g in scenario.guarded
        ],
    }
    if scenario.mde is not None:
        plan["minimum_detectable_effect"] = scenario.mde
    return experience(
        id="sim",
        holdout=scenario.holdout,
        variants=[{"id": vid, "weight": 1, "content": {}} for vid in scenario.ids],
        measurement_plan=plan,
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


def _totals(arms: dict[str | None, ArmTotals], cap: float | None = None) -> Totals:
    return Totals({"sim": ExperienceTotals(arms, {}, cap)}, {}, {}, {})


def _arms(
    scenario: Scenario, d: Draws, r: int, night: int, first: int
) -> dict[str | None, ArmTotals]:
    n, x = in_span(d.units[r], night, first), in_span(d.conversions[r], night, first)
    events = {name: in_span(e[r], night, first) for name, e in d.events.items()}
    out: dict[str | None, ArmTotals] = {}
    for i, key in enumerate([None, *scenario.ids]):
        capped: dict[str, Any] = {}
        if d.revenue is not None and d.revenue_sq is not None:
            total = float(in_span(d.revenue[r], night, first)[i])
            squares = float(in_span(d.revenue_sq[r], night, first)[i])
            capped = {
                "revenue": total,
                "revenue_sq": squares,
                "revenue_capped": total,
                "revenue_capped_sq": squares,
            }
        out[key] = ArmTotals(
            int(n[i]), 0, int(x[i]), events={k: int(v[i]) for k, v in events.items()}, **capped
        )
    return out


def run(scenario: Scenario, runs: int, seed: int) -> Outcome:
    """`runs` experiences of `scenario`, each reported every night until paused or done."""
    d = draw(scenario, runs, seed)
    doc = _doc(scenario)
    cap = scenario.cap if d.revenue is not None else None
    truth = "beats_default" if scenario.lift > 0 else "loses_to_default"
    nights = {k: np.full(runs, NEVER) for k in ("pause", "wrong", "found", "srm")}
    rules, chi2_flagged = [""] * runs, np.zeros(runs, dtype=bool)
    for r in range(runs):
        previous: dict[str, Any] | None = None
        for night in range(scenario.nights):
            window = Window(START + timedelta(days=night))
            arms = _arms(scenario, d, r, night, first_night(window, doc))
            report = report_build.build(
                window, [doc], _totals(arms, cap), previous, global_holdout=0.0
            )
            section = report["experiences"][0]
            said = [v["verdict"] for v in section["variants"]]
            if "beats_default" in said:
                nights["found"][r] = min(nights["found"][r], night)
            if any(
                v in ("beats_default", "loses_to_default") and (scenario.lift == 0 or v != truth)
                for v in said
            ):
                nights["wrong"][r] = min(nights["wrong"][r], night)
            if section["srm"]["flagged"]:
                nights["srm"][r] = min(nights["srm"][r], night)
            chi2_flagged[r] |= any(
                t["p_value"] < srm.SRM_THRESHOLD for t in section["srm"]["tests"]
            )
            pauses = [g for g in report["guardrails"] if g["action"] == "pause_variant"]
            if pauses:
                rule = pauses[0]["rule"]
                if rule == HARM:
                    rule += ":" + ",".join(pauses[0]["evidence"]["guardrail_harm"])
                nights["pause"][r], rules[r] = night, rule
                break
            previous = report
    return Outcome(
        scenario,
        nights["pause"],
        tuple(rules),
        nights["wrong"],
        nights["found"],
        nights["srm"],
        chi2_flagged,
    )


def program_false_events(
    scenario: Scenario, experiences: int, runs: int, seed: int, *, fdr: bool
) -> float:
    """A program of `experiences` A/A experiences of `scenario`, reported together every
    night through build() (with Benjamini-Hochberg across it when `fdr`): the share of runs
    with any false verdict or pause in the program. A run stops at its first pause."""
    if scenario.lift != 0 or scenario.mde is not None:
        raise ValueError("a program of ties, futility off: every verdict and pause is false")
    draws = [draw(scenario, runs, seed + i) for i in range(experiences)]
    docs = [{**_doc(scenario), "id": f"sim-{i:02d}"} for i in range(experiences)]
    cap = scenario.cap if any(g.name == "revenue" for g in scenario.guarded) else None
    hits = 0
    for r in range(runs):
        previous: dict[str, Any] | None = None
        for night in range(scenario.nights):
            window = Window(START + timedelta(days=night))
            totals = Totals(
                {
                    d["id"]: ExperienceTotals(_arms(scenario, x, r, night, 0), {}, cap)
                    for d, x in zip(docs, draws, strict=True)
                },
                {},
                {},
                {},
            )
            report = report_build.build(
                window, docs, totals, previous, global_holdout=0.0, false_discovery_rate=fdr
            )
            said = {v["verdict"] for e in report["experiences"] for v in e["variants"]}
            if report["guardrails"] or said & {"beats_default", "loses_to_default"}:
                hits += 1
                break
            previous = report
    return hits / runs


# -- the same decisions with numpy over every run and night at once -------------------------


def _first(hits: np.ndarray) -> np.ndarray:
    """The first night (axis 1) of each run where `hits`, else NEVER."""
    return np.where(hits.any(axis=1), hits.argmax(axis=1), NEVER)


def _gated(n: np.ndarray, skewness_sq: np.ndarray, min_units: int) -> np.ndarray:
    return (n >= min_units) & (n >= gate.GATE_UNITS + gate.GATE_SKEWNESS * skewness_sq)


def _rate_skewness_sq(x: np.ndarray, n: np.ndarray) -> np.ndarray:
    p = np.divide(x, n, out=np.zeros(x.shape), where=n > 0)
    inside = (p > 0) & (p < 1)
    return np.where(inside, (1 - 2 * p) ** 2 / np.where(inside, p * (1 - p), 1.0), np.inf)


def _ratio(
    m_c: np.ndarray,
    v_c: np.ndarray,
    m_t: np.ndarray,
    v_t: np.ndarray,
    n: np.ndarray,
    comparisons: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The always-valid ratio interval as relative lifts (stats.compare_means's)."""
    alpha = stats.DEFAULT_ALPHA / comparisons
    x = n * stats.sequential_rho(alpha, stats.DEFAULT_TARGET_UNITS) ** 2
    boundary = np.sqrt(2.0 * (1.0 + 1.0 / x) * (0.5 * np.log1p(x) - math.log(alpha)))
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.log(m_t / m_c)
        se = np.hypot(np.sqrt(v_t) / m_t, np.sqrt(v_c) / m_c)
    return np.expm1(log_ratio - se * boundary), np.expm1(log_ratio + se * boundary)


def _rate_ratio(x_c, n_c, x_t, n_t, comparisons):  # type: ignore[no-untyped-def]
    p_c, p_t = x_c / n_c, x_t / n_t
    return _ratio(p_c, p_c * (1 - p_c) / n_c, p_t, p_t * (1 - p_t) / n_t, n_c + n_t, comparisons)


def _srm_flagged(n: np.ndarray, shares: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """The sequential SRM flag (stats.srm_sequential_p < threshold) and chi-square's."""
    theta = np.array(shares) / sum(shares)
    prior = srm.SRM_PRIOR_CONCENTRATION * theta
    total = n.sum(axis=-1)
    log_bf = gammaln(srm.SRM_PRIOR_CONCENTRATION) - gammaln(srm.SRM_PRIOR_CONCENTRATION + total)
    log_bf = log_bf + (gammaln(prior + n) - gammaln(prior) - n * np.log(theta)).sum(axis=-1)
    expected = total[..., None] * theta
    statistic = ((n - expected) ** 2 / expected).sum(axis=-1)
    return log_bf > -math.log(srm.SRM_THRESHOLD), chi2.sf(
        statistic, len(shares) - 1
    ) < srm.SRM_THRESHOLD


def replay(scenario: Scenario, runs: int, seed: int) -> Outcome:
    """What `run` gives for the same draws, computed at once (allocated experiences only)."""
    if not scenario.allocated:
        raise ValueError("replay follows the allocation's window only")
    d = draw(scenario, runs, seed)
    n, x = d.units.astype(float), d.conversions.astype(float)
    k, g = scenario.variants, len(scenario.guarded)
    flagged, chi2_flagged = _srm_flagged(n, scenario.shares)
    n_c, x_c = n[..., 0], x[..., 0]
    found = wrong = np.zeros(n.shape[:2], dtype=bool)
    pause = np.zeros(n.shape[:2], dtype=bool)
    first_rule = np.full(n.shape[:2], "", dtype=object)
    for j in range(1, k + 1):
        n_t, x_t = n[..., j], x[..., j]
        skew = _rate_skewness_sq(x_c + x_t, n_c + n_t)  # pooled over the two arms
        enough = _gated(n_c, skew, scenario.min_units) & _gated(n_t, skew, scenario.min_units)
        low, high = _rate_ratio(x_c, n_c, x_t, n_t, k)
        judged = enough & ~flagged
        beats, loses = judged & (low > 0), judged & ~(low > 0) & (high < 0)
        found = found | beats
        if scenario.lift >= 0:
            wrong = wrong | loses
        if scenario.lift <= 0:
            wrong = wrong | beats
        harmed = np.full(n.shape[:2], "", dtype=object)
        for guard in scenario.guarded:
            if guard.name == "revenue":
                assert d.revenue is not None and d.revenue_sq is not None
                s_c, q_c, s_t, q_t = (
                    d.revenue[..., 0],
                    d.revenue_sq[..., 0],
                    d.revenue[..., j],
                    d.revenue_sq[..., j],
                )
                skew = _capped_skewness_sq(s_c + s_t, q_c + q_t, n_c + n_t, scenario.cap)
                ok = _gated(n_c, skew, scenario.min_units) & _gated(n_t, skew, scenario.min_units)
                var_c = np.maximum(q_c - s_c * s_c / n_c, 0) / (n_c - 1)
                var_t = np.maximum(q_t - s_t * s_t / n_t, 0) / (n_t - 1)
                _, g_high = _ratio(s_c / n_c, var_c / n_c, s_t / n_t, var_t / n_t, n_c + n_t, k * g)
                harm = ok & (g_high < -stats.GUARDRAIL_MARGIN)
            else:
                e_c, e_t = (
                    d.events[guard.name][..., 0].astype(float),
                    d.events[guard.name][..., j].astype(float),
                )
                skew = _rate_skewness_sq(e_c + e_t, n_c + n_t)
                ok = _gated(n_c, skew, scenario.min_units) & _gated(n_t, skew, scenario.min_units)
                g_low, _ = _rate_ratio(e_c, n_c, e_t, n_t, k * g)
                harm = ok & (g_low > stats.GUARDRAIL_MARGIN)
            harmed = np.where(
                harm, np.where(harmed == "", guard.name, harmed + "," + guard.name), harmed
            )
        harmed = np.where(flagged, "", harmed)
        futile = (
            judged & ~beats & ~loses & (high < scenario.mde)
            if scenario.mde is not None
            else np.zeros_like(beats)
        )
        rule = np.where(
            loses, LOSES, np.where(harmed != "", HARM + ":" + harmed, np.where(futile, FUTILE, ""))
        )
        first_rule = np.where(pause, first_rule, rule)
        pause = pause | (rule != "")
    pause_night = _first(pause)
    rows = np.arange(runs)
    at = np.minimum(pause_night, scenario.nights - 1)
    rules = tuple(str(first_rule[r, at[r]]) if pause_night[r] < NEVER else "" for r in rows)
    # after a pause the run stops: nothing later counts
    alive = np.arange(scenario.nights)[None, :] <= pause_night[:, None]
    return Outcome(
        scenario,
        pause_night,
        rules,
        _first(wrong & alive),
        _first(found & alive),
        _first(flagged & alive),
        (chi2_flagged & alive).any(axis=1),
    )


def _capped_skewness_sq(
    total: np.ndarray, total_sq: np.ndarray, n: np.ndarray, cap: float
) -> np.ndarray:
    """gate._skewness_bound of capped revenue."""
    mu, m2 = total / n, total_sq / n
    variance = m2 - mu * mu
    third = np.maximum(cap * m2 - 3 * mu * m2 + 2 * mu**3, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            variance > 0, third * third / np.where(variance > 0, variance, 1.0) ** 3, np.inf
        )


# -- issue 20's table: every row at two traffics and two base rates -------------------------

# name -> (units a day over every arm, holdout share)
TRAFFICS = {"4,000 a day, 50 : 50": (4000, 0.5), "2,000 a day, 10 % holdout": (2000, 0.1)}
# base rate -> the plan's minimum detectable effect there (one the forecast reaches in time)
PLAN_EFFECT = {0.05: 0.10, 0.005: 0.20}
GUARDED = (Guarded("revenue"), Guarded("unsubscribe", 0.01), Guarded("complaint", 0.002))
LOOKS = (30, 120, 365)


def cell(base: float, traffic: str, **changes: Any) -> Scenario:
    """The scenario of one cell of the table: its base rate, traffic and plan's effect."""
    daily, holdout = TRAFFICS[traffic]
    return Scenario(
        **{"mde": PLAN_EFFECT[base], **changes}, base=base, daily_units=daily, holdout=holdout
    )


def forecast_day(scenario: Scenario) -> int | None:
    """The day `earnest plan` forecasts for the scenario's plan at its traffic and base rate."""
    from earnest.report.planning import forecast

    said = forecast(_doc(scenario), scenario.daily_units, scenario.base)
    return said.days_to_detect


def a_a(base: float, traffic: str, variants: int, runs: int, seed: int) -> Outcome:
    """A/A, futility off (the plan names no effect), every look of a year."""
    return replay(cell(base, traffic, variants=variants, mde=None, nights=LOOKS[-1]), runs, seed)


def true_effect(base: float, traffic: str, times: float, runs: int, seed: int) -> Outcome:
    """Variants truly `times` the plan's effect better (worse when negative): a year of
    nights for winners (or up to the plan's forecast day, if later), up to the forecast
    day for losers."""
    scenario = cell(base, traffic)
    day = forecast_day(scenario)
    nights = max(LOOKS[-1], day or 0)
    if times < 0:
        if day is None:
            raise ValueError("the plan's effect cannot be found within the forecast's horizon")
        nights = day
    lift = times * PLAN_EFFECT[base]
    return replay(cell(base, traffic, lift=lift, nights=nights), runs, seed)


def guarded_a_a(base: float, traffic: str, runs: int, seed: int, *, sigma: float = 1.0) -> Outcome:
    """A/A with 4 variants and 3 guardrail metrics (capped revenue, two events), 30 looks."""
    return replay(
        cell(base, traffic, variants=4, mde=None, guarded=GUARDED, sigma=sigma), runs, seed
    )


def ratio_coverage(
    runs: int, seed: int, *, units: int = 5_000, base: float = 0.005, lift: float = 0.2
) -> tuple[tuple[float, float], tuple[float, float]]:
    """How often the fixed-horizon 95 % interval misses the true relative lift below and
    above it, at few conversions: (ratio interval, delta method's)."""
    rng = np.random.default_rng(seed)
    misses = np.zeros(4)
    for x_c, x_t in rng.binomial(units, [base, base * (1 + lift)], size=(runs, 2)):
        lift_ = stats.compare(stats.Arm(units, int(x_c)), stats.Arm(units, int(x_t)))
        low, high = lift_.ratio_low, lift_.ratio_high
        d_low, d_high = lift_.relative_low, lift_.relative_high
        misses += [  # None: an unbounded interval, which covers anything
            high is not None and high < lift,
            low is not None and low > lift,
            d_high is not None and d_high < lift,
            d_low is not None and d_low > lift,
        ]
    share = misses / runs
    return (float(share[0]), float(share[1])), (float(share[2]), float(share[3]))


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
    doc = _doc(Scenario(mde=None, allocated=False))
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
    """How often a relative interval covered the true lift, raw and capped revenue: the
    ratio interval (what verdicts read) and the delta method's (what they read before)."""

    runs: int
    raw: float  # the raw delta-method interval covers the raw metric's true lift
    capped: float  # the capped ratio interval covers the capped metric's true lift
    capped_raw_truth: float  # the capped ratio interval covers the raw metric's true lift
    width_ratio: float  # mean capped ratio / raw delta-method interval width
    raw_truth: float
    capped_truth: float
    capped_delta: float  # the capped delta-method interval covers the capped true lift


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
    hits = np.zeros(4)
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
            _covers(raw.relative_low, raw.relative_high, raw_truth),
            _covers(capped.ratio_low, capped.ratio_high, capped_truth),
            _covers(capped.ratio_low, capped.ratio_high, raw_truth),
            _covers(capped.relative_low, capped.relative_high, capped_truth),
        )
        widths.append(
            _width(capped.ratio_low, capped.ratio_high)
            / _width(raw.relative_low, raw.relative_high)
        )
    covered = hits / runs
    return Coverage(
        runs,
        float(covered[0]),
        float(covered[1]),
        float(covered[2]),
        float(np.mean(widths)),
        raw_truth,
        capped_truth,
        float(covered[3]),
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


def _covers(low: float | None, high: float | None, truth: float) -> bool:
    return low is not None and high is not None and low <= truth <= high


def _width(low: float | None, high: float | None) -> float:
    assert low is not None and high is not None
    return high - low


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
