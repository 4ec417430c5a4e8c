"""The words of `Engine.explain`: for each candidate of a placement, the detail of why.

The outcome of every candidate comes from the engine's own checks (`Engine._outcome`, the
same as `decide`'s loop); this module only says it in detail (which condition failed and
what the visitor has there, which purpose is not granted, the confidence against the
threshold, who outranked whom, which holdout). Cold path: imported by explain only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from earnest.conditions.compile import matches
from earnest.decide import reasons, slices
from earnest.decide.request import identity_confidence

if TYPE_CHECKING:
    from earnest.decide.compiled import CompiledExperience

_MISSING = object()


def _value_at(request: Mapping[str, Any], path: str) -> Any:
    value: Any = request
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def failed_conditions(
    audience: Mapping[str, Any], view: Mapping[str, Any], saved_groups: Any
) -> list[str]:
    """Each top-level condition of `audience` that `view` fails, with what it has there."""
    out = []
    for key, expected in audience.items():
        if matches({key: expected}, view, saved_groups):
            continue
        wanted = f"{key}: {json.dumps(expected, default=str)}"
        if key.startswith("$"):
            out.append(wanted)
            continue
        got = _value_at(view, key)
        out.append(f"{wanted}, visitor has {'nothing' if got is _MISSING else json.dumps(got)}")
    return out


def _detail(
    exp: CompiledExperience,
    outcome: str,
    request: Mapping[str, Any],
    granted: frozenset[str],
    saved_groups: Any,
) -> str:
    if outcome == reasons.NO_CONSENT:
        missing = ", ".join(sorted(exp.requires - granted))
        return f"needs consent for {missing}, not granted for this visitor"
    if outcome == reasons.IDENTITY_UNCERTAIN:
        confidence = identity_confidence(request["visitor"])
        view = {
            "visitor": {"anonymous_id": request["visitor"]["anonymous_id"]},
            "context": request.get("context") or {},
        }
        failed = "; ".join(failed_conditions(exp.audience, view, saved_groups))
        return (
            f"identity confidence {confidence} < {exp.min_identity}: judged as anonymous, "
            f"it fails {failed}"
        )
    if outcome == reasons.NOT_IN_AUDIENCE:
        return "fails " + "; ".join(failed_conditions(exp.audience, request, saved_groups))
    if outcome == reasons.FREQUENCY_CAPPED:
        return f"shown {exp.cap_max} times or more in its last {exp.cap_days} days: default"
    if outcome == reasons.DISMISSED:
        return f"dismissed by this visitor within {exp.dismiss_days} days: default"
    return ""


def candidates(
    ranked: Sequence[CompiledExperience],
    outcome_of: Callable[[CompiledExperience], str],
    request: Mapping[str, Any],
    granted: frozenset[str],
    decision: Mapping[str, Any],
    saved_groups: Any,
    docs: Mapping[str, Mapping[str, Any]],
    global_holdout: float,
) -> list[dict[str, Any]]:
    """The live candidates of one placement, in rank order, each with outcome and detail."""
    rows: list[dict[str, Any]] = []
    winner: CompiledExperience | None = None
    for exp in ranked:
        outcome = outcome_of(exp)
        if not outcome and winner is None:
            winner, outcome = exp, decision["reason"]
            detail = {
                reasons.PERSONALIZED: f"serves variant {decision['variant']}",
                reasons.HOLDOUT: f"won; the visitor is in its holdout ({exp.holdout:.0%}): default",
                reasons.GLOBAL_HOLDOUT: f"won; the visitor is in the global holdout "
                f"({global_holdout:.0%}): default",
            }.get(outcome, "")
        elif not outcome:
            outcome = reasons.LOWER_PRIORITY
            assert winner is not None
            detail = f"would serve, but {winner.id} ranks first (priority {winner.priority} "
            detail += f"vs {exp.priority}, then id)"
        else:
            detail = _detail(exp, outcome, request, granted, saved_groups)
        paused = [
            f"{v.get('id')} paused: {v.get('paused_reason')}"
            for v in docs.get(exp.id, {}).get("variants") or []
            if isinstance(v, Mapping) and v.get("paused")
        ]
        if paused:
            detail += ("; " if detail else "") + "variant " + "; variant ".join(paused)
        weights = slices.describe(docs.get(exp.id, {}))
        if weights:
            detail += ("; " if detail else "") + weights
        rows.append(
            {
                "experience": exp.id,
                "priority": exp.priority,
                "status": "live",
                "outcome": outcome,
                "detail": detail,
            }
        )
    return rows
