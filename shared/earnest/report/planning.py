"""Power planning: how many days an experience needs, at a given traffic, to get a verdict.

Owns the arithmetic behind `earnest plan ID` and the report's "days to a verdict at
current traffic" (docs/statistics.md, "Planning"): from the units a day the experience
gets, its holdout share and variant weights, the base rate and the plan's
`minimum_detectable_effect` and `min_units_per_arm`, the days until every arm has the
plan's minimum (and the small-counts gate, `gate.gate_units`), and until a true lift of
the plan's effect would be called `beats_default` with the given power under the same
always-valid test the report reads.

Pure: stdlib and `earnest.report.stats` only. It must not import boto3 or `earnest_aws`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from earnest.report import gate, stats

DEFAULT_POWER = 0.8
MAX_DAYS = 730
# The base rate `earnest validate` / `push` assume for a warning when neither --base-rate
# nor the experience's own recent events give one (docs/statistics.md, "Planning").
ASSUMED_BASE_RATE = 0.05


@dataclass(frozen=True, slots=True)
class Forecast:
    """Days until a verdict is possible, for the experience's smallest variant arm."""

    daily_units: float  # units a day over every arm of the experience
    base_rate: float
    days_to_min_units: int | None  # None: not within MAX_DAYS
    days_to_detect: int | None  # the plan's effect found with `power`; None: not within MAX_DAYS
    review_every_days: int | None
    power: float = DEFAULT_POWER

    @property
    def within_review(self) -> bool:
        """Whether the plan's effect can be found before the experience is due for review."""
        if self.days_to_detect is None:
            return False
        return self.review_every_days is None or self.days_to_detect <= self.review_every_days

    def as_dict(self) -> dict[str, Any]:
        return {
            "daily_units": self.daily_units,
            "base_rate": self.base_rate,
            "days_to_min_units": self.days_to_min_units,
            "days_to_detect": self.days_to_detect,
            "power": self.power,
            "review_every_days": self.review_every_days,
            "within_review": self.within_review,
        }


def _shares(doc: Mapping[str, Any]) -> tuple[float, float, int]:
    """(holdout share, smallest active variant's share, active variants)."""
    holdout = float(doc.get("holdout") or 0.0)
    weights = [
        float(v.get("weight") or 0.0)
        for v in doc.get("variants") or []
        if isinstance(v, Mapping) and not v.get("paused")
    ]
    total = math.fsum(weights)
    if not weights or total <= 0:
        return holdout, 0.0, 0
    return holdout, (1.0 - holdout) * min(weights) / total, len(weights)


def forecast(
    doc: Mapping[str, Any],
    daily_units: float,
    base_rate: float,
    *,
    power: float = DEFAULT_POWER,
    alpha: float = 0.05,
) -> Forecast:
    """Days to the plan's minimum and to a power-`power` verdict on its effect.

    A variant truly `minimum_detectable_effect` better (relative) than a holdout at
    `base_rate` is found on night t when the always-valid ratio interval's lower end
    clears 0; with the estimate's spread that happens with probability about
    Phi(d / se_t - b_t), d the log of the true ratio, se_t its standard error and b_t
    the sequence's half-width in standard errors at alpha / variants (what
    `stats.compare` uses). The first t where that reaches `power`.
    Without a positive effect (a plan's effect of 0) nothing is to be detected: None.
    """
    if not 0.0 < base_rate < 1.0:
        raise ValueError(f"base_rate must be in (0, 1), got {base_rate}")
    if daily_units <= 0 or not math.isfinite(daily_units):
        raise ValueError(f"daily_units must be positive, got {daily_units}")
    plan = doc.get("measurement_plan")
    plan = plan if isinstance(plan, Mapping) else {}
    mde = float(plan.get("minimum_detectable_effect") or 0.0)
    min_units = int(plan.get("min_units_per_arm") or 0)
    review = doc.get("review_every_days")
    holdout, variant, k = _shares(doc)
    if k == 0 or holdout <= 0.0:
        return Forecast(daily_units, base_rate, None, None, _int(review), power)
    rate = min(base_rate * (1.0 + mde), 1.0)
    per_day = [(daily_units * holdout, base_rate), (daily_units * variant, rate)]
    need = max(max(min_units, gate.gate_units(p)) / n for n, p in per_day)
    days_min = math.ceil(need) if math.isfinite(need) else MAX_DAYS + 1
    seq_alpha = alpha / k
    rho = stats.sequential_rho(seq_alpha, stats.DEFAULT_TARGET_UNITS)
    z_power = NormalDist().inv_cdf(power)
    effect = math.log(rate / base_rate)  # the ratio interval's scale

    def detectable(day: int) -> bool:
        se = math.sqrt(math.fsum((1.0 - p) / (n * day * p) for n, p in per_day))
        units = round(sum(n for n, _ in per_day) * day)
        return effect / se >= stats.sequential_boundary(units, rho, seq_alpha) + z_power

    # d / se grows as sqrt(t) and the boundary only as sqrt(log t): bisect for the first day.
    days_detect: int | None = None
    if effect > 0 and detectable(MAX_DAYS):
        low, high = 0, MAX_DAYS  # detectable(high), not detectable(low)
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (low, mid) if detectable(mid) else (mid, high)
        days_detect = max(high, days_min)
    return Forecast(
        daily_units,
        base_rate,
        days_min if days_min <= MAX_DAYS else None,
        days_detect,
        _int(review),
        power,
    )


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
