"""The statistics behind the nightly report: lift, verdicts, futility, harm, multiple testing.

Owns the arithmetic that decides whether a variant measurably beats its holdout:
fixed-horizon intervals and p-values (what a person reads), always-valid confidence
sequences (what the verdict, and so a pause, is read from, because the report looks
every night), futility against the plan's effect, harm on a guardrail metric, and the Holm
and Benjamini-Hochberg adjustments (sample-ratio mismatch: `earnest.report.srm`; the
small-counts gate: `earnest.report.gate`). The method and its references: docs/statistics.md.

Standard library only (`math`, `statistics.NormalDist`): the Lambda package carries no numpy
or scipy. No pydantic, boto3 or `earnest_aws`; callers aggregate events into `Arm`s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

from earnest.experiences import defaults
from earnest.report import metrics
from earnest.report.metrics import Sums

VERDICTS = ("beats_default", "inconclusive", "loses_to_default", "needs_more_data")
DEFAULT_ALPHA = 0.05
# GrowthBook's default sequential tuning parameter: the total units (both arms) at which
# the confidence sequence is narrowest. Earnest's plans ask for 500-3000 units per arm,
# so verdicts start at 1000-6000 units per comparison; see docs/statistics.md.
DEFAULT_TARGET_UNITS = 5000
# The declared non-inferiority margin of every guardrail metric (docs/statistics.md,
# "Guardrail metrics"): a variant is paused for harm once its always-valid relative interval
# on the metric lies entirely below -margin, whatever the primary metric says.
GUARDRAIL_MARGIN = defaults.GUARDRAIL_MARGIN

_STANDARD_NORMAL = NormalDist()
_INF = math.inf
_MAX_EXP = 700.0  # math.exp overflows just past 709


@dataclass(frozen=True, slots=True, init=False)
class Arm:
    """Sufficient statistics of one arm, per unit (a unit is a bucketed visitor).

    Per declared metric (`earnest.report.metrics`), the sum over units of the unit's value
    and of its square: a night's aggregation is a few numbers per arm and any day's arm is
    the sum of the days before it. `Arm(units, conversions, revenue, revenue_sq,
    revenue_capped, revenue_capped_sq)` writes the built-in metrics' sums out by hand
    (`metrics.written_out`); `Arm(units, sums=...)` gives any declared metric's.
    """

    units: int
    sums: Mapping[str, Sums]

    def __init__(
        self,
        units: int,
        conversions: int = 0,
        revenue: float = 0.0,
        revenue_sq: float = 0.0,
        revenue_capped: float | None = None,
        revenue_capped_sq: float | None = None,
        *,
        sums: Mapping[str, Sums] | None = None,
    ) -> None:
        written = metrics.written_out(
            conversions, revenue, revenue_sq, revenue_capped, revenue_capped_sq
        )
        object.__setattr__(self, "units", units)
        object.__setattr__(self, "sums", dict(written if sums is None else sums))
        # Inconsistent sums mean a bug in the aggregation: fail loudly rather than
        # report a confident interval from an impossible variance.
        if units < 0:
            raise ValueError(f"an arm needs units >= 0 (got {units})")
        for name, (total, total_sq) in self.sums.items():
            declared = metrics.metric(name)
            if declared.binary and not 0 <= total <= units:
                raise ValueError(
                    f"an arm needs 0 <= {declared.total} <= units (got {total:g}/{units})"
                )
            _check_sums(units, total, total_sq)

    @property
    def conversions(self) -> int:
        """Units that converted at least once (the small-counts gate reads them)."""
        return int(self.total(metrics.CONVERSION_RATE.name))

    def _sums(self, name: str) -> Sums:
        """(sum, sum of squares) over units of the metric's per-unit value."""
        return self.sums.get(metrics.metric(name).name, (0.0, 0.0))

    def total(self, metric: str) -> float:
        """The sum over units of `metric`'s per-unit value (converted: 0 or 1)."""
        return self._sums(metric)[0]

    def mean(self, metric: str) -> float:
        """The arm's mean of `metric` (one of METRICS); 0 for an arm without units."""
        total = self._sums(metric)[0]
        return total / self.units if self.units else 0.0

    def variance(self, name: str) -> float:
        """Per-unit variance of a metric: p(1-p) for a rate, the sample variance otherwise.

        p(1-p) is the textbook two-proportion (Wald) variance; revenue has no such
        closed form, so it comes from the sum of squares with n - 1 (Bessel). Fewer than
        two units give no estimate: NaN, which `compare` turns into an unbounded interval.
        """
        total, total_sq = self._sums(name)
        if self.units < 2:
            return math.nan
        if metrics.metric(name).binary:
            p = self.mean(name)
            return p * (1.0 - p)
        return sample_variance(self.units, total, total_sq)


