"""A bandit's re-weighting as operational state: the weights, the slices that carry them and
the epochs (periods of constant weights) that came before.

The nightly run (earnest.report.bandit) decides the weights and says why in a `reweight`
action's evidence; this module lays them on the effective document (`apply`) and writes
them into the operational state (`record`): the new slices handed over from the served
ones (earnest.decide.slices, so only the units the change requires move), and the epoch
just ended with the numbers it measured, so later nights can combine the epochs. A push
never touches it; a file that leaves `mode: bandit` stops it being laid over the weights.

Pure: stdlib only.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from earnest.decide import slices
from earnest.experiences.lifecycle import BANDIT

MAX_EPOCHS = 400  # one a night at most, and an allocation's analysis is at most 400 days
# The epochs whose numbers per segment value are kept one by one; older ones' are pooled
# (`segments_folded` of the oldest kept), so 16 values never outgrow the stored item.
MAX_SEGMENT_EPOCHS = 20


def _serving(doc: Mapping[str, Any], weights: Mapping[str, float]) -> list[tuple[str, float]]:
    return [
        (str(v["id"]), float(weights.get(str(v["id"]), v.get("weight") or 0)))
        for v in doc.get("variants") or []
        if isinstance(v, Mapping) and not v.get("paused")
    ]


def apply(doc: dict[str, Any], evidence: Mapping[str, Any]) -> dict[str, Any]:
    """`doc` (effective) with the action's weights and the slices that carry them, and each
    segment value's that it re-weights (a value's first own slices are handed over from
    the overall ones it was served, so again only the units the change requires move)."""
    weights = evidence.get("weights") or {}
    serving = _serving(doc, {})
    served = slices.served(doc, serving)
    by_value = slices.served_segments(doc, serving)
    for variant in doc.get("variants") or []:
        if isinstance(variant, dict) and variant.get("id") in weights:
            variant["weight"] = float(weights[variant["id"]])
    if served is None:
        return doc
    doc["variant_slices"] = [list(s) for s in slices.reweight(served, _serving(doc, {}))]
    changed = evidence.get("segments") or {}
    if changed:
        states = {v: dict(state) for v, state in slices.segment_states(doc).items()}
        for value, seg in sorted(changed.items()):
            own = {"weights": dict(seg.get("weights") or {})}
            moved = slices.reweight(
                by_value.get(value) or served, slices.segment_weighted(own, serving)
            )
            states[value] = {
                **own,
                "slices": [list(s) for s in moved],
                "p_best": dict(seg.get("p_best") or {}),
            }
        doc["bandit_segments"] = states
    return doc


def record(
    ops: Mapping[str, Any], before: Mapping[str, Any], evidence: Mapping[str, Any], at: str
) -> dict[str, Any]:
    """`ops` with the new weights, slices and the epoch that ended tonight."""
    found = ops.get(BANDIT)
    was: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    if was.get("report_date") == evidence.get("report_date"):
        return dict(ops)  # recorded already: a re-run writes nothing twice
    after = apply(copy.deepcopy(dict(before)), evidence)
    epoch = {
        "started_at": before.get("allocation_started_at"),
        "report_date": evidence.get("report_date"),
        "weights": dict(evidence.get("weights_before") or {}),
        "arms": copy.deepcopy(evidence.get("arms") or {}),
        "srm_flagged": bool(evidence.get("srm_flagged")),
    }
    if evidence.get("pre"):  # the covariate's sums, which CUPED's posterior reads later
        epoch["pre"] = copy.deepcopy(evidence["pre"])
    if evidence.get("segment_arms"):  # each value's numbers, its own weights if it had any
        own = {v: state.get("weights") for v, state in slices.segment_states(before).items()}
        ended: dict[str, dict[str, Any]] = {}
        for value, arms in evidence["segment_arms"].items():
            ended[value] = {"arms": copy.deepcopy(arms)}
            if own.get(value):
                ended[value]["weights"] = dict(own[value] or {})
        epoch["segments"] = ended
    state = {
        "weights": dict(evidence.get("weights") or {}),
        "slices": after.get("variant_slices"),
        "report_date": evidence.get("report_date"),
        "p_best": dict(evidence.get("p_best") or {}),
        "at": at,
        "epochs": _folded([*(was.get("epochs") or []), epoch][-MAX_EPOCHS:]),
    }
    if after.get("bandit_segments"):
        state["segments"] = after["bandit_segments"]
    return {**ops, BANDIT: state}


def _folded(epochs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`epochs` with the numbers per segment value of all but the last MAX_SEGMENT_EPOCHS
    that have them pooled into the oldest one kept (its `segments_folded`: value -> arms)."""
    keeping = [i for i, e in enumerate(epochs) if e.get("segments")]
    if len(keeping) <= MAX_SEGMENT_EPOCHS:
        return epochs
    out = copy.deepcopy(epochs)
    into = out[keeping[-MAX_SEGMENT_EPOCHS]].setdefault("segments_folded", {})
    for i in keeping[:-MAX_SEGMENT_EPOCHS]:
        old = out[i]
        parts = [
            *(old.pop("segments_folded", None) or {}).items(),
            *((v, seg.get("arms") or {}) for v, seg in old.pop("segments").items()),
        ]
        for value, arms in parts:
            pooled = into.setdefault(value, {})
            for arm, numbers in arms.items():
                got = pooled.setdefault(arm, [0.0, 0.0, 0.0])
                pooled[arm] = [a + float(b) for a, b in zip(got, numbers, strict=True)]
    return out


def _moves(
    before: Mapping[str, Any], after: Mapping[str, Any], p_best: Mapping[str, Any], day: Any
) -> str:
    return ", ".join(
        f"{v} {float(before.get(v, 0)):.2f} → {float(w):.2f} "
        f"(report of {day}, P(best) {float(p_best.get(v, 0)):.2f})"
        for v, w in sorted(after.items())
        if round(float(before.get(v, 0)), 2) != round(float(w), 2)
    )


def describe(evidence: Mapping[str, Any]) -> str:
    """`weights popular 0.33 → 0.61 (report of 2026-12-09, P(best) 0.93), …`: each variant
    whose weight moved, as `earnest history` shows it; then each segment value's, as
    `weights mobile: popular 0.33 → 0.61 (…)`."""
    day = evidence.get("report_date")
    parts = []
    overall = _moves(
        evidence.get("weights_before") or {},
        evidence.get("weights") or {},
        evidence.get("p_best") or {},
        day,
    )
    if overall:
        parts.append(f"weights {overall}")
    for value, seg in sorted((evidence.get("segments") or {}).items()):
        moves = _moves(
            seg.get("weights_before") or {}, seg.get("weights") or {}, seg.get("p_best") or {}, day
        )
        if moves:
            parts.append(f"weights {value}: {moves}")
    return "; ".join(parts) if parts else "weights unchanged"


def change(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> str:
    """An audit entry's change of the bandit state (`ops.bandit` from -> to) in words."""
    epochs = after.get("epochs") or []
    last = epochs[-1] if epochs else {}
    ended = last.get("segments") or {}
    return describe(
        {
            "weights_before": last.get("weights") or {},
            "weights": after.get("weights") or {},
            "p_best": after.get("p_best") or {},
            "report_date": after.get("report_date"),
            "segments": {
                value: {
                    "weights_before": (ended.get(value) or {}).get("weights")
                    or last.get("weights")
                    or {},
                    "weights": state.get("weights") or {},
                    "p_best": state.get("p_best") or {},
                }
                for value, state in (after.get("segments") or {}).items()
            },
        }
    )
