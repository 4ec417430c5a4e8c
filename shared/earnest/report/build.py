"""The nightly report as data: per-arm numbers, lift, SRM, verdicts, guardrails, program.

Owns the report's content and its schema (docs/report.md): from the experiences as they
stood before the run (`earnest.report.guardrails.as_of`), the aggregated events
(`earnest.report.aggregation.Totals`) and last night's report, it builds one JSON-ready dict.
The statistics come from `earnest.report.stats`; the decisions from `earnest.report.guardrails`.
Deterministic: the same inputs give the same dict (no clock, no randomness, stable
order), so a re-run of a date writes byte-identical outputs.

Pure: stdlib only (and the core). It must not import boto3, pydantic or `earnest_aws`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from earnest.decide.engine import GLOBAL_HOLDOUT, REASONS
from earnest.experiences.lifecycle import ACTIVE_STATUSES, LIVE, PAUSED
from earnest.report import cuped, guardrails, planning, stats
from earnest.report.aggregation import (
    DEFAULT_CAP_PERCENTILE,
    PROGRAM_ARM,
    ArmKey,
    ArmTotals,
    Attribution,
    ExperienceTotals,
    PreExposure,
    Totals,
)
from earnest.report.guardrails import VariantResult, ends_at
from earnest.report.guardrails import review_due as review_due_of
from earnest.timefmt import format_time

SCHEMA = "earnest.report/1"
HOLDOUT_ARM = "holdout"
DEFAULT_LOOKBACK_DAYS = 28  # the program's window, and experiences without an allocation
MAX_ANALYSIS_DAYS = 400  # the longest allocation a report analyses (docs/report.md)
DEFAULT_ATTRIBUTION_DAYS = 7
PROGRAM_MIN_UNITS = 1000
TREND_NIGHTS = 60  # nightly points of each variant's lift kept in the report
EMPTY = ArmTotals()


@dataclass(frozen=True, slots=True)
class Span:
    """The event times one analysis counts, `start` (inclusive) to `end` (exclusive).

    `allocation_started_at`: the start of the experience's current allocation when its
    operational state records one (the analysis starts there, at most MAX_ANALYSIS_DAYS
    back); None for the program and for an experience stored before allocations were
    recorded, which are analysed over the lookback.
    """

    start: datetime
    end: datetime
    allocation_started_at: str | None = None

    @property
    def days(self) -> float:
        """Its length in days, at least one (the traffic forecast divides by it)."""
        return max((self.end - self.start) / timedelta(days=1), 1.0)

    def bounds(self) -> tuple[str, str]:
        """Start and end in the stored time format, as the aggregation compares them."""
        return format_time(self.start), format_time(self.end)

    def as_dict(self) -> dict[str, Any]:
        start, end = self.bounds()
        return {
            "allocation_started_at": self.allocation_started_at,
            "events_from": start,
            "events_before": end,
            "days": round((self.end - self.start) / timedelta(days=1), 3),
        }


@dataclass(frozen=True, slots=True)
class Window:
    """What a report reads: events stamped up to the end of `day`, in which partitions.

    Each experience is analysed from the start of its current allocation (`span`), the
    program over the last `lookback_days`; events are filed by arrival day, so the
    partitions read run from the earliest start (an experience's less `early_seconds`, how
    far ahead of its arrival an event may be stamped) to `late_days` after `day` (how late
    an event may arrive), and a re-run once those have passed counts the same events.
    """

    day: date
    lookback_days: int = DEFAULT_LOOKBACK_DAYS
    late_days: int = 0
    early_seconds: int = 0
    reads_from: date | None = None  # the first partition (None: the program's start)

    def __post_init__(self) -> None:
        if self.lookback_days < 1:
            raise ValueError("lookback_days must be at least 1")

    @property
    def end(self) -> datetime:
        return guardrails.end_of(self.day)

    def program_span(self) -> Span:
        return Span(self.end - timedelta(days=self.lookback_days), self.end)

    def span(self, doc: Mapping[str, Any]) -> Span:
        """The events an experience's analysis counts: its current allocation, up to the
        end of `day` or its `ends_at`, at most MAX_ANALYSIS_DAYS."""
        started = _time(doc.get("allocation_started_at"))
        end = min(self.end, ends_at(doc) or self.end)
        earliest = self.end - timedelta(days=MAX_ANALYSIS_DAYS)
        start = max(started, earliest) if started else self.program_span().start
        return Span(min(start, end), end, format_time(started) if started else None)

    def reading(self, docs: Sequence[Mapping[str, Any]]) -> Window:
        """This window, reading every partition that the spans of `docs` need."""
        active = tracked(docs)
        early = timedelta(seconds=self.early_seconds)
        starts = [self.span(d).start - early for d in docs if str(d.get("id")) in active]
        first = min([*starts, self.program_span().start]).date()
        return replace(self, reads_from=first)

    @property
    def start(self) -> date:
        return self.reads_from or self.program_span().start.date()

    def days(self) -> list[date]:
        count = (self.day - self.start).days + 1 + self.late_days
        return [self.start + timedelta(days=i) for i in range(count)]

    def as_dict(self) -> dict[str, Any]:
        last = self.day + timedelta(days=self.late_days)
        return {
            "start": self.start.isoformat(),
            "end": self.day.isoformat(),
            "lookback_days": self.lookback_days,
            "late_days": self.late_days,
            "events_before": format_time(self.end),
            "last_partition": last.isoformat(),
            "partitions": f"events/dt={self.start.isoformat()}/ .. events/dt={last.isoformat()}/",
        }


def _time(value: Any) -> datetime | None:
    """An ISO time with a zone from a document, or None when missing or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def spans(window: Window, docs: Sequence[Mapping[str, Any]]) -> dict[str, tuple[str, str]]:
    """Each tracked experience's analysed event times, as the aggregation takes them."""
    by_id = {str(d.get("id")): d for d in docs}
    return {exp_id: window.span(by_id[exp_id]).bounds() for exp_id in tracked(docs)}