def sample_variance(n: int, total: float, total_sq: float) -> float:
    """(sum of squares - sum**2 / n) / (n - 1), floored at 0 (rounding can dip below)."""
    return max(total_sq - total * total / n, 0.0) / (n - 1)


def _check_sums(units: int, total: float, total_sq: float) -> None:
    if not (math.isfinite(total) and math.isfinite(total_sq)):
        raise ValueError("revenue and revenue_sq must be finite")
    if total_sq < 0:
        raise ValueError("revenue_sq is a sum of squares and cannot be negative")
    # Cauchy-Schwarz: revenue**2 <= units * revenue_sq. Catches a missing revenue_sq
    # (left at its default 0), which would otherwise claim zero variance.
    if total * total > units * total_sq * (1 + 1e-9) + 1e-9:
        raise ValueError("revenue_sq is too small for revenue (sum of squares missing?)")


@dataclass(frozen=True, slots=True)
class Means:
    """One arm on one metric as `compare_means` reads it.

    `mean` is what the difference is taken of; `unadjusted_mean` what a relative lift is
    divided by. They are the same number except under CUPED (earnest.report.cuped), whose
    adjusted means are not means of anything a person could read.
    """

    units: int
    mean: float
    variance: float  # per unit; NaN below two units
    unadjusted_mean: float

    @classmethod
    def of(cls, arm: Arm, metric: str) -> Means:
        mean = arm.mean(metric)
        return cls(arm.units, mean, arm.variance(metric), mean)

    @property
    def variance_of_mean(self) -> float:
        return self.variance / self.units if self.units >= 2 else math.nan


@dataclass(frozen=True, slots=True)
class Lift:
    """A variant against its own holdout on one metric.

    The fixed-horizon interval and p-value are what a single look would report; the
    sequential interval and p-value stay valid however often the report looks, and they
    carry the multiple-comparison correction, so verdicts are read from them only.
    """

    metric: str  # one of METRICS
    holdout: float  # holdout's mean (unadjusted under CUPED)
    variant: float  # variant's mean (unadjusted under CUPED)
    absolute: float  # variant - holdout (the adjusted difference under CUPED)
    absolute_low: float  # fixed-horizon (1 - alpha) interval for `absolute`
    absolute_high: float
    relative: float | None  # absolute / holdout (None when the holdout's mean is 0)
    relative_low: float | None  # delta-method (1 - alpha) interval for `relative`
    relative_high: float | None
    p_value: float  # fixed-horizon two-sided, for `absolute` (the absolute interval's scale)
    relative_p_value: float | None  # fixed-horizon two-sided, on the relative interval's scale
    sequential_low: float  # always-valid interval for `absolute`, at alpha / comparisons
    sequential_high: float
    sequential_p_value: float  # always-valid p-value, Bonferroni: x comparisons, capped at 1
    sequential_relative_low: float | None  # always-valid interval for `relative` (delta method)
    sequential_relative_high: float | None
    alpha: float = DEFAULT_ALPHA
    comparisons: int = 1
    # The ratio interval: the relative lift from the log of the ratio of the arms' means,
    # whose normal approximation holds at few conversions (docs/statistics.md, "The
    # ratio interval"). None when either mean is not positive.
    ratio_low: float | None = None  # fixed-horizon (1 - alpha)
    ratio_high: float | None = None
    # Always-valid, at alpha / comparisons: what verdicts, futility and harm read.
    sequential_ratio_low: float | None = None
    sequential_ratio_high: float | None = None
    sequential_ratio_p_value: float = 1.0  # that the ratio is 1; x comparisons, capped at 1
    log_ratio: float | None = None  # log(variant mean / holdout mean)
    log_ratio_se: float | None = None  # its delta-method standard error
    mixture: float = 0.0  # x = N rho^2 of the confidence sequence, for p-values at any null


