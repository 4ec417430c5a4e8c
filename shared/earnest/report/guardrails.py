"""Guardrails: which variants the nightly report pauses and which experiences it retires.

Owns the rules (SPEC 7, docs/report.md "Guardrails") as pure functions over experience
documents and the report's verdicts: what to change (`actions`), the document after the
change (`apply`), the audit record of it (`changes`), and the document as it stood before
a given date's run (`as_of`), which is what makes a re-run of a date give the same report
and write nothing twice. The adapter (earnest_aws.nightly_report) does the I/O.

Pure: stdlib only. It must not import boto3, pydantic or `earnest_aws`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from earnest.experiences.lifecycle import ACTIVE_STATUSES, LIVE, PAUSED, RETIRED

ACTOR = "nightly-report"

# Actions (the audit entry's `action`) and the rules that lead to them.
PAUSE_VARIANT = "pause_variant"
PAUSE_EXPERIENCE = "pause_experience"
RETIRE = "retire"
LOSES_TO_DEFAULT = "loses_to_default"
GUARDRAIL_HARM = "guardrail_harm"
STOPPED_BEATING_DEFAULT = "stopped_beating_default"
ALL_VARIANTS_PAUSED = "all_variants_paused"
UNOWNED = "unowned"
REVIEW_OVERDUE = "review_overdue"
ENDED = "ended"


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


@dataclass(frozen=True, slots=True)
class Action:
    """One change the guardrails make, with why and the numbers behind it."""

    experience: str
    action: str
    rule: str
    variant: str | None
    reason: str
    evidence: Mapping[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "experience": self.experience,
            "action": self.action,
            "rule": self.rule,
            "variant": self.variant,
            "reason": self.reason,
            "evidence": dict(self.evidence),
        }


def end_of(day: date) -> datetime:
    """The first instant after `day` (UTC): a report for `day` sees everything before it."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)


def review_due(doc: Mapping[str, Any]) -> date | None:
    try:
        last = date.fromisoformat(str(doc["last_reviewed"])[:10])
        return last + timedelta(days=int(doc["review_every_days"]))
    except (KeyError, TypeError, ValueError):
        return None


def ends_at(doc: Mapping[str, Any]) -> datetime | None:
    raw = doc.get("ends_at")
    if raw in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(raw).replace("z", "Z"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def lifecycle(doc: Mapping[str, Any], day: date) -> list[tuple[str, str]]:
    """Why `doc` must be retired as of the end of `day`: [(rule, reason)], empty if not."""
    out: list[tuple[str, str]] = []
    if not str(doc.get("owner") or "").strip():
        out.append((UNOWNED, "no owner: every experience needs a named person"))
    due = review_due(doc)
    if due is None:
        out.append((REVIEW_OVERDUE, "no review date: last_reviewed/review_every_days missing"))
    elif due < day:
        out.append((REVIEW_OVERDUE, f"review was due {due.isoformat()}"))
    end = ends_at(doc)
    if end is not None and end < end_of(day):
        out.append((ENDED, f"past ends_at {end.isoformat().replace('+00:00', 'Z')}"))
    return out


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


def apply(doc: Mapping[str, Any], actions: Iterable[Action]) -> dict[str, Any]:
    """`doc` with `actions` applied; applying them twice changes nothing more."""
    out = copy.deepcopy(dict(doc))
    out.pop("version", None)
    for action in actions:
        if action.action == PAUSE_VARIANT:
            if out.get("status") not in ACTIVE_STATUSES:  # retired (or back to draft) since
                continue
            for variant in out.get("variants") or []:
                if variant.get("id") == action.variant and not variant.get("paused"):
                    variant["paused"] = True
                    variant["paused_reason"] = action.reason
        elif action.action == PAUSE_EXPERIENCE:
            if out.get("status") == LIVE:
                out["status"] = PAUSED
        elif action.action == RETIRE:
            if out.get("status") in ACTIVE_STATUSES:
                out["status"] = RETIRED
        else:
            raise ValueError(f"unknown guardrail action {action.action!r}")
    return out


def record(
    ops: Mapping[str, Any], before: Mapping[str, Any], actions: Iterable[Action], at: str
) -> dict[str, Any]:
    """The operational state after `actions`, given the effective document `before`.

    Only what `apply` would change is written (one entry per paused variant, one for the
    experience's pause or retirement, each with the rule, reason, time and evidence), so
    recording the same actions twice changes nothing more. The authored document is never
    touched: earnest.experiences.lifecycle keeps the two apart.
    """
    from earnest.experiences import lifecycle

    actions = list(actions)
    after = apply(before, actions)
    out = dict(ops)
    was = {v.get("id"): bool(v.get("paused")) for v in before.get("variants") or []}
    now = {v.get("id"): bool(v.get("paused")) for v in after.get("variants") or []}
    for a in actions:
        if a.action == PAUSE_VARIANT:
            target, status, changed = (
                a.variant,
                PAUSED,
                now.get(a.variant) and not was.get(a.variant),
            )
        else:
            target, status = None, (RETIRED if a.action == RETIRE else PAUSED)
            changed = after.get("status") == status != before.get("status")
        if changed:
            e = lifecycle.entry(status, a.rule, a.reason, ACTOR, at, a.as_dict()["evidence"])
            out = lifecycle.set_entry(out, target, e)
    return out


def changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """{field: {from, to}} for every top-level field that differs (version aside)."""
    keys = sorted((set(old) | set(new)) - {"version"})
    return {k: {"from": old.get(k), "to": new.get(k)} for k in keys if old.get(k) != new.get(k)}


def as_of(doc: Mapping[str, Any], audit: Sequence[Mapping[str, Any]], day: date) -> dict[str, Any]:
    """The experience as it stood before the report of `day` (or a later one) changed it.

    Walks the audit trail from the newest entry back, undoing the changes the nightly
    report made for `day` or any later date, and stops at the first entry someone else
    wrote: a person's change is always taken as it is. So a re-run of a date reads the
    same experiences as the first run did, gives the same report and writes nothing twice.
    """
    out = copy.deepcopy(dict(doc))
    out.pop("version", None)
    ordered = sorted(audit, key=lambda e: (int(e.get("version") or 0), str(e.get("at") or "")))
    for entry in reversed(ordered):
        evidence = entry.get("evidence")
        report_date = evidence.get("report_date") if isinstance(evidence, Mapping) else None
        if entry.get("actor") != ACTOR or not isinstance(report_date, str):
            break
        if report_date < day.isoformat():
            break
        for key, change in (entry.get("changes") or {}).items():
            if not isinstance(change, Mapping):
                continue
            if change.get("from") is None:
                out.pop(key, None)
            else:
                out[key] = copy.deepcopy(change["from"])
    return out