def days_before(start: date, days: int) -> list[date]:
    """The `days` days before `start`, oldest first: the partitions read for CUPED's covariate.

    A separate list from `Window.days()`, so whichever days a night analyses, the
    covariate's extra days are the N before the first of them.
    """
    return [start - timedelta(days=days - i) for i in range(days)]


def metric_of(primary_metric: str) -> str:
    """The stats metric a plan's primary metric is judged on (revenue: capped)."""
    return "revenue_per_unit_capped" if primary_metric == "revenue" else "conversion_rate"


# A guardrail metric's direction (docs/experiences.md, "guardrail_metrics").
HIGHER_IS_BETTER = "higher_is_better"
LOWER_IS_BETTER = "lower_is_better"
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
                metric_of(name) if name in ("revenue", "conversion") else EVENT_RATE,
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
    )


def tracked(docs: Sequence[Mapping[str, Any]]) -> dict[str, Attribution]:
    """The experiences whose events the report aggregates: live or paused ones."""
    return {
        str(d["id"]): attribution_of(d)
        for d in sorted(docs, key=lambda d: str(d.get("id")))
        if d.get("status") in ACTIVE_STATUSES and d.get("id")
    }


def _num(value: float | None) -> float | None:
    """JSON has no infinity: an unbounded interval end is null."""
    if value is None or not math.isfinite(value):
        return None
    return value


def _arm(totals: ArmTotals) -> stats.Arm:
    return stats.Arm(
        totals.units,
        totals.conversions,
        totals.revenue,
        totals.revenue_sq,
        totals.revenue_capped,
        totals.revenue_capped_sq,
    )


def _arm_numbers(totals: ArmTotals, events: Sequence[str] = ()) -> dict[str, Any]:
    arm = _arm(totals)
    numbers: dict[str, Any] = {
        "units": totals.units,
        "exposures": totals.exposures,
        "conversions": totals.conversions,
        "conversion_rate": arm.conversion_rate,
        "revenue": totals.revenue,
        "revenue_per_unit": arm.revenue_per_unit,
        "revenue_capped": arm.total("revenue_per_unit_capped"),
        "revenue_per_unit_capped": arm.mean("revenue_per_unit_capped"),
        "units_in_several_arms": totals.units_in_several_arms,
    }
    if events:
        numbers["events"] = {
            name: {
                "units": (n := totals.events.get(name, 0)),
                "rate": n / totals.units if totals.units else 0.0,
            }
            for name in events
        }
    return numbers


def _lift(lift: stats.Lift) -> dict[str, Any]:
    return {
        "metric": lift.metric,
        "holdout": lift.holdout,
        "variant": lift.variant,
        "absolute": lift.absolute,
        "absolute_low": _num(lift.absolute_low),
        "absolute_high": _num(lift.absolute_high),
        "relative": _num(lift.relative),
        "relative_low": _num(lift.relative_low),
        "relative_high": _num(lift.relative_high),
        "p_value": lift.p_value,
        "relative_p_value": lift.relative_p_value,
        "sequential_low": _num(lift.sequential_low),
        "sequential_high": _num(lift.sequential_high),
        "sequential_p_value": lift.sequential_p_value,
        "sequential_relative_low": _num(lift.sequential_relative_low),
        "sequential_relative_high": _num(lift.sequential_relative_high),
        "ratio_low": _num(lift.ratio_low),
        "ratio_high": _num(lift.ratio_high),
        "sequential_ratio_low": _num(lift.sequential_ratio_low),
        "sequential_ratio_high": _num(lift.sequential_ratio_high),
        "sequential_ratio_p_value": lift.sequential_ratio_p_value,
        "comparisons": lift.comparisons,
    }


