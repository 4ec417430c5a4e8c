"""Lift by segment: each variant against the same segment value's holdout, the false
discovery rate controlled across them, and the variants whose effect differs by segment.

Owns an experience's `segments` section of the report (docs/report.md, "Lift by segment";
the method: docs/statistics.md, "Lift by segment"), the one place lift by segment is read.
Per recorded path, value and variant, the lift the verdict would read on the plan's metric
(`lifts.judged` on the current allocation: CUPED-adjusted when it can be; for a segmented
bandit's allocation path once it has re-weighted, the value's lift combined across its
epochs, `bandit.value_lifts`, as a bandit's verdict reads its own), tested with the
always-valid ratio p-value, once past the plan's minimum and the small-counts gate in both
arms of that value; Benjamini-Hochberg once over every such test of the experience. A
variant that significantly helps one value and harms another of the same path, or helps
one while another (with enough data) shows nothing, is flagged. Nothing here drives a
verdict or a pause: the experience's own lift does.

Pure: stdlib only (and the core). It must not import boto3, pydantic or `earnest_aws`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from earnest.report import bandit, gate, stats
from earnest.report.arms import EMPTY, arm_of, variants_of
from earnest.report.lifts import judged, num
from earnest.report.plan import Plan, segments_of
from earnest.report.totals import ArmTotals, ExperienceTotals

HELPS, HARMS, FLAT, NEEDS_MORE_DATA = "helps", "harms", "flat", "needs_more_data"
HELPS_AND_HARMS = "helps_and_harms"  # helps one value, harms another of the same path
HELPS_ONE_ONLY = "helps_one_only"  # helps one value, another with enough data shows nothing


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.1f} %"


def _test(
    path: str,
    value: str,
    variant: str,
    compared: tuple[stats.Lift, stats.Arm, stats.Arm] | None,
    plan: Plan,
    cap: float | None,
    across_epochs: bool = False,
) -> dict[str, Any]:
    """One value x variant test: `compared` is its lift and the two arms the gate reads
    (None: no data in both arms); `across_epochs`: combined over a bandit's epochs."""
    lift, control, vt = compared or (None, stats.Arm(0), stats.Arm(0))
    enough = lift is not None and gate.enough_data(control, vt, plan.min_units, plan.metric, cap)
    return {
        "path": path,
        "value": value,
        "variant": variant,
        "units": {"holdout": control.units, "variant": vt.units},
        "enough_data": enough,
        "holdout": lift.holdout if lift else None,
        "mean": lift.variant if lift else None,
        "relative": num(lift.relative) if lift else None,
        "sequential_ratio_low": num(lift.sequential_ratio_low) if lift else None,
        "sequential_ratio_high": num(lift.sequential_ratio_high) if lift else None,
        "p_value": lift.sequential_ratio_p_value if lift and enough else 1.0,
        "across_epochs": across_epochs,
    }


def _current(
    control: ArmTotals, vt: ArmTotals, metric: str
) -> tuple[stats.Lift, stats.Arm, stats.Arm]:
    """A value's lift on the current allocation's totals, as the verdict reads it."""
    return judged(control, vt, metric, 1), arm_of(control), arm_of(vt)  # BH below


def _tests(
    doc: Mapping[str, Any], totals: ExperienceTotals | None, plan: Plan, paths: Sequence[str]
) -> list[dict[str, Any]]:
    """Every value x variant test of the experience: a segmented bandit's allocation path
    across its epochs (earnest.report.bandit.value_lifts), every other path on the current
    allocation's totals."""
    split = totals.segments if totals else {}
    cap = totals.revenue_cap if totals else None
    variants = [str(v.get("id")) for v in variants_of(doc)]
    by_epochs = bandit.value_lifts(doc, split)
    tests: list[dict[str, Any]] = []
    for path in paths:
        if by_epochs is not None and by_epochs[0] == path:
            tests += [
                _test(path, value, vid, lifts.get(vid), plan, cap, across_epochs=True)
                for value, lifts in sorted(by_epochs[1].items())
                for vid in variants
            ]
            continue
        tests += [
            _test(
                path,
                value,
                vid,
                _current(arms.get(None, EMPTY), arms.get(vid, EMPTY), plan.metric),
                plan,
                cap,
            )
            for value, arms in sorted(split.get(path, {}).items())
            for vid in variants
        ]
    return tests


def _effect(test: Mapping[str, Any]) -> str:
    if not test["enough_data"]:
        return NEEDS_MORE_DATA
    if test["p_value_bh"] >= stats.DEFAULT_ALPHA:
        return FLAT
    return HELPS if (test["relative"] or 0.0) > 0 else HARMS


def flags(tests: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per variant and path, whether its effect differs by value (`helps_and_harms` or
    `helps_one_only`), with the values it helps and those it harms or leaves flat."""
    out: list[dict[str, Any]] = []
    keys = dict.fromkeys((t["variant"], t["path"]) for t in tests)
    for variant, path in keys:
        mine = [t for t in tests if (t["variant"], t["path"]) == (variant, path)]
        helps = [t for t in mine if t["effect"] == HELPS]
        harms = [t for t in mine if t["effect"] == HARMS]
        flat = [t for t in mine if t["effect"] == FLAT]
        if not helps or not (harms or flat):
            continue
        kind = HELPS_AND_HARMS if harms else HELPS_ONE_ONLY
        others = harms or flat
        said = ", ".join(f"{t['value']} ({_pct(t['relative'])})" for t in helps)
        rest = ", ".join(f"{t['value']} ({_pct(t['relative'])})" for t in others)
        verb = "hurts" if harms else "shows no measurable effect on"
        out.append(
            {
                "variant": variant,
                "path": path,
                "kind": kind,
                "helps": [t["value"] for t in helps],
                "harms": [t["value"] for t in harms],
                "flat": [t["value"] for t in flat],
                "message": f"{variant} helps {path} {said}, {verb} {rest}",
            }
        )
    return out


def segment_section(
    doc: Mapping[str, Any], totals: ExperienceTotals | None, plan: Plan
) -> dict[str, Any] | None:
    """The experience's `segments` section (None when it records no segment)."""
    paths = segments_of(doc)
    if not paths:
        return None
    tests = _tests(doc, totals, plan, paths)
    for test, adjusted in zip(
        tests, stats.benjamini_hochberg([t["p_value"] for t in tests]), strict=True
    ):
        test["p_value_bh"] = adjusted
        test["effect"] = _effect(test)
    return {
        "paths": list(paths),
        "metric": plan.metric,
        "alpha": stats.DEFAULT_ALPHA,
        "tests": tests,
        "flags": flags(tests),
    }
