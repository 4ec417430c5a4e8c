"""Operational state, kept apart from the authored document: pauses and retirements.

The authored document is the owner's file (audience, variants, weights, plan, cadence).
Operational state is what operations decided about it: a variant paused or an experience
paused or retired by the nightly run's guardrails or by an operator, each with who, when,
the reason and the evidence. The two are stored side by side; what decide serves and the
nightly report judges is the *effective* document, the authored one with the operational
state laid over it. A push replaces only the authored part, so it can never undo an
operational decision; only an explicit resume or revive (audited) removes one.

Shape of the operational state (a plain JSON document, `{}` when nothing was decided):

    {"experience": {"status": "paused" | "retired", <entry>},
     "variants": {"<variant id>": {"status": "paused", <entry>}}}

where an entry is `rule`, `reason`, `by`, `at` and `evidence`; and, beside them,

    {"allocation": {"started_at": "<time>", "signature": "<hash>"}}

and, for an experience whose file says `allocation: {mode: bandit}`,

    {"bandit": {"weights": {"<variant id>": w}, "slices": [[start, end, "<variant id>"]],
                "report_date", "at", "p_best": {...}, "epochs": [<epoch>],
                "segments": {"<segment value>": {"weights", "slices", "p_best"}}}}

the weights the nightly run set, the assignment over the hash that carries them
(earnest.decide.slices) and the periods of constant weights before (earnest.report.bandit),
laid over the file's weights while the file keeps the mode (with `allocation.segments`, each
value's own weights and slices too, as `bandit_segments`); then
the start of the current allocation (docs/experiences.md, "Allocation"): set by the first
write and restarted by any write that changes what is served to whom (`allocation_key`:
whether it serves, the holdout share, the serving variants and their weights), so the
nightly report analyses one growing sample. A push of unchanged weights keeps it.

Pure: stdlib only (decide's rules cache uses `effective`).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from typing import Any

LIVE = "live"
PAUSED = "paused"
RETIRED = "retired"
ACTIVE_STATUSES = frozenset({LIVE, PAUSED})
OPERATOR = "operator"  # the rule of a pause or retirement a person made by hand
ALLOCATION = "allocation"  # the operational state's key for the current allocation
BANDIT = "bandit"  # the operational state's key for a bandit's weights (and the file's mode)

Ops = dict[str, Any]


def authored_only(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The document without what the store adds (`version`)."""
    return {k: copy.deepcopy(v) for k, v in doc.items() if k != "version"}


