"""The program: every experience together against the global holdout, coverage and FDR.

Owns the report's `program` section (docs/report.md, "Program", "Coverage") and the
Benjamini-Hochberg adjustment across the program's variants (REPORT_FDR).

Pure: stdlib only (and the core). It must not import boto3, pydantic or `earnest_aws`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from earnest.decide.reasons import GLOBAL_HOLDOUT, REASONS
from earnest.report import gate, metrics, stats
from earnest.report.arms import EMPTY, arm_numbers, arm_of
from earnest.report.guardrails import VariantResult
from earnest.report.lifts import judged_lift, lift_dict
from earnest.report.srm import srm_check_program
from earnest.report.totals import DEFAULT_CAP_PERCENTILE, PROGRAM_ARM, Totals

PROGRAM_MIN_UNITS = 1000


def coverage_section(coverage: Mapping[str, int]) -> dict[str, Any]:
    total = sum(coverage.values())
    order = [r for r in REASONS if r in coverage] + sorted(set(coverage) - set(REASONS))
    return {
        "exposures": total,
        "reasons": [
            {"reason": r, "exposures": coverage[r], "share": coverage[r] / total if total else 0.0}
            for r in order
        ],
    }


def program_section(totals: Totals, global_holdout: float, attribution_days: int) -> dict[str, Any]:
    held = totals.program.get(GLOBAL_HOLDOUT, EMPTY)
    treated = totals.program.get(PROGRAM_ARM, EMPTY)
    lifts = {m: stats.compare(arm_of(held), arm_of(treated), m) for m in metrics.names()}
    srm = (
        srm_check_program(global_holdout, held.units, treated.units)
        if 0 < global_holdout < 1
        else None
    )
    enough = gate.enough_data(arm_of(held), arm_of(treated), PROGRAM_MIN_UNITS)
    flagged = bool(srm and srm["flagged"])
    return {
        "global_holdout_share": global_holdout,
        "attribution_window_days": attribution_days,
        "revenue_cap": {"percentile": DEFAULT_CAP_PERCENTILE, "value": totals.program_revenue_cap},
        "min_units_per_arm": PROGRAM_MIN_UNITS,
        "arms": [
            {"arm": GLOBAL_HOLDOUT, **arm_numbers(held)},
            {"arm": PROGRAM_ARM, **arm_numbers(treated)},
        ],
        "srm": srm,
        "lift": {m: lift_dict(lift) for m, lift in lifts.items()},
        "verdicts": {
            m: stats.verdict(lift, enough_units=enough, srm_flagged=flagged)
            for m, lift in lifts.items()
        },
    }


def program_fdr(
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
