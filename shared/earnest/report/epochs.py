"""Lift across a bandit's epochs: each period of constant weights compared on its own, then
combined, so a re-weighting never mixes units assigned under different shares.

Pooling the units of every epoch into one comparison weights each period by how much of
its traffic the variant got: when the base rate drifts while the weights move (weekday,
season, a campaign), the pooled lift mixes that drift into the comparison (Simpson's
paradox; Optimizely's Epoch Stats Engine stratifies for the same reason). Here each epoch
gives the difference of means d_e between the variant and the holdout it ran beside, with
variance v_e; the epochs are combined with weights w_e proportional to their units
(post-stratification: the estimate is of the average effect over the periods as they
were). Each arm's post-stratified mean, Σ w_e m_e with variance Σ w_e² v_e / n_e, goes
through the report's one comparison (`stats.compare_means`), so the difference is
d = Σ w_e d_e with se² = Σ w_e² v_e, and the confidence sequence (at alpha / comparisons,
N = every epoch's units of both arms), the ratio interval and its always-valid p-value are
the very ones a verdict reads on one epoch. SRM is checked per epoch, by each night's
report against the weights then live (an epoch is its own allocation).

Pure: stdlib only (and the core).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from earnest.report import stats

Epoch = Mapping[str, Sequence[float]]  # arm -> units, sum, sum of squares of the metric


def _mean_var(numbers: Sequence[float], metric: str) -> tuple[float, float]:
    """The arm's mean and per-unit variance, as the report computes them (stats.Arm)."""
    arm = stats.Arm(int(numbers[0]), sums={metric: (float(numbers[1]), float(numbers[2]))})
    return arm.mean(metric), arm.variance(metric)


def stratified_means(
    epochs: Sequence[Epoch], variant: str, holdout: str, metric: str
) -> tuple[stats.Means, stats.Means] | None:
    """The holdout's and the variant's post-stratified means over the epochs in which both
    had at least two units (None: none did), as `stats.compare_means` reads them."""
    parts = [
        (arms[holdout], arms[variant])
        for arms in epochs
        if len(arms.get(variant) or ()) == 3
        and len(arms.get(holdout) or ()) == 3
        and arms[variant][0] >= 2
        and arms[holdout][0] >= 2
    ]
    if not parts:
        return None
    total = math.fsum(c[0] + t[0] for c, t in parts)
    out = []
    for side in (0, 1):
        units = int(sum(p[side][0] for p in parts))
        mean = var_of_mean = 0.0
        for p in parts:
            w = (p[0][0] + p[1][0]) / total
            m, v = _mean_var(p[side], metric)
            mean += w * m
            var_of_mean += w * w * v / p[side][0]
        out.append(stats.Means(units, mean, var_of_mean * units, mean))
    return out[0], out[1]


def stratified(
    epochs: Sequence[Epoch],
    variant: str,
    metric: str,
    *,
    holdout: str = "holdout",
    comparisons: int = 1,
) -> stats.Lift | None:
    """The epoch-stratified lift of `variant` against `holdout`, or None without data."""
    means = stratified_means(epochs, variant, holdout, metric)
    if means is None:
        return None
    return stats.compare_means(*means, metric, comparisons=comparisons)


def pooled(epochs: Sequence[Epoch]) -> dict[str, list[float]]:
    """Every epoch's arms summed into one: the naive comparison stratification replaces."""
    out: dict[str, list[float]] = {}
    for arms in epochs:
        for arm, numbers in arms.items():
            got = out.setdefault(arm, [0.0, 0.0, 0.0])
            for i in range(3):
                got[i] += float(numbers[i])
    return out