def content_hash(doc: Mapping[str, Any]) -> str:
    """A short hash of authored content: equal documents give equal hashes everywhere."""
    blob = json.dumps(authored_only(doc), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def entry(
    status: str, rule: str, reason: str, by: str, at: str, evidence: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "status": status,
        "rule": rule,
        "reason": reason,
        "by": by,
        "at": at,
        "evidence": dict(evidence),
    }


def effective(authored: Mapping[str, Any], ops: Mapping[str, Any] | None) -> dict[str, Any]:
    """The authored document with the operational state laid over it.

    An operational status applies while the owner keeps the experience live or paused (an
    owner who sets it back to draft or retires it is obeyed); a paused variant stays
    paused whatever the file says.
    """
    out = authored_only(authored)
    ops = ops or {}
    decided = ops.get("experience")
    if (
        isinstance(decided, Mapping)
        and out.get("status") in ACTIVE_STATUSES
        and (decided.get("status") == RETIRED or out.get("status") == LIVE)
    ):
        out["status"] = decided.get("status")
        out["status_reason"] = describe(decided)
    paused = ops.get("variants") or {}
    for variant in out.get("variants") or []:
        got = paused.get(variant.get("id")) if isinstance(variant, dict) else None
        if isinstance(got, Mapping):
            variant["paused"] = True
            variant["paused_reason"] = got.get("reason")
    out = _with_weights(out, ops.get(BANDIT))
    started = allocation_start(ops)
    if started is not None:
        out["allocation_started_at"] = started
    return out


def _with_weights(out: dict[str, Any], bandit: Any) -> dict[str, Any]:
    """The nightly run's weights over the file's, and its slices, while the file says bandit
    (a variant the weights do not name keeps the file's weight)."""
    allocation = out.get("allocation")
    if not isinstance(bandit, Mapping) or not isinstance(allocation, Mapping):
        return out
    if allocation.get("mode") != BANDIT:
        return out
    weights = bandit.get("weights") or {}
    for variant in out.get("variants") or []:
        got = weights.get(variant.get("id")) if isinstance(variant, dict) else None
        if isinstance(got, int | float) and got > 0:
            variant["weight"] = float(got)
    if bandit.get("slices"):
        out["variant_slices"] = copy.deepcopy(bandit["slices"])
    out["bandit_epochs"] = copy.deepcopy(bandit.get("epochs") or [])  # the report reads them
    if allocation.get("segments") and isinstance(bandit.get("segments"), Mapping):
        out["bandit_segments"] = copy.deepcopy(dict(bandit["segments"]))
    return out


def allocation_key(served: Mapping[str, Any]) -> str | None:
    """What a restart of the allocation is about, as a short hash; None while nothing serves.

    Whether the effective document serves at all, its holdout share and each serving
    variant's weight: the shares units are assigned by. Content, audience and plan are not
    in it (changing them is a new test only when the owner says so, by changing weights).
    """
    if served.get("status") != LIVE:
        return None
    serving = sorted(
        (str(v.get("id")), float(v.get("weight") or 0))
        for v in served.get("variants") or []
        if isinstance(v, Mapping) and not v.get("paused")
    )
    shares: list[Any] = [float(served.get("holdout") or 0), serving]
    segmented = served.get("bandit_segments")
    if isinstance(segmented, Mapping) and segmented:  # a value's own weights: its shares
        shares.append(
            sorted(
                (str(value), sorted((state.get("weights") or {}).items()))
                for value, state in segmented.items()
                if isinstance(state, Mapping)
            )
        )
    blob = json.dumps(shares, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def allocation_start(ops: Mapping[str, Any]) -> str | None:
    """When the current allocation started (an ISO time), or None before it ever served."""
    got = ops.get(ALLOCATION)
    started = got.get("started_at") if isinstance(got, Mapping) else None
    return started if isinstance(started, str) else None


def with_allocation(authored: Mapping[str, Any], ops: Mapping[str, Any], at: str) -> Ops:
    """`ops` with its allocation restarted at `at` if the served shares changed, else `ops`.

    While nothing serves (the experience paused) the start is kept, for the report of the
    paused experience, and the signature cleared, so serving again restarts it. A restart
    never starts before the allocation it ends (a backfilled night's pause after a push).
    """
    key = allocation_key(effective(authored, ops))
    current = ops.get(ALLOCATION)
    was = current.get("signature") if isinstance(current, Mapping) else None
    if key == was:
        return dict(ops)
    if key is None:
        return {**ops, ALLOCATION: {**current, "signature": None}} if current else dict(ops)
    before = allocation_start(ops) or ""
    return {**ops, ALLOCATION: {"started_at": max(at, before), "signature": key}}


def set_entry(ops: Mapping[str, Any], variant: str | None, value: Mapping[str, Any]) -> Ops:
    """`ops` with `value` as the experience's (variant None) or a variant's entry."""
    out = copy.deepcopy(dict(ops))
    if variant is None:
        out["experience"] = dict(value)
    else:
        out.setdefault("variants", {})[variant] = dict(value)
    return out


def without(ops: Mapping[str, Any], variant: str | None) -> Ops:
    """`ops` with the experience's (variant None) or a variant's entry removed."""
    out = copy.deepcopy(dict(ops))
    if variant is None:
        out.pop("experience", None)
    else:
        variants = out.get("variants") or {}
        variants.pop(variant, None)
        if not variants:
            out.pop("variants", None)
    return out


def get_entry(ops: Mapping[str, Any], variant: str | None) -> Mapping[str, Any] | None:
    found = ops.get("experience") if variant is None else (ops.get("variants") or {}).get(variant)
    return found if isinstance(found, Mapping) else None


def describe(e: Mapping[str, Any]) -> str:
    """One line on why: `loses_to_default in the report of 2026-12-01 (lift -62 %, …)`."""
    evidence = e.get("evidence") or {}
    report_date = evidence.get("report_date")
    numbers = []
    lift = evidence.get("relative_lift")
    if isinstance(lift, int | float):
        numbers.append(f"lift {lift * 100:+.0f} %")
    p = evidence.get("sequential_p_value")
    if isinstance(p, int | float):
        numbers.append(f"always-valid p {p:.2g}")
    if not report_date:
        return f"{e.get('rule')} by {e.get('by')} on {str(e.get('at', ''))[:10]}: {e.get('reason')}"
    text = f"{e.get('rule')} in the report of {report_date}"
    if numbers:
        text += f" ({', '.join(numbers)})"
    return text
