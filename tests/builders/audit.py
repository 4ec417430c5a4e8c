"""Audit trails for tests, shaped as the experiences store reads them back (oldest first)."""

from __future__ import annotations

from typing import Any

from earnest.experiences.lifecycle import entry
from earnest.experiences.store import AUTHORED, OPERATIONAL, StoredExperience


def authored(version: int, at: str, doc: dict[str, Any], action: str = "update") -> dict[str, Any]:
    """An owner's push of `doc` (its whole content, as the store keeps it)."""
    return {
        "version": version,
        "at": at,
        "actor": "alice",
        "action": action,
        "kind": AUTHORED,
        "reason": f"push v{version}",
        "changes": {},
        "evidence": {},
        "doc": dict(doc),
    }


def operational(
    version: int,
    at: str,
    changes: dict[str, Any],
    action: str,
    reason: str,
    actor: str = "nightly-report",
) -> dict[str, Any]:
    """A change of operational state: `changes` is {ops key: {from, to}}."""
    return {
        "version": version,
        "at": at,
        "actor": actor,
        "action": action,
        "kind": OPERATIONAL,
        "reason": reason,
        "changes": changes,
        "evidence": {},
        "doc": None,
    }


def pause_variant(
    version: int, at: str, variant: str, rule: str = "loses_to_default"
) -> dict[str, Any]:
    paused = entry("paused", rule, f"{variant} {rule}", "nightly-report", at, {})
    return operational(
        version, at, {"variants": {"from": None, "to": {variant: paused}}}, "pause_variant", rule
    )


def retire(version: int, at: str, rule: str = "review_overdue") -> dict[str, Any]:
    retired = entry("retired", rule, f"retired: {rule}", "nightly-report", at, {})
    return operational(version, at, {"experience": {"from": None, "to": retired}}, "retire", rule)


def stored(doc: dict[str, Any], audit: list[dict[str, Any]]) -> StoredExperience:
    """The current item an audit trail leaves: the last authored doc, the ops it built."""
    ops: dict[str, Any] = {}
    for e in audit:
        if e["kind"] == OPERATIONAL:
            for key, change in e["changes"].items():
                if change["to"] is None:
                    ops.pop(key, None)
                else:
                    ops[key] = change["to"]
    last = audit[-1] if audit else {"version": 1, "at": "", "actor": ""}
    return StoredExperience(
        {**doc, "version": last["version"]}, last["version"], last["at"], last["actor"], ops
    )


def pause_experience(version: int, at: str, rule: str = "all_variants_paused") -> dict[str, Any]:
    paused = entry("paused", rule, f"paused: {rule}", "nightly-report", at, {})
    return operational(
        version, at, {"experience": {"from": None, "to": paused}}, "pause_experience", rule
    )
