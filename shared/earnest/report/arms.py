"""An arm's numbers as the report states them (docs/report.md, "report.json": `arms[]`).

Owns the step from the aggregation's `ArmTotals` to the statistics' `stats.Arm` and to the
report's per-arm entry.

Pure: stdlib only (and the core). It must not import boto3, pydantic or `earnest_aws`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from earnest.report import stats
from earnest.report.metrics import METRICS
from earnest.report.totals import ArmTotals

HOLDOUT_ARM = "holdout"
EMPTY = ArmTotals()


def arm_of(totals: ArmTotals) -> stats.Arm:
    return stats.Arm(totals.units, sums=totals.sums)


def arm_numbers(totals: ArmTotals, events: Sequence[str] = ()) -> dict[str, Any]:
    """Units, exposures, and per declared metric its total (a count for a binary one) and
    its mean per unit."""
    arm = arm_of(totals)
    numbers: dict[str, Any] = {
        "units": totals.units,
        "exposures": totals.exposures,
        "units_in_several_arms": totals.units_in_several_arms,
    }
    for m in METRICS.values():
        total = arm.total(m.name)
        numbers[m.total] = int(total) if m.binary else total
        numbers[m.name] = arm.mean(m.name)
    if events:
        numbers["events"] = {
            name: {
                "units": (n := totals.events.get(name, 0)),
                "rate": n / totals.units if totals.units else 0.0,
            }
            for name in events
        }
    return numbers


def arm_entry(
    arm: str,
    totals: ArmTotals,
    *,
    in_config: bool,
    paused: bool,
    weight: float | None,
    share: float,
    events: Sequence[str] = (),
) -> dict[str, Any]:
    return {
        "arm": arm,
        "variant": None if arm == HOLDOUT_ARM else arm,
        "in_config": in_config,
        "paused": paused,
        "weight": weight,
        "share": share,
        **arm_numbers(totals, events),
    }


def variants_of(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [v for v in doc.get("variants") or [] if isinstance(v, Mapping)]