def _srm_test(name: str, arms: list[str], units: list[int], shares: list[float]) -> dict[str, Any]:
    result = stats.srm(units, shares)
    total_share = math.fsum(shares) or 1.0
    return {
        "test": name,
        "arms": arms,
        "observed": units,
        "expected_shares": [s / total_share for s in shares],
        "expected": [_num(e) for e in result.expected],
        "chi2": _num(result.chi2),
        "df": result.df,
        "p_value": result.p_value,
        "sequential_p_value": result.sequential_p_value,
        "flagged": result.flagged,
    }


def srm_check(
    holdout: float,
    holdout_units: int,
    variants: Sequence[tuple[str, int, float, bool]],
) -> dict[str, Any]:
    """The sample-ratio-mismatch check of one experience (docs/report.md, "SRM").

    `variants`: (arm, units, weight, active). With every arm that has units active, one
    chi-square over holdout and variants against holdout = h, variant = (1 - h) * w / sum of
    active weights. Once a variant with units is paused (or gone from the configuration),
    the window mixes two configurations, so two checks that a pause leaves unchanged:
    holdout against every variant together (h : 1 - h; the holdout hash is independent of
    the variant split), and the split among the active variants (w / sum w).
    """
    active = [(a, u, w) for a, u, w, on in variants if on]
    inactive_units = sum(u for _, u, _, on in variants if not on)
    tests: list[dict[str, Any]] = []
    if inactive_units == 0:
        weight = math.fsum(w for _, _, w in active) or 1.0
        tests.append(
            _srm_test(
                "arms",
                [HOLDOUT_ARM, *(a for a, _, _ in active)],
                [holdout_units, *(u for _, u, _ in active)],
                [holdout, *((1.0 - holdout) * w / weight for _, _, w in active)],
            )
        )
    else:
        tests.append(
            _srm_test(
                "holdout_split",
                [HOLDOUT_ARM, "all variants"],
                [holdout_units, sum(u for _, u, _, _ in variants)],
                [holdout, 1.0 - holdout],
            )
        )
        if len(active) >= 2:
            tests.append(
                _srm_test(
                    "variant_split",
                    [a for a, _, _ in active],
                    [u for _, u, _ in active],
                    [w for _, _, w in active],
                )
            )
    return {
        "flagged": any(t["flagged"] for t in tests),
        "p_value": min(t["sequential_p_value"] for t in tests),
        "threshold": stats.SRM_THRESHOLD,
        "tests": tests,
    }


def previous_variants(
    previous: Mapping[str, Any] | None,
) -> dict[tuple[str, str], Mapping[str, Any]]:
    """(experience, variant) -> last night's entry for it; empty without a readable report."""
    out: dict[tuple[str, str], Mapping[str, Any]] = {}
    if not isinstance(previous, Mapping):
        return out
    for exp in previous.get("experiences") or []:
        if not isinstance(exp, Mapping):
            continue
        for variant in exp.get("variants") or []:
            if isinstance(variant, Mapping) and isinstance(variant.get("variant"), str):
                out[(str(exp.get("id")), variant["variant"])] = variant
    return out


def _trend(day: date, before: Mapping[str, Any] | None, lift: stats.Lift) -> list[dict[str, Any]]:
    """Last night's trend of this variant's relative lift, with tonight's point added.

    Carried from report to report, so tonight's report holds the last TREND_NIGHTS nights
    without reading every earlier file; a night without a report leaves a gap, not a lie.
    """
    earlier = before.get("trend") if before else None
    points = [
        p
        for p in (earlier if isinstance(earlier, list) else [])
        if isinstance(p, Mapping) and str(p.get("date")) < day.isoformat()
    ]
    points.append(
        {
            "date": day.isoformat(),
            "relative": _num(lift.relative),
            "relative_low": _num(lift.relative_low),
            "relative_high": _num(lift.relative_high),
            "holdout": lift.holdout,
            "sequential_low": _num(lift.sequential_low),
            "sequential_high": _num(lift.sequential_high),
            "sequential_ratio_low": _num(lift.sequential_ratio_low),
            "sequential_ratio_high": _num(lift.sequential_ratio_high),
        }
    )
    return [dict(p) for p in points[-TREND_NIGHTS:]]


