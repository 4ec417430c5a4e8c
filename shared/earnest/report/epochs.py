"""Lift across a bandit's epochs: each period of constant weights compared on its own, then
combined, so a re-weighting never mixes units assigned under different shares.

Pooling the units of every epoch into one comparison weights each period by how much of
its traffic the variant got: when the base rate drifts while the weights move (weekday,
season, a campaign), the pooled lift mixes that drift into the comparison (Simpson's
paradox; Optimizely's Epoch Stats Engine stratifies for the same reason). Here each epoch
gives the difference of means d_e between the variant and the holdout it ran beside, with
variance v_e; the epochs are combined with weights w_e proportional to their units
(post-stratification: the estimate is of the average effect over the periods as they
were), d = Σ w_e d_e, se² = Σ w_e² v_e. The interval is the report's confidence sequence
(stats.sequential_boundary at alpha / comparisons, N = every epoch's units of both arms)
around d; the relative lift divides by the holdout's pooled mean (its share never moves,
so every epoch's holdout is a sample of the same arm). SRM is checked per epoch, by each
night's report against the weights then live (an epoch is its own allocation).

Pure: stdlib only (and the core).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from earnest.report import stats

ALPHA = 0.05
TARGET_UNITS = 5000  # stats.compare's default N*


def _mean_var(n: float, s: float, ss: float) -> tuple[float, float]:
    mean = s / n
    return mean, max((ss - s * s / n) / max(n - 1, 1), 0.0)


def stratified(
    epochs: Sequence[Mapping[str, Sequence[float]]],
    variant: str,
    *,
    holdout: str = "holdout",
    comparisons: int = 1,
    alpha: float = ALPHA,
) -> dict[str, Any] | None:
    """The epoch-stratified lift of `variant` against `holdout` over `epochs` (each arm's
    units, sum and sum of squares of the metric); None when no epoch has both arms."""
    parts = []
    for arms in epochs:
        t, c = arms.get(variant), arms.get(holdout)
        if not t or not c or t[0] < 2 or c[0] < 2:
            continue
        (mt, vt), (mc, vc) = _mean_var(*t[:3]), _mean_var(*c[:3])
        parts.append((t[0] + c[0], mt - mc, vt / t[0] + vc / c[0], c))
    if not parts:
        return None
    units = math.fsum(p[0] for p in parts)
    diff = math.fsum(p[0] / units * p[1] for p in parts)
    se = math.sqrt(math.fsum((p[0] / units) ** 2 * p[2] for p in parts))
    level = alpha / max(1, comparisons)
    half = se * stats.sequential_boundary(
        int(units), stats.sequential_rho(level, TARGET_UNITS), level
    )
    control = math.fsum(p[3][1] for p in parts) / math.fsum(p[3][0] for p in parts)
    out: dict[str, Any] = {
        "epochs": len(parts),
        "units": int(units),
        "absolute": diff,
        "sequential_low": diff - half,
        "sequential_high": diff + half,
        "relative": None,
        "sequential_relative_low": None,
        "sequential_relative_high": None,
    }
    if control > 0:
        out["relative"] = diff / control
        out["sequential_relative_low"] = (diff - half) / control
        out["sequential_relative_high"] = (diff + half) / control
    return out


def pooled(epochs: Sequence[Mapping[str, Sequence[float]]]) -> dict[str, list[float]]:
    """Every epoch's arms summed into one: the naive comparison stratification replaces."""
    out: dict[str, list[float]] = {}
    for arms in epochs:
        for arm, numbers in arms.items():
            got = out.setdefault(arm, [0.0, 0.0, 0.0])
            for i in range(3):
                got[i] += float(numbers[i])
    return out
