"""CUPED: a variant's lift with each unit's pre-exposure metric as a covariate.

Owns the regression adjustment of Deng, Xu, Kohavi and Walker (2013), *Improving the
sensitivity of online controlled experiments by utilizing pre-experiment data* (WSDM), in
the form GrowthBook's gbstats computes it (`RegressionAdjustedStatistic`): with y a unit's
metric after its first exposure and x the same metric in the days before it, one theta
pooled over both arms, theta = Cov(x, y) / Var(x), and each arm's adjusted mean
y_bar - theta x_bar with variance Var(y) + theta^2 Var(x) - 2 theta Cov(x, y). Randomisation
makes x independent of the arm, so the adjustment removes the part of the variance x
explains (a share rho^2) and leaves the difference unbiased. docs/statistics.md, "CUPED".

Standard library only, like earnest.report.stats. It must not import boto3 or `earnest_aws`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from earnest.report import metrics, stats


@dataclass(frozen=True, slots=True)
class Covariate:
    """One arm's sums of the covariate x of one metric, over its units."""

    total: float  # sum x
    total_sq: float  # sum x**2
    product: float  # sum x * y, y the unit's value of the metric after exposure


def _variance(units: int, total: float, total_sq: float, binary: bool) -> float:
    # gbstats' ProportionStatistic for 0/1 values: p(1 - p), as stats.Arm does for y.
    if binary:
        p = total / units
        return p * (1.0 - p)
    return stats.sample_variance(units, total, total_sq)


def _covariance(units: int, y_total: float, x: Covariate) -> float:
    return (x.product - y_total * x.total / units) / (units - 1)


def theta(
    holdout: stats.Arm, variant: stats.Arm, metric: str, x_c: Covariate, x_t: Covariate
) -> float:
    """The pooled regression coefficient of y on x; 0 when x or y does not vary."""
    return pooled_theta([(holdout, x_c), (variant, x_t)], metric)


def pooled_theta(arms: Sequence[tuple[stats.Arm, Covariate]], metric: str) -> float:
    """The regression coefficient of y on x pooled over `arms` (two for a lift, every
    serving variant for a bandit's posterior); 0 when x or y does not vary."""
    n = sum(arm.units for arm, _ in arms)
    if n < 2:
        return 0.0
    binary = metrics.metric(metric).binary
    y_total = math.fsum(arm.total(metric) for arm, _ in arms)
    y_sq = math.fsum(_sum_sq(arm, metric) for arm, _ in arms)
    x = Covariate(
        math.fsum(c.total for _, c in arms),
        math.fsum(c.total_sq for _, c in arms),
        math.fsum(c.product for _, c in arms),
    )
    var_x = _variance(n, x.total, x.total_sq, binary)
    var_y = _variance(n, y_total, y_sq, binary)
    if var_x <= 0.0 or var_y <= 0.0:
        return 0.0
    return _covariance(n, y_total, x) / var_x


def _sum_sq(arm: stats.Arm, metric: str) -> float:
    return arm.sums.get(metric, (0.0, 0.0))[1]


def adjusted(
    arm: stats.Arm, metric: str, x: Covariate, coefficient: float, centre: float = 0.0
) -> stats.Means:
    """The arm's adjusted mean and variance, with its unadjusted mean beside them.

    The adjusted mean is y_bar - theta (x_bar - centre); with `centre` the covariate's mean
    over both arms it estimates the arm's own mean, which the ratio interval divides
    (the difference, and so gbstats' numbers, do not depend on it).
    """
    unadjusted = arm.mean(metric)
    if arm.units < 2:
        return stats.Means(arm.units, unadjusted, math.nan, unadjusted)
    var_x = _variance(arm.units, x.total, x.total_sq, metrics.metric(metric).binary)
    cov = _covariance(arm.units, arm.total(metric), x)
    variance = arm.variance(metric) + coefficient * coefficient * var_x - 2 * coefficient * cov
    mean = unadjusted - coefficient * (x.total / arm.units - centre)
    return stats.Means(arm.units, mean, max(variance, 0.0), unadjusted)


def compare(
    holdout: stats.Arm,
    variant: stats.Arm,
    metric: str,
    x_c: Covariate,
    x_t: Covariate,
    *,
    comparisons: int = 1,
) -> stats.Lift | None:
    """The CUPED-adjusted lift (as `stats.compare`), or None when x explains nothing."""
    if not metrics.metric(metric).cuped:  # the metrics declared `cuped` (earnest.report.metrics)
        raise ValueError(f"CUPED adjusts {metrics.cuped_names()}, not {metric!r}")
    coefficient = theta(holdout, variant, metric, x_c, x_t)
    if coefficient == 0.0:
        return None
    units = holdout.units + variant.units
    centre = (x_c.total + x_t.total) / units if units else 0.0
    return stats.compare_means(
        adjusted(holdout, metric, x_c, coefficient, centre),
        adjusted(variant, metric, x_t, coefficient, centre),
        metric,
        comparisons=comparisons,
    )