def _arm_entry(
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
        **_arm_numbers(totals, events),
    }


def _arms(
    doc: Mapping[str, Any], arms_totals: Mapping[ArmKey, ArmTotals]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every arm's numbers (holdout, configured variants, variants since removed) and SRM."""
    holdout = float(doc.get("holdout") or 0.0)
    variants = _variants(doc)
    events = attribution_of(doc).guardrail_events
    active_weight = math.fsum(float(v.get("weight") or 0) for v in variants if not v.get("paused"))
    control = arms_totals.get(None, EMPTY)
    arms = [
        _arm_entry(
            HOLDOUT_ARM,
            control,
            in_config=True,
            paused=False,
            weight=None,
            share=holdout,
            events=events,
        )
    ]
    srm_input: list[tuple[str, int, float, bool]] = []
    for v in variants:
        vid, paused, weight = str(v.get("id")), bool(v.get("paused")), float(v.get("weight") or 0)
        vt = arms_totals.get(vid, EMPTY)
        share = 0.0 if paused or not active_weight else (1.0 - holdout) * weight / active_weight
        arms.append(
            _arm_entry(
                vid, vt, in_config=True, paused=paused, weight=weight, share=share, events=events
            )
        )
        srm_input.append((vid, vt.units, weight, not paused))
    configured = {str(v.get("id")) for v in variants}
    for key, vt in arms_totals.items():
        if key is not None and key not in configured:  # served once, since removed
            arms.append(
                _arm_entry(
                    key, vt, in_config=False, paused=True, weight=None, share=0.0, events=events
                )
            )
            srm_input.append((key, vt.units, 0.0, False))
    return arms, srm_check(holdout, control.units, srm_input)


def _variants(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [v for v in doc.get("variants") or [] if isinstance(v, Mapping)]


@dataclass(frozen=True, slots=True)
class _Plan:
    """What the report reads from an experience's measurement plan."""

    metric: str  # the stats metric of the primary metric
    min_units: int
    mde: float | None  # None: the plan names no effect, so futility is off
    guarded: list[Guardrail]

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> _Plan:
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


def _covariate(pre: PreExposure | None, metric: str) -> cuped.Covariate | None:
    if pre is None:
        return None
    if metric == "conversion_rate":
        return cuped.Covariate(pre.conversions, pre.conversions, pre.conversions_both)
    if metric == "revenue_per_unit_capped":
        return cuped.Covariate(pre.revenue, pre.revenue_sq, pre.revenue_product)
    return None


def _adjusted(
    control: ArmTotals, vt: ArmTotals, metric: str, comparisons: int
) -> stats.Lift | None:
    """The CUPED lift on `metric` when the covariate was read and explains something."""
    x_c, x_t = _covariate(control.pre_exposure, metric), _covariate(vt.pre_exposure, metric)
    if x_c is None or x_t is None:
        return None
    return cuped.compare(_arm(control), _arm(vt), metric, x_c, x_t, comparisons=comparisons)


def _judged(control: ArmTotals, vt: ArmTotals, metric: str, comparisons: int) -> stats.Lift:
    """The lift a verdict or a guardrail reads: CUPED-adjusted when it can be, else raw."""
    lift = _adjusted(control, vt, metric, comparisons)
    if lift is not None:
        return lift
    return stats.compare(_arm(control), _arm(vt), metric, comparisons=comparisons)


def judged_lift(variant: Mapping[str, Any], metric: str) -> dict[str, Any]:
    """A report variant's lift on `metric` as the verdict read it (adjusted, else raw)."""
    adjusted = variant.get("lift_adjusted") or {}
    found: dict[str, Any] = adjusted.get(metric) or variant["lift"][metric]
    return found


def _guardrail(
    control: ArmTotals, vt: ArmTotals, g: Guardrail, family: int, plan: _Plan, cap: float | None
) -> tuple[dict[str, Any], bool]:
    """One guardrail's one-sided non-inferiority test, as reported, and whether it harms.

    A named event is the share of units with one. Every guardrail is tested only past the
    plan's minimum and the small-counts gate on its own values (`stats.enough_data`: the
    event's or the rate's own counts, capped revenue's skewness bound), at its share of
    the error budget: alpha / (variants x guardrail metrics), one side.
    """
    lower = g.direction == LOWER_IS_BETTER
    if g.event is None:
        c, t = _arm(control), _arm(vt)
        lift = _judged(control, vt, g.metric, family)
    else:
        c = stats.Arm(control.units, control.events.get(g.event, 0))
        t = stats.Arm(vt.units, vt.events.get(g.event, 0))
        lift = stats.compare(c, t, "conversion_rate", comparisons=family)
    metric = "conversion_rate" if g.event else g.metric
    gated = stats.enough_data(c, t, plan.min_units, metric, cap)
    harm = gated and stats.harms(lift, g.margin, lower_is_better=lower)
    p = stats.ratio_p_value(lift, g.margin if lower else -g.margin, below=not lower)
    report = {**g.as_dict(), "enough_data": gated, "harm": harm, "lift": _lift(lift)}
    return {**report, "p_value": p if gated else 1.0}, harm


def _variant(
    exp_id: str,
    v: Mapping[str, Any],
    control: ArmTotals,
    vt: ArmTotals,
    plan: _Plan,
    comparisons: int,
    srm: Mapping[str, Any],
    before: Mapping[str, Any] | None,
    day: date,
    cap: float | None = None,
) -> tuple[dict[str, Any], VariantResult]:
    """One variant against its holdout: lifts, verdict, futility, guardrail harm, trend."""
    vid = str(v.get("id"))
    prev = before.get("verdict") if before else None
    holdout, variant = _arm(control), _arm(vt)
    by_metric = {
        m: stats.compare(holdout, variant, m, comparisons=comparisons) for m in stats.METRICS
    }
    adjusted = {m: lift for m in cuped.METRICS if (lift := _adjusted(control, vt, m, comparisons))}
    primary = adjusted.get(plan.metric) or by_metric[plan.metric]
    enough = stats.enough_data(holdout, variant, plan.min_units, plan.metric, cap)
    verdict = stats.verdict(primary, enough_units=enough, srm_flagged=srm["flagged"])
    futile = stats.cannot_reach(primary, plan.mde)
    # The guardrail family: Bonferroni over variants x guardrail metrics.
    family = comparisons * len(plan.guarded)
    tested = [_guardrail(control, vt, g, family, plan, cap) for g in plan.guarded]
    harmed = tuple(g.name for g, (_, harm) in zip(plan.guarded, tested, strict=True) if harm)
    # Every question that can give a verdict or a pause, with its always-valid p-value
    # (below alpha exactly when it fires, once past the gate): the family that
    # Benjamini-Hochberg adjusts across the program.
    asked = enough and not srm["flagged"]
    questions = {"verdict": primary.sequential_ratio_p_value if asked else 1.0}
    if plan.mde is not None:
        futility_p = stats.ratio_p_value(primary, plan.mde, below=True)
        questions["futility"] = futility_p if asked else 1.0
    for report, _ in tested:
        questions[f"guardrail:{report['name']}"] = report["p_value"] if asked else 1.0
    entry = {
        "variant": vid,
        "paused": bool(v.get("paused")),
        "verdict": verdict,
        "previous_verdict": prev,
        "enough_units": enough,
        "cannot_reach_mde": futile,
        "guardrail_harm": list(harmed),
        "p_values": questions,
        "guardrails": [report for report, _ in tested],
        "lift": {m: _lift(lift) for m, lift in by_metric.items()},
        "lift_adjusted": {m: _lift(lift) for m, lift in adjusted.items()},
        "trend": _trend(day, before, primary),
    }
    evidence = _evidence(plan, control, vt, primary, verdict, prev, srm)
    evidence["cuped"] = plan.metric in adjusted
    evidence["guardrail_harm"] = list(harmed)
    evidence["guardrail_tests"] = [report for report, harm in tested if harm]
    return entry, VariantResult(exp_id, vid, verdict, prev, enough, evidence, futile, harmed)


def _at_current_traffic(
    doc: Mapping[str, Any], control: ArmTotals, units: int, days: float
) -> dict[str, Any] | None:
    """The planning forecast at the analysed traffic and the holdout's rate (None: no data)."""
    rate = control.conversions / control.units if control.units else 0.0
    if units <= 0 or not 0.0 < rate < 1.0:
        return None
    return planning.forecast(doc, units / days, rate).as_dict()


def _experience(
    doc: Mapping[str, Any],
    totals: ExperienceTotals | None,
    previous: Mapping[tuple[str, str], Mapping[str, Any]],
    window: Window,
) -> tuple[dict[str, Any], list[VariantResult]]:
    exp_id = str(doc["id"])
    plan = _Plan.of(doc)
    span = window.span(doc)
    arms_totals: Mapping[ArmKey, ArmTotals] = totals.arms if totals else {}
    arms, srm = _arms(doc, arms_totals)
    variants = _variants(doc)
    control = arms_totals.get(None, EMPTY)
    compared = [
        _variant(
            exp_id,
            v,
            control,
            arms_totals.get(str(v.get("id")), EMPTY),
            plan,
            max(1, len(variants)),
            srm,
            previous.get((exp_id, str(v.get("id")))),
            window.day,
            totals.revenue_cap if totals else None,
        )
        for v in variants
    ]
    out_variants = [entry for entry, _ in compared]
    judged = [judged_lift(v, plan.metric) for v in out_variants]
    adjusted = stats.holm([lift["p_value"] for lift in judged])
    for lift, p in zip(judged, adjusted, strict=True):
        lift["p_value_holm"] = p
    due, end = review_due_of(doc), ends_at(doc)
    section = {
        "id": exp_id,
        "placement": doc.get("placement"),
        "owner": doc.get("owner"),
        "status": doc.get("status"),
        "holdout": float(doc.get("holdout") or 0.0),
        "primary_metric": plan_of(doc).get("primary_metric"),
        "metric": plan.metric,
        "min_units_per_arm": plan.min_units,
        "minimum_detectable_effect": plan.mde,
        "futility": plan.futility(),
        "guardrail_metrics": [g.as_dict() for g in plan.guarded],
        "revenue_cap": {
            "percentile": attribution_of(doc).cap_percentile,
            "value": totals.revenue_cap if totals else None,
        },
        "attribution_window_days": attribution_of(doc).days,
        "analysis": span.as_dict(),
        "review_due": due.isoformat() if due else None,
        "ends_at": end.isoformat().replace("+00:00", "Z") if end else None,
        "arms": arms,
        "srm": srm,
        "variants": out_variants,
        "reasons": dict(totals.reasons) if totals else {},
        "at_current_traffic": _at_current_traffic(
            doc, control, sum(a.units for a in arms_totals.values()), span.days
        ),
    }
    return section, [result for _, result in compared]


def _evidence(
    plan: _Plan,
    control: ArmTotals,
    variant: ArmTotals,
    lift: stats.Lift,
    verdict: str | None,
    previous: str | None,
    srm: Mapping[str, Any],
) -> dict[str, Any]:
    """The numbers a guardrail acted on, as the audit entry keeps them."""
    return {
        "metric": plan.metric,
        "verdict": verdict,
        "previous_verdict": previous,
        "min_units_per_arm": plan.min_units,
        "minimum_detectable_effect": plan.mde,
        "holdout": {
            "units": control.units,
            "conversions": control.conversions,
            "mean": lift.holdout,
        },
        "variant": {
            "units": variant.units,
            "conversions": variant.conversions,
            "mean": lift.variant,
        },
        "absolute_lift": lift.absolute,
        "absolute_interval": [_num(lift.absolute_low), _num(lift.absolute_high)],
        "relative_lift": _num(lift.relative),
        "p_value": lift.p_value,
        "sequential_interval": [_num(lift.sequential_low), _num(lift.sequential_high)],
        # The verdict's own test: the always-valid ratio interval and its p-value.
        "sequential_p_value": lift.sequential_ratio_p_value,
        "sequential_ratio_interval": [
            _num(lift.sequential_ratio_low),
            _num(lift.sequential_ratio_high),
        ],
        "srm_p_value": srm["p_value"],
    }


def is_reported(doc: Mapping[str, Any], totals: ExperienceTotals | None) -> bool:
    """Live experiences, and paused ones with units in the window ("recently paused")."""
    if doc.get("status") == LIVE:
        return True
    return (
        doc.get("status") == PAUSED
        and totals is not None
        and any(a.units for a in totals.arms.values())
    )


def _coverage(coverage: Mapping[str, int]) -> dict[str, Any]:
    total = sum(coverage.values())
    order = [r for r in REASONS if r in coverage] + sorted(set(coverage) - set(REASONS))
    return {
        "exposures": total,
        "reasons": [
            {"reason": r, "exposures": coverage[r], "share": coverage[r] / total if total else 0.0}
            for r in order
        ],
    }


def _program(totals: Totals, global_holdout: float, attribution_days: int) -> dict[str, Any]:
    held = totals.program.get(GLOBAL_HOLDOUT, EMPTY)
    treated = totals.program.get(PROGRAM_ARM, EMPTY)
    lifts = {m: stats.compare(_arm(held), _arm(treated), m) for m in stats.METRICS}
    srm = (
        srm_check_program(global_holdout, held.units, treated.units)
        if 0 < global_holdout < 1
        else None
    )
    enough = stats.enough_data(_arm(held), _arm(treated), PROGRAM_MIN_UNITS)
    flagged = bool(srm and srm["flagged"])
    return {
        "global_holdout_share": global_holdout,
        "attribution_window_days": attribution_days,
        "revenue_cap": {"percentile": DEFAULT_CAP_PERCENTILE, "value": totals.program_revenue_cap},
        "min_units_per_arm": PROGRAM_MIN_UNITS,
        "arms": [
            {"arm": GLOBAL_HOLDOUT, **_arm_numbers(held)},
            {"arm": PROGRAM_ARM, **_arm_numbers(treated)},
        ],
        "srm": srm,
        "lift": {m: _lift(lift) for m, lift in lifts.items()},
        "verdicts": {
            m: stats.verdict(lift, enough_units=enough, srm_flagged=flagged)
            for m, lift in lifts.items()
        },
    }


def srm_check_program(share: float, held: int, treated: int) -> dict[str, Any]:
    test = _srm_test(
        "global_holdout_split", [GLOBAL_HOLDOUT, PROGRAM_ARM], [held, treated], [share, 1.0 - share]
    )
    return {
        "flagged": test["flagged"],
        "p_value": test["sequential_p_value"],
        "threshold": stats.SRM_THRESHOLD,
        "tests": [test],
    }


def _program_fdr(
    experiences: Sequence[dict[str, Any]], results: Sequence[VariantResult], *, applied: bool
) -> list[VariantResult]:
    """Benjamini-Hochberg across every question of the program's variants.

    The family is everything that can give a verdict or a pause: each variant's verdict,
    its futility and each guardrail metric's harm, with their always-valid p-values
    (`p_values`). Every variant gets their adjusted values (`p_values_bh`, and the
    verdict's as `sequential_p_value_bh` on the judged lift); when `applied`, a verdict,
    futility or harm whose adjusted p-value is not below alpha no longer counts (in the
    report and for the guardrails alike).
    """
    entries = [(e, v) for e in experiences for v in e["variants"]]
    keys = [(i, q) for i, (_, v) in enumerate(entries) for q in v["p_values"]]
    adjusted = stats.benjamini_hochberg([entries[i][1]["p_values"][q] for i, q in keys])
    for (i, q), p in zip(keys, adjusted, strict=True):
        entries[i][1].setdefault("p_values_bh", {})[q] = p
    out = list(results)
    for i, (e, v) in enumerate(entries):
        kept = {q for q, p in v.get("p_values_bh", {}).items() if p < stats.DEFAULT_ALPHA}
        judged_lift(v, e["metric"])["sequential_p_value_bh"] = v.get("p_values_bh", {}).get(
            "verdict", 1.0
        )
        if not applied:
            continue
        if v["verdict"] in ("beats_default", "loses_to_default") and "verdict" not in kept:
            v["verdict"] = "inconclusive"
        v["cannot_reach_mde"] = v["cannot_reach_mde"] and "futility" in kept
        v["guardrail_harm"] = [g for g in v["guardrail_harm"] if f"guardrail:{g}" in kept]
        evidence = {**out[i].evidence, "verdict": v["verdict"]}
        evidence["guardrail_harm"] = v["guardrail_harm"]
        out[i] = replace(
            out[i],
            verdict=v["verdict"],
            cannot_reach_mde=v["cannot_reach_mde"],
            harmed=tuple(v["guardrail_harm"]),
            evidence=evidence,
        )
    return out


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.1f} %"


def _because(rule: str, harmed: Sequence[str]) -> str:
    why = guardrails.PAUSED_BECAUSE.get(rule, rule)
    return f"{why}: {', '.join(harmed)}" if rule == guardrails.GUARDRAIL_HARM else why


def in_words(
    day: date, experiences: Sequence[Mapping[str, Any]], actions: Sequence[guardrails.Action]
) -> list[str]:
    """What to do, one plain sentence per variant (and per retirement), for a person."""
    acted = {(a.experience, a.variant): a for a in actions}
    out: list[str] = []
    for exp in experiences:
        exp_id = exp["id"]
        if (retired := acted.get((exp_id, None))) and retired.action == guardrails.RETIRE:
            out.append(f"{exp_id} was retired on {day.isoformat()} because {retired.reason}.")
            continue
        for v in exp["variants"]:
            vid, verdict = v["variant"], v["verdict"]
            lift = judged_lift(v, exp["metric"])
            seen = (
                f"{_pct(lift['relative'])}; always-valid interval "
                f"{_pct(lift['sequential_ratio_low'])} to {_pct(lift['sequential_ratio_high'])}"
            )
            pause = acted.get((exp_id, vid))
            if v["paused"]:
                continue  # paused before tonight: nothing to do
            if pause is not None:
                out.append(
                    f"{exp_id}: {vid} was paused on {day.isoformat()} because it "
                    + _because(pause.rule, v["guardrail_harm"])
                    + f" ({seen})."
                )
            elif verdict is None:
                out.append(f"{exp_id}: fix assignment or logging (sample ratio mismatch).")
            elif verdict == "beats_default":
                out.append(f"{exp_id}: keep {vid}, it beats the default ({seen}).")
            elif verdict == "needs_more_data":
                out.append(f"{exp_id}: {vid} needs more data before any verdict.")
            elif not exp["futility"]["on"]:
                out.append(
                    f"{exp_id}: {vid} shows no measurable difference yet ({seen}); the plan "
                    "names no minimum detectable effect, so it is never paused as futile."
                )
            else:
                days = (exp.get("at_current_traffic") or {}).get("days_to_detect")
                when = f"about {days} days in all" if days else "longer than two years"
                out.append(
                    f"{exp_id}: {vid} shows no measurable difference yet ({seen}); finding "
                    f"the plan's effect takes {when} at current traffic."
                )
    return out


def build(
    window: Window,
    docs: Sequence[Mapping[str, Any]],
    totals: Totals,
    previous: Mapping[str, Any] | None,
    *,
    global_holdout: float,
    program_attribution_days: int = DEFAULT_ATTRIBUTION_DAYS,
    erased_subjects: int = 0,
    false_discovery_rate: bool = False,
    pre_exposure_days: int = 0,
) -> dict[str, Any]:
    """The report of `window.day`: see docs/report.md for every field.

    `false_discovery_rate`: verdicts also need the Benjamini-Hochberg adjusted sequential
    p-value across every variant of the program below alpha (off by default: each
    experience is its own decision with its own error budget; docs/statistics.md).
    `pre_exposure_days`: the days before each unit's first exposure that `totals` read for
    CUPED's covariate (0: none), stated in the report.
    """
    prev = previous_variants(previous)
    experiences: list[dict[str, Any]] = []
    results: list[VariantResult] = []
    for doc in sorted(docs, key=lambda d: str(d.get("id"))):
        exp_totals = totals.experiences.get(str(doc.get("id")))
        if not is_reported(doc, exp_totals):
            continue
        section, variant_results = _experience(doc, exp_totals, prev, window)
        experiences.append(section)
        results.extend(variant_results)
    results = _program_fdr(experiences, results, applied=false_discovery_rate)
    actions = guardrails.actions(window.day, docs, results)
    alerts = [
        {
            "kind": "srm",
            "experience": e["id"],
            "p_value": e["srm"]["p_value"],
            "message": (
                f"{e['id']}: sample ratio mismatch (p = {e['srm']['p_value']:.2g} < "
                f"{stats.SRM_THRESHOLD}): no verdict and no pause until assignment or "
                "logging is fixed"
            ),
        }
        for e in experiences
        if e["srm"]["flagged"]
    ]
    program = _program(totals, global_holdout, program_attribution_days)
    if program["srm"] and program["srm"]["flagged"]:
        alerts.append(
            {
                "kind": "srm",
                "experience": None,
                "p_value": program["srm"]["p_value"],
                "message": "the global holdout's share is off: the program's lift is not read",
            }
        )
    verdicts: dict[str, int] = {}
    for e in experiences:
        for v in e["variants"]:
            key = v["verdict"] or "no_verdict_srm"
            verdicts[key] = verdicts.get(key, 0) + 1
    return {
        "schema": SCHEMA,
        "date": window.day.isoformat(),
        "window": window.as_dict(),
        "pre_exposure_days": pre_exposure_days,
        "events": {**totals.counters, "erased_subjects": erased_subjects},
        "summary": {
            "experiences": len(experiences),
            "variants": sum(len(e["variants"]) for e in experiences),
            "verdicts": dict(sorted(verdicts.items())),
            "actions": len(actions),
            "alerts": len(alerts),
            "in_words": in_words(window.day, experiences, actions),
        },
        "experiences": experiences,
        "guardrails": [a.as_dict() for a in actions],
        "program": {
            "coverage": _coverage(totals.coverage),
            "global_holdout": program,
        },
        "alerts": alerts,
    }
