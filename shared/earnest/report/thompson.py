"""Gaussian Thompson sampling, the bandit's posterior: each arm's normal posterior of its
mean (raw, or CUPED-adjusted when the covariate is there), P(best) by seeded joint draws,
and the floored weights it gives (earnest.report.bandit re-weights with them;
docs/statistics.md, "Bandits").

Pure: stdlib only (and the core). It must not import boto3, pydantic or `earnest_aws`.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Mapping
from datetime import date

from earnest.report import cuped, metrics, stats

DRAWS = 4000
Moments = tuple[int, float, float]  # units, sum, sum of squares of the metric
Posterior = tuple[float, float]  # a mean's normal posterior: mean, standard error


def seed_of(exp_id: str, day: date) -> int:
    """The draws' seed: the same experience and report date give the same weights."""
    return int.from_bytes(hashlib.sha256(f"{exp_id}:{day.isoformat()}".encode()).digest()[:8])


def posteriors(
    moments: Mapping[str, Moments],
    metric: str,
    pre: Mapping[str, cuped.Covariate] | None = None,
) -> tuple[dict[str, Posterior], bool]:
    """Each arm's normal posterior of its mean of `metric`, N(mean, variance / units), and
    whether it is CUPED's: with `pre` (the covariate's sums of every arm) and a covariate
    that explains something, the CUPED-adjusted mean and variance (earnest.report.cuped,
    one coefficient pooled over the arms, as the verdict's adjusted lift), else the raw."""
    arms = {a: stats.Arm(n, sums={metric: (s, ss)}) for a, (n, s, ss) in moments.items()}
    if pre is not None and all(a in pre for a in arms) and metrics.metric(metric).cuped:
        coefficient = cuped.pooled_theta([(arm, pre[a]) for a, arm in arms.items()], metric)
        units = sum(arm.units for arm in arms.values())
        centre = math.fsum(pre[a].total for a in arms) / units if units else 0.0
        if coefficient != 0.0:
            adjusted = {
                a: cuped.adjusted(arm, metric, pre[a], coefficient, centre)
                for a, arm in arms.items()
            }
            return {
                a: (m.mean, math.sqrt(m.variance / m.units) or 1e-12) for a, m in adjusted.items()
            }, True
    out = {}
    for a, (n, s, ss) in moments.items():
        variance = max((ss - s * s / n) / max(n - 1, 1), 0.0)
        out[a] = (s / n, math.sqrt(variance / n) or 1e-12)
    return out, False


def p_best(posterior: Mapping[str, Posterior], seed: int, draws: int = DRAWS) -> dict[str, float]:
    """Each arm's probability of the highest mean, by `draws` joint draws from its
    normal posterior (mean, standard error)."""
    rng = random.Random(seed)
    ordered = sorted(posterior.items())
    wins = dict.fromkeys((a for a, _ in ordered), 0)
    gauss = rng.gauss
    for _ in range(draws):
        best = max(ordered, key=lambda p: gauss(p[1][0], p[1][1]))
        wins[best[0]] += 1
    return {arm: won / draws for arm, won in wins.items()}


def floored(probabilities: Mapping[str, float], floor: float) -> dict[str, float]:
    """p = f + (1 − n·f)·P(best): every arm keeps at least the floor."""
    n = len(probabilities)
    return {a: floor + (1.0 - n * floor) * p for a, p in probabilities.items()}