def compare(
    holdout: Arm,
    variant: Arm,
    metric: str = "conversion_rate",
    *,
    alpha: float = DEFAULT_ALPHA,
    comparisons: int = 1,
    target_units: int = DEFAULT_TARGET_UNITS,
) -> Lift:
    """Lift of `variant` over its `holdout` on `metric`.

    Fixed-horizon: a Wald interval and z-test on the difference of means with the
    unpooled variance var_t/n_t + var_c/n_c, so the p-value and the interval agree
    (p < alpha exactly when the interval excludes 0). Relative lift: the delta method.

    Sequential: the asymptotic confidence sequence of Waudby-Smith et al. (2023), as
    GrowthBook applies it to two samples, at alpha / comparisons (Bonferroni), tuned to
    be narrowest at `target_units` units in the two arms together.

    An arm with fewer than two units has no variance estimate: the intervals are
    unbounded (-inf, inf) and the p-values 1. Zero variance in both arms (no or all
    units converted) gives a zero-width interval and a p-value of 0 or 1.
    """
    return compare_means(
        Means.of(holdout, metric),
        Means.of(variant, metric),
        metric,
        alpha=alpha,
        comparisons=comparisons,
        target_units=target_units,
    )


def compare_means(
    holdout: Means,
    variant: Means,
    metric: str,
    *,
    alpha: float = DEFAULT_ALPHA,
    comparisons: int = 1,
    target_units: int = DEFAULT_TARGET_UNITS,
) -> Lift:
    """`compare` on one metric's means and variances: the one place the arithmetic lives.

    The relative lift divides by the holdout's `unadjusted_mean` and its delta method uses
    the unadjusted ratio, as gbstats does for regression-adjusted (CUPED) statistics.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if comparisons < 1:
        raise ValueError(f"comparisons must be at least 1, got {comparisons}")
    if target_units < 1:
        raise ValueError(f"target_units must be at least 1, got {target_units}")
    diff = variant.mean - holdout.mean
    se = math.sqrt(holdout.variance_of_mean + variant.variance_of_mean)  # NaN below 2 units

    z = _z(alpha)
    low, high = _interval(diff, se, z)
    seq_alpha = alpha / comparisons
    rho = sequential_rho(seq_alpha, target_units)
    n = holdout.units + variant.units
    boundary = sequential_boundary(n, rho, seq_alpha)  # in standard errors, on any scale
    seq_low, seq_high = _interval(diff, se * boundary, 1.0)

    relative: float | None = None
    rel_low = rel_high = rel_p = seq_rel_low = seq_rel_high = None
    base = holdout.unadjusted_mean
    if base != 0.0:
        relative = diff / base
        # Delta method for mean_t / mean_c - 1 with independent arms:
        # Var ~ var_t / mean_c^2 + mean_t^2 var_c / mean_c^4, arranged not to underflow.
        ratio = variant.unadjusted_mean / base
        se_rel = math.sqrt(
            variant.variance_of_mean + ratio * ratio * holdout.variance_of_mean
        ) / abs(base)
        rel_low, rel_high = _interval(relative, se_rel, z)
        rel_p = _two_sided_p(relative, se_rel)
        seq_rel_low, seq_rel_high = _interval(relative, se_rel * boundary, 1.0)

    log_ratio = log_se = None
    ratio_ends: tuple[float | None, ...] = (None, None, None, None)
    ratio_p = 1.0
    if holdout.mean > 0.0 and variant.mean > 0.0:
        # Var(log mean) ~ Var(mean) / mean^2 per arm (the delta method on the log scale).
        log_ratio = math.log(variant.mean) - math.log(holdout.mean)  # no underflow
        log_se = math.hypot(
            math.sqrt(variant.variance_of_mean) / variant.mean,
            math.sqrt(holdout.variance_of_mean) / holdout.mean,
        )
        ratio_ends = (
            *_ratio_interval(log_ratio, log_se, z),
            *_ratio_interval(log_ratio, log_se * boundary, 1.0),
        )
        ratio_p = min(1.0, comparisons * _sequential_p(log_ratio, log_se, n, rho))

    return Lift(
        metric=metric,
        holdout=holdout.unadjusted_mean,
        variant=variant.unadjusted_mean,
        absolute=diff,
        absolute_low=low,
        absolute_high=high,
        relative=relative,
        relative_low=rel_low,
        relative_high=rel_high,
        p_value=_two_sided_p(diff, se),
        relative_p_value=rel_p,
        sequential_low=seq_low,
        sequential_high=seq_high,
        sequential_p_value=min(1.0, comparisons * _sequential_p(diff, se, n, rho)),
        sequential_relative_low=seq_rel_low,
        sequential_relative_high=seq_rel_high,
        alpha=alpha,
        comparisons=comparisons,
        ratio_low=ratio_ends[0],
        ratio_high=ratio_ends[1],
        sequential_ratio_low=ratio_ends[2],
        sequential_ratio_high=ratio_ends[3],
        sequential_ratio_p_value=ratio_p,
        log_ratio=log_ratio,
        log_ratio_se=log_se,
        mixture=n * rho * rho,
    )


def _ratio_interval(log_ratio: float, se: float, z: float) -> tuple[float, float]:
    """A log-ratio interval as relative lifts, exp(end) - 1: never below -100 %."""
    low, high = _interval(log_ratio, se, z)
    return _expm1(low), _expm1(high)


def _expm1(value: float) -> float:
    """exp(value) - 1 without overflow: inf past exp's range, -1 far below it."""
    return math.expm1(max(value, -_MAX_EXP)) if value < _MAX_EXP else _INF


