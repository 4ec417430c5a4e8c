"""One variant against its holdout: lifts, verdict, futility, guardrail tests and trend.

Owns a variant's entry in the report and what the guardrails read about it
(`earnest.report.guardrails.VariantResult`), with the evidence an audit entry keeps.

Pure: stdlib only (and the core). It must not import boto3, pydantic or `earnest_aws`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from earnest.report import gate, metrics, stats
from earnest.report.arms import arm_of
from earnest.report.guardrails import VariantResult
from earnest.report.lifts import adjusted_lift, judged, lift_dict, num
from earnest.report.metrics import LOWER_IS_BETTER
from earnest.report.plan import Guardrail, Plan
from earnest.report.totals import ArmTotals

TREND_NIGHTS = 60  # nightly points of each variant's lift kept in the report


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


def trend(day: date, before: Mapping[str, Any] | None, lift: stats.Lift) -> list[dict[str, Any]]:
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
            "relative": num(lift.relative),
            "relative_low": num(lift.relative_low),
            "relative_high": num(lift.relative_high),
            "holdout": lift.holdout,
            "sequential_low": num(lift.sequential_low),
            "sequential_high": num(lift.sequential_high),
            "sequential_ratio_low": num(lift.sequential_ratio_low),
            "sequential_ratio_high": num(lift.sequential_ratio_high),
        }
    )
    return [dict(p) for p in points[-TREND_NIGHTS:]]


def guardrail_test(
    control: ArmTotals, vt: ArmTotals, g: Guardrail, family: int, plan: Plan, cap: float | None
) -> tuple[dict[str, Any], bool]:
    """One guardrail's one-sided non-inferiority test, as reported, and whether it harms.

    A named event is the share of units with one. Every guardrail is tested only past the
    plan's minimum and the small-counts gate on its own values (`gate.enough_data`: the
    event's or the rate's own counts, capped revenue's skewness bound), at its share of
    the error budget: alpha / (variants x guardrail metrics), one side.
    """
    lower = g.direction == LOWER_IS_BETTER
    if g.event is None:
        c, t = arm_of(control), arm_of(vt)
        lift = judged(control, vt, g.metric, family)
    else:
        c = stats.Arm(control.units, control.events.get(g.event, 0))
        t = stats.Arm(vt.units, vt.events.get(g.event, 0))
        lift = stats.compare(c, t, "conversion_rate", comparisons=family)
    metric = "conversion_rate" if g.event else g.metric
    gated = gate.enough_data(c, t, plan.min_units, metric, cap)
    harm = gated and stats.harms(lift, g.margin, lower_is_better=lower)
    p = stats.ratio_p_value(lift, g.margin if lower else -g.margin, below=not lower)
    report = {**g.as_dict(), "enough_data": gated, "harm": harm, "lift": lift_dict(lift)}
    return {**report, "p_value": p if gated else 1.0}, harm


def variant_section(
    exp_id: str,
    v: Mapping[str, Any],
    control: ArmTotals,
    vt: ArmTotals,
    plan: Plan,
    comparisons: int,
    srm: Mapping[str, Any],
    before: Mapping[str, Any] | None,
    day: date,
    cap: float | None = None,
    across_epochs: tuple[stats.Lift, stats.Arm, stats.Arm] | None = None,
) -> tuple[dict[str, Any], VariantResult]:
    """One variant against its holdout: lifts, verdict, futility, guardrail harm, trend.

    `across_epochs`: a bandit's primary lift combined over its epochs and the arms it is
    gated on (earnest.report.bandit.across_epochs), which the verdict then reads."""
    vid = str(v.get("id"))
    prev = before.get("verdict") if before else None
    holdout, variant = arm_of(control), arm_of(vt)
    by_metric = {
        m: stats.compare(holdout, variant, m, comparisons=comparisons) for m in metrics.names()
    }
    adjusted = {
        m: lift
        for m in metrics.cuped_names()
        if (lift := adjusted_lift(control, vt, m, comparisons))
    }
    primary = adjusted.get(plan.metric) or by_metric[plan.metric]
    if across_epochs is not None:
        primary, holdout, variant = across_epochs
    enough = gate.enough_data(holdout, variant, plan.min_units, plan.metric, cap)
    verdict = stats.verdict(primary, enough_units=enough, srm_flagged=srm["flagged"])
    futile = stats.cannot_reach(primary, plan.mde)
    # The guardrail family: Bonferroni over variants x guardrail metrics.
    family = comparisons * len(plan.guarded)
    tested = [guardrail_test(control, vt, g, family, plan, cap) for g in plan.guarded]
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
        "lift": {m: lift_dict(lift) for m, lift in by_metric.items()},
        "lift_adjusted": {m: lift_dict(lift) for m, lift in adjusted.items()},
        "trend": trend(day, before, primary),
    }
    if across_epochs is not None:
        entry["lift_across_epochs"] = lift_dict(primary)
    evidence = evidence_of(plan, control, vt, primary, verdict, prev, srm)
    evidence["cuped"] = plan.metric in adjusted
    evidence["guardrail_harm"] = list(harmed)
    evidence["guardrail_tests"] = [report for report, harm in tested if harm]
    return entry, VariantResult(exp_id, vid, verdict, prev, enough, evidence, futile, harmed)


def evidence_of(
    plan: Plan,
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
        "absolute_interval": [num(lift.absolute_low), num(lift.absolute_high)],
        "relative_lift": num(lift.relative),
        "p_value": lift.p_value,
        "sequential_interval": [num(lift.sequential_low), num(lift.sequential_high)],
        # The verdict's own test: the always-valid ratio interval and its p-value.
        "sequential_p_value": lift.sequential_ratio_p_value,
        "sequential_ratio_interval": [
            num(lift.sequential_ratio_low),
            num(lift.sequential_ratio_high),
        ],
        "srm_p_value": srm["p_value"],
    }
