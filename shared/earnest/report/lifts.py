"""A variant's lift as the report states it: raw, CUPED-adjusted, and the one a verdict reads.

Owns the glue between the aggregation's totals and the statistics (`earnest.report.stats`,
`earnest.report.cuped`): the covariate of each metric, the adjusted lift when the covariate
explains something, the lift a verdict or a guardrail reads, and a lift as a JSON-ready dict
(an unbounded interval end is null).

Pure: stdlib only (and the core). It must not import boto3, pydantic or `earnest_aws`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from earnest.report import cuped, stats
from earnest.report.arms import arm_of
from earnest.report.totals import ArmTotals


def num(value: float | None) -> float | None:
    """JSON has no infinity: an unbounded interval end is null."""
    if value is None or not math.isfinite(value):
        return None
    return value


def lift_dict(lift: stats.Lift) -> dict[str, Any]:
    return {
        "metric": lift.metric,
        "holdout": lift.holdout,
        "variant": lift.variant,
        "absolute": lift.absolute,
        "absolute_low": num(lift.absolute_low),
        "absolute_high": num(lift.absolute_high),
        "relative": num(lift.relative),
        "relative_low": num(lift.relative_low),
        "relative_high": num(lift.relative_high),
        "p_value": lift.p_value,
        "relative_p_value": lift.relative_p_value,
        "sequential_low": num(lift.sequential_low),
        "sequential_high": num(lift.sequential_high),
        "sequential_p_value": lift.sequential_p_value,
        "sequential_relative_low": num(lift.sequential_relative_low),
        "sequential_relative_high": num(lift.sequential_relative_high),
        "ratio_low": num(lift.ratio_low),
        "ratio_high": num(lift.ratio_high),
        "sequential_ratio_low": num(lift.sequential_ratio_low),
        "sequential_ratio_high": num(lift.sequential_ratio_high),
        "sequential_ratio_p_value": lift.sequential_ratio_p_value,
        "comparisons": lift.comparisons,
    }


def covariate(pre: Mapping[str, cuped.Covariate] | None, metric: str) -> cuped.Covariate | None:
    """The covariate of `metric` the aggregation read (None: no pre-exposure days, or a
    metric CUPED does not adjust)."""
    return None if pre is None else pre.get(metric)


def adjusted_lift(
    control: ArmTotals, vt: ArmTotals, metric: str, comparisons: int
) -> stats.Lift | None:
    """The CUPED lift on `metric` when the covariate was read and explains something."""
    x_c, x_t = covariate(control.pre_exposure, metric), covariate(vt.pre_exposure, metric)
    if x_c is None or x_t is None:
        return None
    return cuped.compare(arm_of(control), arm_of(vt), metric, x_c, x_t, comparisons=comparisons)


def judged(control: ArmTotals, vt: ArmTotals, metric: str, comparisons: int) -> stats.Lift:
    """The lift a verdict or a guardrail reads: CUPED-adjusted when it can be, else raw."""
    lift = adjusted_lift(control, vt, metric, comparisons)
    if lift is not None:
        return lift
    return stats.compare(arm_of(control), arm_of(vt), metric, comparisons=comparisons)


def judged_lift(variant: Mapping[str, Any], metric: str) -> dict[str, Any]:
    """A report variant's lift on `metric` as the verdict read it (adjusted, else raw)."""
    adjusted = variant.get("lift_adjusted") or {}
    found: dict[str, Any] = adjusted.get(metric) or variant["lift"][metric]
    return found
