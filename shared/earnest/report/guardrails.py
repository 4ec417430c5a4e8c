"""Guardrails: which variants the nightly report pauses, and which experiences it retires.

Owns the pause rules (SPEC 7, docs/report.md "Guardrails") as pure functions over
experience documents and the report's verdicts (`actions`). What an action is and does
(`Action`, its kinds, `apply`, `record`), the retirement and review rules and the audit
trail read back (`as_of`) belong to the experience lifecycle, `earnest.experiences`; they
are re-exported here for the report's code. The adapter (earnest_aws.nightly_report) does
the I/O.

Pure: stdlib only. It must not import boto3, pydantic or `earnest_aws`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from earnest.experiences.actions import (
    ALL_VARIANTS_PAUSED,
    NIGHTLY_REPORT,
    PAUSE_EXPERIENCE,
    PAUSE_VARIANT,
    RETIRE,
    Action,
    apply,
    record,
)
from earnest.experiences.history import as_of, changes
from earnest.experiences.lifecycle import ACTIVE_STATUSES, LIVE
from earnest.experiences.retirement import (
    ENDED,
    REVIEW_OVERDUE,
    UNOWNED,
    end_of,
    ends_at,
    review_due,
)
from earnest.experiences.retirement import reasons as lifecycle

__all__ = [
    "ACTOR",
    "ALL_VARIANTS_PAUSED",
    "ENDED",
    "PAUSE_EXPERIENCE",
    "PAUSE_VARIANT",
    "RETIRE",
    "REVIEW_OVERDUE",
    "UNOWNED",
    "Action",
    "VariantResult",
    "actions",
    "apply",
    "as_of",
    "changes",
    "end_of",
    "ends_at",
    "lifecycle",
    "record",
    "review_due",
]

ACTOR = NIGHTLY_REPORT

# The rules that lead to a pause.
LOSES_TO_DEFAULT = "loses_to_default"
GUARDRAIL_HARM = "guardrail_harm"
STOPPED_BEATING_DEFAULT = "stopped_beating_default"


@dataclass(frozen=True, slots=True)
class VariantResult:
    """What the guardrails read about one variant from tonight's (and last night's) report."""

    experience: str
    variant: str
    verdict: str | None  # None while the experience's sample ratio is off
    previous_verdict: str | None
    enough_units: bool
    evidence: Mapping[str, Any] = field(default_factory=dict)
    # Futility: the always-valid ratio interval ends below the plan's minimum
    # detectable effect (earnest.report.stats.cannot_reach).
    cannot_reach_mde: bool = False
    # Guardrail metrics on which the variant significantly harms (earnest.report.stats.harms)
    harmed: tuple[str, ...] = ()


def actions(
    day: date, docs: Sequence[Mapping[str, Any]], results: Iterable[VariantResult]
) -> list[Action]:
    """Every change the guardrails make tonight, in a stable order (experience, variant).

    - retire a live or paused experience that is unowned, overdue for review or past
      `ends_at` (one action listing every rule it broke; nothing else is changed on it);
    - pause a live experience's active variant that loses to its default, or that has
      stopped beating it: past the minimum sample, inconclusive, and its always-valid
      interval can no longer reach the plan's minimum detectable effect (futility; one
      night's dip of a lead below 0 is not evidence, so it is not a rule), or that
      significantly harms one of the plan's guardrail metrics, whatever its primary says;
    - pause the experience itself when that would leave no active variant.

    A variant without a verdict (sample ratio off) is never paused: the numbers that
    would justify it are not trusted.
    """
    by_variant = {(r.experience, r.variant): r for r in results}
    out: list[Action] = []
    for doc in sorted(docs, key=lambda d: str(d.get("id"))):
        exp_id = str(doc.get("id"))
        status = doc.get("status")
        if status not in ACTIVE_STATUSES:
            continue
        broken = lifecycle(doc, day)
        if broken:
            out.append(
                Action(
                    exp_id,
                    RETIRE,
                    broken[0][0],
                    None,
                    "; ".join(why for _, why in broken),
                    {
                        "report_date": day.isoformat(),
                        "rules": [rule for rule, _ in broken],
                        "owner": doc.get("owner"),
                        "review_due": (due.isoformat() if (due := review_due(doc)) else None),
                        "ends_at": doc.get("ends_at"),
                    },
                )
            )
            continue
        if status != LIVE:
            continue
        variants = [v for v in doc.get("variants") or [] if isinstance(v, Mapping)]
        active = [str(v.get("id")) for v in variants if not v.get("paused")]
        paused_now: list[str] = []
        for variant in active:
            result = by_variant.get((exp_id, variant))
            if result is None or result.verdict is None:
                continue
            rule = _pause_rule(result)
            if rule is None:
                continue
            paused_now.append(variant)
            out.append(
                Action(
                    exp_id,
                    PAUSE_VARIANT,
                    rule,
                    variant,
                    _pause_reason(rule, result, day),
                    {"report_date": day.isoformat(), **result.evidence},
                )
            )
        if paused_now and len(paused_now) == len(active):
            out.append(
                Action(
                    exp_id,
                    PAUSE_EXPERIENCE,
                    ALL_VARIANTS_PAUSED,
                    None,
                    f"every variant is paused ({', '.join(paused_now)}): only the default is left",
                    {"report_date": day.isoformat(), "variants": paused_now},
                )
            )
    return out


def _pause_rule(result: VariantResult) -> str | None:
    if result.verdict == LOSES_TO_DEFAULT:
        return LOSES_TO_DEFAULT
    if result.harmed:  # each harm is gated on its own metric's counts
        return GUARDRAIL_HARM
    if result.verdict == "inconclusive" and result.enough_units and result.cannot_reach_mde:
        return STOPPED_BEATING_DEFAULT
    return None


# Why a variant is paused, in words, by rule (the audit reason and the report's summary).
PAUSED_BECAUSE = {
    LOSES_TO_DEFAULT: "loses to the default",
    STOPPED_BEATING_DEFAULT: (
        "stopped beating the default (it cannot beat it by the plan's minimum detectable effect)"
    ),
    GUARDRAIL_HARM: "harms a guardrail metric beyond its margin",
}


def _pause_reason(rule: str, result: VariantResult, day: date) -> str:
    what = PAUSED_BECAUSE[rule]
    if rule == GUARDRAIL_HARM:
        what += f" ({', '.join(result.harmed)})"
    return f"{rule}: variant {result.variant} {what} in the report of {day.isoformat()}"
