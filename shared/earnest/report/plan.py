"""What the report reads from an experience's measurement plan.

Owns the plan's meaning for the report (docs/experiences.md, "measurement_plan"): the
stats metric the primary metric is judged on, the guardrail metrics (name, direction,
margin), the attribution of conversions, and which experiences a night tracks.

Pure: stdlib only (and the core). It must not import boto3, pydantic or `earnest_aws`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from earnest.decide.segments import recorded
from earnest.experiences.lifecycle import ACTIVE_STATUSES
from earnest.report import metrics, stats
from earnest.report.metrics import HIGHER_IS_BETTER
from earnest.report.totals import DEFAULT_CAP_PERCENTILE, Attribution

DEFAULT_ATTRIBUTION_DAYS = 7


def metric_of(primary_metric: str) -> str:
    """The stats metric a plan's primary metric is judged on: the metric the plan names
    (earnest.report.metrics: `conversion`, `revenue` for the capped revenue), else a named
    event's conversion rate."""
    declared = metrics.by_plan_name(primary_metric) or metrics.CONVERSION_RATE
    return declared.name


# The stats metric of a guardrail that names an event: the share of units with one.
EVENT_RATE = "event_rate"


@dataclass(frozen=True, slots=True)
class Guardrail:
    """One of the plan's guardrail metrics, as the report tests it for non-inferiority."""

    name: str  # as the plan names it: revenue, conversion or an event's name
    metric: str  # conversion_rate, revenue_per_unit_capped or EVENT_RATE
    direction: str = HIGHER_IS_BETTER
    margin: float = stats.GUARDRAIL_MARGIN

    @property
    def event(self) -> str | None:
        return self.name if self.metric == EVENT_RATE else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "metric": self.metric,
            "direction": self.direction,
            "margin": self.margin,
        }


def guardrail_metrics_of(plan: Mapping[str, Any]) -> list[Guardrail]:
    """The plan's guardrail metrics: a name, or {name, direction, margin}.

    `revenue` and `conversion` are the per-unit metrics; any other name is an event (a
    conversion's `name`), measured as the share of units with one in the attribution window.
    """
    out: list[Guardrail] = []
    for entry in plan.get("guardrail_metrics") or []:
        spec = entry if isinstance(entry, Mapping) else {"name": entry}
        name = str(spec.get("name"))
        out.append(
            Guardrail(
                name,
                metric_of(name) if metrics.by_plan_name(name) else EVENT_RATE,
                str(spec.get("direction") or HIGHER_IS_BETTER),
                float(spec.get("margin") or stats.GUARDRAIL_MARGIN),
            )
        )
    return out


def plan_of(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    plan = doc.get("measurement_plan")
    return plan if isinstance(plan, Mapping) else {}


def attribution_of(doc: Mapping[str, Any]) -> Attribution:
    plan = plan_of(doc)
    days = int(plan.get("attribution_window_days") or DEFAULT_ATTRIBUTION_DAYS)
    events = sorted({g.event for g in guardrail_metrics_of(plan) if g.event is not None})
    return Attribution.for_metric(
        str(plan.get("primary_metric") or "conversion"),
        days,
        tuple(events),
        float(plan.get("revenue_cap_percentile") or DEFAULT_CAP_PERCENTILE),
        segments_of(doc),
    )


def segments_of(doc: Mapping[str, Any]) -> tuple[str, ...]:
    """The experience's recorded segment paths; none when the stored document's cannot be
    read (validation refuses such a document, so only a hand-edited store has one)."""
    try:
        return recorded(doc)
    except ValueError:
        return ()


def tracked(docs: Sequence[Mapping[str, Any]]) -> dict[str, Attribution]:
    """The experiences whose events the report aggregates: live or paused ones."""
    return {
        str(d["id"]): attribution_of(d)
        for d in sorted(docs, key=lambda d: str(d.get("id")))
        if d.get("status") in ACTIVE_STATUSES and d.get("id")
    }


@dataclass(frozen=True, slots=True)
class Plan:
    """What the report reads from an experience's measurement plan."""

    metric: str  # the stats metric of the primary metric
    min_units: int
    mde: float | None  # None: the plan names no effect, so futility is off
    guarded: list[Guardrail]

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> Plan:
        plan = plan_of(doc)
        return cls(
            metric_of(str(plan.get("primary_metric") or "conversion")),
            int(plan.get("min_units_per_arm") or 0),
            float(plan.get("minimum_detectable_effect") or 0.0) or None,
            guardrail_metrics_of(plan),
        )

    def futility(self) -> dict[str, Any]:
        """Whether futility can pause a variant, said in the report (docs/statistics.md)."""
        if self.mde is None:
            return {"on": False, "why": "the plan has no minimum_detectable_effect"}
        return {"on": True, "effect": self.mde}
