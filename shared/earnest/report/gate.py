"""The small-counts gate: no verdict or pause until an interval's normal approximation holds.

Owns Cochran's rule as the report applies it (docs/statistics.md, "Small counts"): the
units an arm needs at a rate (`gate_units`), and whether a comparison may be judged at all
(`enough_data`: the plan's minimum units, then the gate on the metric's own values, pooled
over the two arms). The verdict, futility and harm (`earnest.report.stats`) are read only
past it.

Pure: stdlib only (and the core). It must not import boto3, pydantic or `earnest_aws`.
"""

from __future__ import annotations

import math

from earnest.report import metrics
from earnest.report.metrics import Sums
from earnest.report.stats import Arm

# The small-counts gate (docs/statistics.md, "Small counts"): Cochran's rule as Sugden,
# Smith and Jones (2000) refine it. The mean of n units is close enough to normal for an
# interval once n > 28 + 25 g^2, g the skewness of one unit's value: for a rate p that is
# g^2 = (1 - 2p)^2 / (p (1 - p)), about 25 units that converted at a low rate. Below it
# the interval is not trusted and there is no verdict (A/A simulations at a 0.5 % base
# rate gave false verdicts and pauses with a gate of 10 converters).
GATE_UNITS = 28.0
GATE_SKEWNESS = 25.0

_INF = math.inf


def gate_units(rate: float) -> float:
    """The units an arm needs at `rate` before its interval is trusted: 28 + 25 g^2.

    Cochran's rule as Sugden, Smith and Jones (2000) refine it, with g^2 = (1 - 2p)^2 /
    (p (1 - p)) the squared skewness of a unit's 0/1 value: about 25 / p at a low rate p.
    Infinite at a rate of 0 or 1 (no spread: nothing to approximate).
    """
    if not 0.0 < rate < 1.0:
        return _INF
    return GATE_UNITS + GATE_SKEWNESS * (1.0 - 2.0 * rate) ** 2 / (rate * (1.0 - rate))


def _skewness_bound(arm: Arm, metric: str, cap: float | None) -> float:
    """The squared skewness of a unit's `metric`, or a bound on it; inf when unknown.

    For a rate it is exact. For capped revenue, values lie in [0, cap], so E[Y^3] <= cap E[Y^2]
    bounds the third central moment, E[Y^3] - 3 mu E[Y^2] + 2 mu^3, from the sums the report
    keeps (no sum of cubes needed).
    """
    n = arm.units
    binary = metrics.metric(metric).binary
    if binary or cap is None:
        # Without a cap there is no bound: a unit's revenue is 0 unless it converted, so
        # its units that converted are gated as a rate.
        p = arm.mean(metric if binary else metrics.CONVERSION_RATE.name)
        return (1.0 - 2.0 * p) ** 2 / (p * (1.0 - p)) if 0.0 < p < 1.0 else _INF
    if n < 2:
        return _INF
    total, total_sq = arm._sums(metric)
    mu, m2 = total / n, total_sq / n
    variance = m2 - mu * mu
    if variance <= 0.0:
        return _INF
    third = max(cap * m2 - 3.0 * mu * m2 + 2.0 * mu**3, 0.0)
    return third * third / variance**3


def _pooled(holdout: Arm, variant: Arm) -> Arm:
    """The two arms as one: every declared metric's sums added."""
    sums: dict[str, Sums] = {}
    for name in metrics.names():
        (total_h, sq_h), (total_v, sq_v) = holdout._sums(name), variant._sums(name)
        sums[name] = (total_h + total_v, sq_h + sq_v)
    return Arm(holdout.units + variant.units, sums=sums)


def enough_data(
    holdout: Arm,
    variant: Arm,
    min_units: int,
    metric: str = "conversion_rate",
    cap: float | None = None,
) -> bool:
    """Whether a comparison may get a verdict: the plan's minimum units in each arm, then
    the small-counts gate (Cochran's rule, `gate_units`) on the metric's own values, pooled
    over the two arms (their distribution if the variant changes nothing, the case whose
    false calls the gate guards): a rate by its units that converted, capped revenue by a
    bound on its skewness from `cap` (the value every unit's capped revenue is at most;
    without one, by its units that converted).
    """
    pooled = _pooled(holdout, variant)
    need = GATE_UNITS + GATE_SKEWNESS * _skewness_bound(pooled, metric, cap)
    return all(arm.units >= min_units and arm.units >= need for arm in (holdout, variant))