def sequential_rho(alpha: float, target_units: int) -> float:
    """The normal-mixture parameter rho that makes the boundary narrowest at `target_units`.

    Minimising the half-width over rho at N = target_units gives x = log(1 + x) + 2 log(1/a)
    for x = N rho^2; one fixed-point step from x = 2 log(1/a) is the closed form that
    Waudby-Smith et al. (2023) give and GrowthBook uses.
    """
    two_log = -2.0 * math.log(alpha)
    return math.sqrt((two_log + math.log(two_log + 1.0)) / target_units)


def sequential_boundary(n: int, rho: float, alpha: float) -> float:
    """Half-width of the (1 - alpha) confidence sequence, in standard errors, at n units.

    Waudby-Smith et al. (2023): sigma * sqrt(2 (N rho^2 + 1) / (N^2 rho^2) *
    log(sqrt(N rho^2 + 1) / alpha)) with sigma^2 = N * se^2, the per-unit variance of the
    difference (N = n, both arms' units), which simplifies to
    se * sqrt(2 (1 + 1/x) log(sqrt(1 + x) / alpha)) with x = N rho^2. Multiply by any
    standard error (GrowthBook applies it to the relative lift's too).
    """
    x = n * rho * rho
    if x <= 0.0:
        return _INF  # no units: no bound
    return math.sqrt(2.0 * (1.0 + 1.0 / x) * (0.5 * math.log1p(x) - math.log(alpha)))


def cannot_reach(lift: Lift, effect: float | None) -> bool:
    """Futility: the always-valid ratio interval ends below `effect` (None: no futility).

    Read with `effect` = the plan's minimum detectable effect, it says the variant can no
    longer beat its default by what the plan set out to find. It reads the interval the
    verdict reads, so it never fires where that interval contains 0 unless the plan's
    effect is above 0; a true lift of at least `effect` is called futile on some night
    with probability at most about alpha / 2.
    """
    high = lift.sequential_ratio_high
    return effect is not None and high is not None and high < effect


def harms(lift: Lift, margin: float = GUARDRAIL_MARGIN, *, lower_is_better: bool = False) -> bool:
    """Significant harm on a guardrail metric: non-inferiority at `margin` is rejected.

    One-sided: the always-valid ratio interval lies entirely below -margin (entirely
    above +margin for a lower-is-better metric such as unsubscribes), so the variant is
    worse than its holdout by more than the declared margin, with the error controlled
    over every night (at most about alpha / 2 for a variant within the margin).
    """
    if lower_is_better:
        low = lift.sequential_ratio_low
        return low is not None and low > margin
    high = lift.sequential_ratio_high
    return high is not None and high < -margin


