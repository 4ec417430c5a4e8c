"""The nightly report as data: each experience's arms, SRM and variants, the program, the alerts.

Owns the report's content and its schema (docs/report.md): from the experiences as they
stood before the run (`earnest.report.guardrails.as_of`), the aggregated events
(`earnest.report.totals.Totals`) and last night's report, it builds one JSON-ready dict and
the guardrails' actions. The parts live one idea per module: the window (`window`), the
plan (`plan`), an arm's numbers (`arms`), lifts and CUPED's glue (`lifts`), SRM (`srm`), a
variant (`variant`), lift by segment (`segment_lift`), the program and FDR (`program`),
the plain words (`summary`); the statistics in `stats` and `cuped`, the decisions in
`guardrails`.
Deterministic: the same inputs give the same dict (no clock, no randomness, stable
order), so a re-run of a date writes byte-identical outputs.

Pure: stdlib only (and the core). It must not import boto3, pydantic or `earnest_aws`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from earnest.experiences.actions import Action
from earnest.experiences.lifecycle import LIVE, PAUSED
from earnest.experiences.retirement import ends_at
from earnest.experiences.retirement import review_due as review_due_of
from earnest.report import bandit, guardrails, planning, stats
from earnest.report.arms import EMPTY, HOLDOUT_ARM, arm_entry, variants_of
from earnest.report.guardrails import VariantResult
from earnest.report.lifts import judged_lift
from earnest.report.plan import DEFAULT_ATTRIBUTION_DAYS, Plan, attribution_of, plan_of
from earnest.report.program import coverage_section, program_fdr, program_section
from earnest.report.segment_lift import segment_section
from earnest.report.srm import SRM_THRESHOLD, srm_check
from earnest.report.summary import in_words
from earnest.report.totals import ArmKey, ArmTotals, ExperienceTotals, Totals
from earnest.report.variant import previous_variants, variant_section
from earnest.report.window import Window

SCHEMA = "earnest.report/1"
# A guardrail action's `status` in the report: applied by the run, or not (yet).
APPLIED = "applied"
PENDING = "pending"


def _arms(
    doc: Mapping[str, Any],
    arms_totals: Mapping[ArmKey, ArmTotals],
    segments: Mapping[str, list[tuple[str, int, float]]],
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every arm's numbers (holdout, configured variants, variants since removed) and SRM
    (`segments`: a segmented bandit's split per segment value, bandit.segment_splits)."""
    holdout = float(doc.get("holdout") or 0.0)
    variants = variants_of(doc)
    events = attribution_of(doc).guardrail_events
    active_weight = math.fsum(float(v.get("weight") or 0) for v in variants if not v.get("paused"))
    control = arms_totals.get(None, EMPTY)
    arms = [
        arm_entry(
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
            arm_entry(
                vid, vt, in_config=True, paused=paused, weight=weight, share=share, events=events
            )
        )
        srm_input.append((vid, vt.units, weight, not paused))
    configured = {str(v.get("id")) for v in variants}
    for key, vt in arms_totals.items():
        if key is not None and key not in configured:  # served once, since removed
            arms.append(
                arm_entry(
                    key, vt, in_config=False, paused=True, weight=None, share=0.0, events=events
                )
            )
            srm_input.append((key, vt.units, 0.0, False))
    return arms, srm_check(holdout, control.units, srm_input, segments)


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
    plan = Plan.of(doc)
    span = window.span(doc)
    arms_totals: Mapping[ArmKey, ArmTotals] = totals.arms if totals else {}
    arms, srm = _arms(doc, arms_totals, bandit.segment_splits(doc, totals))
    variants = variants_of(doc)
    control = arms_totals.get(None, EMPTY)
    segments = totals.segments if totals else {}
    combined = bandit.across_epochs(doc, arms_totals, len(variants), segments)
    compared = [
        variant_section(
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
            combined.get(str(v.get("id"))),
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
    by_segment = segment_section(doc, totals, plan)  # informs only: no verdict reads it
    if by_segment is not None:
        section["segments"] = by_segment
    return section, [result for _, result in compared]


def is_reported(doc: Mapping[str, Any], totals: ExperienceTotals | None) -> bool:
    """Live experiences, and paused ones with units in the window ("recently paused")."""
    if doc.get("status") == LIVE:
        return True
    return (
        doc.get("status") == PAUSED
        and totals is not None
        and any(a.units for a in totals.arms.values())
    )


@dataclass(frozen=True, slots=True)
class Built:
    """A night's report (JSON-ready) and the guardrails' actions it lists, as `Action`s."""

    report: dict[str, Any]
    actions: list[Action]


def build(
    window: Window,
    docs: Sequence[Mapping[str, Any]],
    totals: Totals,
    previous: Mapping[str, Any] | None,
    **options: Any,
) -> dict[str, Any]:
    """The report of `window.day` (what `assemble` builds, without its actions)."""
    return assemble(window, docs, totals, previous, **options).report


def assemble(
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
) -> Built:
    """The report of `window.day` (docs/report.md for every field) and its actions.

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
    results = program_fdr(experiences, results, applied=false_discovery_rate)
    actions = guardrails.actions(window.day, docs, results)
    flagged = frozenset(e["id"] for e in experiences if e["srm"]["flagged"])
    reweights = bandit.reweights(window.day, docs, totals, actions, flagged)
    by_id = {str(d.get("id")): d for d in docs}
    for e in experiences:
        mine = next((a for a in reweights if a.experience == e["id"]), None)
        found = totals.experiences.get(e["id"])
        arms = found.arms if found else {}
        segments = found.segments if found else {}
        e["allocation"] = bandit.section(by_id[e["id"]], mine, arms, e["srm"], segments)
    actions += reweights
    alerts = [
        {
            "kind": "srm",
            "experience": e["id"],
            "p_value": e["srm"]["p_value"],
            "message": (
                f"{e['id']}: sample ratio mismatch (p = {e['srm']['p_value']:.2g} < "
                f"{SRM_THRESHOLD}): no verdict and no pause until assignment or "
                "logging is fixed"
            ),
        }
        for e in experiences
        if e["srm"]["flagged"]
    ]
    program = program_section(totals, global_holdout, program_attribution_days)
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
    report = {
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
        "guardrails": [{**a.as_dict(), "status": PENDING} for a in actions],
        "program": {
            "coverage": coverage_section(totals.coverage),
            "global_holdout": program,
        },
        "alerts": alerts,
    }
    return Built(report, actions)
