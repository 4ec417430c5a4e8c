"""Actions on an experience's operational state, and the one registry of their kinds.

An `Action` is one change the nightly report's guardrails decide (a variant paused, the
experience paused or retired), with the rule, the reason and the evidence. `KINDS` is the
only list of what an action can be: an `Action` of an unknown kind is refused where it is
made (a report read back, a new rule with a typo), so applying, recording and showing one
never meet a kind they do not know. A new kind (adaptive weights, say) is one `Kind` here.

Applying (`apply`: the effective document after the actions) and recording (`record`: the
operational state after them, earnest.experiences.lifecycle) read the registry; the
operator's `earnest pause` writes the same kinds.

Pure: stdlib only. It must not import boto3, pydantic, `earnest_aws` or the report.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from earnest.errors import InvalidRequest
from earnest.experiences import lifecycle, weights
from earnest.experiences.lifecycle import ACTIVE_STATUSES, LIVE, PAUSED, RETIRED

NIGHTLY_REPORT = "nightly-report"  # who the guardrails' actions are by (the audit's actor)
VARIANT = "variant"  # what a kind acts on: one variant, the whole experience, or its weights
EXPERIENCE = "experience"
WEIGHTS = "weights"


@dataclass(frozen=True, slots=True)
class Kind:
    """What an action of this kind does: its target, the status it sets, the statuses it
    may act from, how strong it is (the strongest names an audit entry of several), and the
    command that undoes it."""

    name: str
    target: str
    status: str
    acts_on: frozenset[str]
    strength: int
    undo: str


PAUSE_VARIANT = "pause_variant"
PAUSE_EXPERIENCE = "pause_experience"
RETIRE = "retire"
REWEIGHT = "reweight"  # a bandit's new weights (earnest.report.bandit, earnest.experiences.weights)
# The rule of a pause of the whole experience that left no variant serving: resuming one
# of its variants lifts it too.
ALL_VARIANTS_PAUSED = "all_variants_paused"

KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(PAUSE_VARIANT, VARIANT, PAUSED, ACTIVE_STATUSES, 1, "resume"),
        Kind(PAUSE_EXPERIENCE, EXPERIENCE, PAUSED, frozenset({LIVE}), 2, "resume"),
        Kind(RETIRE, EXPERIENCE, RETIRED, ACTIVE_STATUSES, 3, "revive"),
        # Sets no status; undone by a push of `allocation: {mode: fixed}`.
        Kind(REWEIGHT, WEIGHTS, LIVE, frozenset({LIVE}), 0, "push"),
    )
}


def kind_of(name: str) -> Kind:
    """The registered kind `name`; InvalidRequest naming the known ones otherwise."""
    found = KINDS.get(name)
    if found is None:
        raise InvalidRequest(
            f"unknown action {name!r}: one of {', '.join(sorted(KINDS))}", field="action"
        )
    return found


@dataclass(frozen=True, slots=True)
class Action:
    """One change the guardrails make, with why and the numbers behind it."""

    experience: str
    action: str
    rule: str
    variant: str | None
    reason: str
    evidence: Mapping[str, Any]

    def __post_init__(self) -> None:
        kind = kind_of(self.action)
        if kind.target == VARIANT and not self.variant:
            raise InvalidRequest(f"{self.action} acts on a variant: name one", field="variant")
        if kind.target != VARIANT and self.variant is not None:
            raise InvalidRequest(
                f"{self.action} acts on the whole experience, not variant {self.variant!r}",
                field="variant",
            )

    @property
    def kind(self) -> Kind:
        return KINDS[self.action]

    def as_dict(self) -> dict[str, Any]:
        return {
            "experience": self.experience,
            "action": self.action,
            "rule": self.rule,
            "variant": self.variant,
            "reason": self.reason,
            "evidence": dict(self.evidence),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Action:
        """An action read back (a report's `guardrails`), checked as a new one is."""
        return cls(
            str(raw["experience"]),
            str(raw["action"]),
            str(raw["rule"]),
            raw.get("variant"),
            str(raw.get("reason") or ""),
            dict(raw.get("evidence") or {}),
        )


def audit_action(actions: Iterable[Action]) -> str:
    """The audit entry's `action` for several at once: the strongest kind among them."""
    return max((a.kind for a in actions), key=lambda k: k.strength).name


def apply(doc: Mapping[str, Any], actions: Iterable[Action]) -> dict[str, Any]:
    """`doc` (an effective document) with `actions` applied; twice changes nothing more.

    An action whose kind may not act from the document's status (a pause of an experience
    retired since) changes nothing.
    """
    out = copy.deepcopy(dict(doc))
    out.pop("version", None)
    for action in actions:
        kind = action.kind
        if out.get("status") not in kind.acts_on:
            continue
        if kind.target == EXPERIENCE:
            out["status"] = kind.status
            continue
        if kind.target == WEIGHTS:
            out = weights.apply(out, action.evidence)
            continue
        for variant in out.get("variants") or []:
            if variant.get("id") == action.variant and not variant.get("paused"):
                variant["paused"] = True
                variant["paused_reason"] = action.reason
    return out


def record(
    ops: Mapping[str, Any],
    before: Mapping[str, Any],
    actions: Iterable[Action],
    at: str,
    by: str = NIGHTLY_REPORT,
) -> dict[str, Any]:
    """The operational state after `actions`, given the effective document `before`.

    Only what `apply` would change is written (one entry per paused variant, one for the
    experience's pause or retirement, each with the rule, reason, who, when and evidence),
    so recording the same actions twice changes nothing more. The authored document is
    never touched: earnest.experiences.lifecycle keeps the two apart.
    """
    actions = list(actions)
    after = apply(before, actions)
    out = dict(ops)
    was = {v.get("id"): bool(v.get("paused")) for v in before.get("variants") or []}
    now = {v.get("id"): bool(v.get("paused")) for v in after.get("variants") or []}
    for a in actions:
        kind = a.kind
        if kind.target == WEIGHTS:
            if before.get("status") in kind.acts_on:
                paused = apply(before, [x for x in actions if x.kind.target != WEIGHTS])
                out = weights.record(out, paused, a.evidence, at)
            continue
        if kind.target == VARIANT:
            changed = bool(now.get(a.variant)) and not was.get(a.variant)
        else:
            changed = after.get("status") == kind.status != before.get("status")
        if changed:
            e = lifecycle.entry(kind.status, a.rule, a.reason, by, at, a.evidence)
            out = lifecycle.set_entry(out, a.variant, e)
    return out


def undo(status: str, target: str) -> str:
    """The command that undoes an operational `status` of a `target` (its kind's `undo`)."""
    return next(
        k.undo
        for k in KINDS.values()
        if k.status == status and k.target == target and k.target != WEIGHTS
    )


def kept(exp_id: str, authored: Mapping[str, Any], ops: Mapping[str, Any]) -> list[str]:
    """What a push of `authored` keeps of the operational state, one line each, with the
    command that would undo it."""
    lines = []
    decided = lifecycle.get_entry(ops, None)
    if decided is not None and authored.get("status") in ACTIVE_STATUSES:
        status = str(decided.get("status"))
        lines.append(
            f"{exp_id} stays {status}: {lifecycle.describe(decided)}; "
            f'earnest {undo(status, EXPERIENCE)} {exp_id} --reason "…" to serve it again'
        )
    known = {v.get("id") for v in authored.get("variants") or [] if isinstance(v, Mapping)}
    for variant, e in sorted((ops.get("variants") or {}).items()):
        if variant in known:
            lines.append(
                f"{variant} stays paused: {lifecycle.describe(e)}; "
                f"earnest {undo(PAUSED, VARIANT)} {exp_id}/{variant} "
                '--reason "…" to serve it again'
            )
    return lines