def ratio_p_value(lift: Lift, null: float = 0.0, *, below: bool | None = None) -> float:
    """The always-valid p-value that the relative lift is `null`, on the ratio interval's
    scale, Bonferroni over the lift's comparisons: below alpha exactly when its
    always-valid ratio interval excludes `null`.

    `below`: one-sided, True for evidence that the lift is below `null` (futility, harm to
    a higher-is-better metric), False for above it; 1 when the estimate is on the other
    side. These are the p-values Benjamini-Hochberg adjusts, pauses included.
    """
    if lift.log_ratio is None or lift.log_ratio_se is None or null <= -1.0:
        return 1.0
    shift = lift.log_ratio - math.log1p(null)
    if below is not None and (shift < 0.0) != below:
        return 1.0
    p = _mixture_p(shift, lift.log_ratio_se, lift.mixture)
    return min(1.0, lift.comparisons * p)


def verdict(lift: Lift, *, enough_units: bool, srm_flagged: bool) -> str | None:
    """What the report says about a variant, read from the always-valid ratio interval only.

    None while the sample ratio is off: the arms are not comparable, so no number about
    them can be trusted. Below the plan's minimum units or the small-counts gate the answer
    is `needs_more_data` whatever the interval says, because the asymptotic interval is not
    yet reliable (`earnest.report.gate.enough_data` is that gate).
    """
    if srm_flagged:
        return None
    if not enough_units:
        return "needs_more_data"
    low, high = lift.sequential_ratio_low, lift.sequential_ratio_high
    if low is not None and low > 0.0:
        return "beats_default"
    if high is not None and high < 0.0:
        return "loses_to_default"
    return "inconclusive"


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's (1979) step-down adjusted p-values, in the input order.

    Controls the family-wise error rate under any dependence (variants share their
    holdout) and rejects everything Bonferroni does and often more.
    """
    if any(not 0.0 <= p <= 1.0 for p in p_values):  # also refuses NaN
        raise ValueError("p-values must be in [0, 1]")
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini and Hochberg's (1995) step-up adjusted p-values, in the input order.

    Rejecting those below q controls the false discovery rate at q across the family
    (independent or positively dependent tests). Used across the program's verdicts.
    """
    if any(not 0.0 <= p <= 1.0 for p in p_values):  # also refuses NaN
        raise ValueError("p-values must be in [0, 1]")
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i], reverse=True)
    adjusted = [0.0] * m
    running = 1.0
    for rank, i in enumerate(order):
        running = min(running, p_values[i] * m / (m - rank))
        adjusted[i] = running
    return adjusted


# -- helpers ----------------------------------------------------------------------------


def _z(alpha: float) -> float:
    # From the lower tail: 1 - alpha/2 rounds to 1.0 for tiny alpha, alpha/2 does not.
    return -_STANDARD_NORMAL.inv_cdf(alpha / 2.0)


def _interval(centre: float, se: float, z: float) -> tuple[float, float]:
    half = z * se
    if not math.isfinite(half):  # no variance estimate, or no units for the boundary
        return -_INF, _INF
    return centre - half, centre + half


def _two_sided_p(diff: float, se: float) -> float:
    if math.isnan(se):
        return 1.0
    if se == 0.0:
        return 1.0 if diff == 0.0 else 0.0
    # erfc keeps precision in the far tail, where 1 - cdf would round to 0.
    return math.erfc(abs(diff) / se / math.sqrt(2.0))


def _sequential_p(diff: float, se: float, n: int, rho: float) -> float:
    """1 / the normal-mixture martingale at 0: the smallest alpha whose sequence excludes 0."""
    return _mixture_p(diff, se, n * rho * rho)


def _mixture_p(diff: float, se: float, x: float) -> float:
    """The always-valid p-value of an estimate `diff` away from its null, x = N rho^2."""
    if math.isnan(se) or x <= 0.0:
        return 1.0
    if se == 0.0:
        return 1.0 if diff == 0.0 else 0.0
    z = diff / se
    z2 = z * z  # `** 2` raises OverflowError where `*` gives inf
    log_p = 0.5 * math.log1p(x) - x * z2 / (2.0 * (1.0 + x))
    return math.exp(min(log_p, 0.0))
