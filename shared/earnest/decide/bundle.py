"""The rules bundle: what an edge worker needs to decide as decide does, and nothing more.

Built from the stored experiences as served (authored + operational state, as
`ExperiencesStore.load_rules` returns them): the live experiences decide can serve, each
reduced to what a decision reads, the known placements, the rules version decide's tokens
carry, the global holdout and the consent regime. It holds no saved groups' ids (an audience
reading one is decided by /decide) and nothing that changes without the rules changing, so
the same rules give the same bytes, and an edge's `If-None-Match` gets a 304.
The worker's engine is clients/edge-worker/src/engine/; docs/decide.md says which decisions
it makes. Pure: no AWS here (earnest_aws.edge_bundle publishes it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from earnest.decide.compiled import ExperienceCompileError, compile_experience
from earnest.decide.engine import rules_version_of
from earnest.decide.slices import segment_path, served_segments
from earnest.decide.slices import served as served_slices

FORMAT = 1


def edge_bundle(
    experiences: Sequence[Mapping[str, Any]],
    *,
    global_holdout: float,
    consent_regime: str,
    max_placements: int,
) -> dict[str, Any]:
    """The bundle for these experiences (every status: the placements stay known)."""
    served: list[dict[str, Any]] = []
    placements: set[str] = set()
    for doc in experiences:
        if isinstance(doc.get("placement"), str):
            placements.add(str(doc["placement"]))
        if doc.get("status") != "live":
            continue
        try:
            compiled = compile_experience(doc)  # what decide cannot serve, the edge skips too
        except ExperienceCompileError:
            continue
        variants = [v for v in doc["variants"] if not v.get("paused")]
        weighted = [(str(v["id"]), float(v["weight"])) for v in variants]
        slices = served_slices(doc, weighted)
        by_value = served_segments(doc, weighted)
        entry: dict[str, Any] = {
            "id": compiled.id,
            "placement": compiled.placement,
            "priority": compiled.priority,
            "audience": doc.get("audience") or {},
            "requires_consent": sorted(compiled.requires),
            "min_identity_confidence": compiled.min_identity,
            "default": compiled.default,
            "holdout": compiled.holdout,
            "seed": str(doc.get("seed", compiled.id)),
            "variants": [
                {"id": v["id"], "weight": float(v["weight"]), "content": v.get("content")}
                for v in variants
            ],
        }
        if slices is not None:  # a bandit's assignment over the hash ([start, end, variant]):
            entry["slices"] = [list(s) for s in slices]  # the edge picks as decide does
        if by_value:  # a segmented bandit: the values with their own slices, the rest above
            entry["segments"] = {
                "path": segment_path(doc),
                "slices": {value: [list(s) for s in found] for value, found in by_value.items()},
            }
        if compiled.recorded_segments:  # recorded in the winner's token, as decide does
            entry["recorded_segments"] = [path for path, _ in compiled.recorded_segments]
        if compiled.remembers:  # the edge leaves these to decide, which reads memory
            entry["memory"] = {
                "max_exposures": compiled.cap_max,
                "per_days": compiled.cap_days,
                "dismiss_for_days": compiled.dismiss_days,
            }
        served.append(entry)
    return {
        "format": FORMAT,
        "rules_version": rules_version_of(experiences),
        "global_holdout": global_holdout,
        "consent_regime": consent_regime,
        "max_placements": max_placements,  # a request decide would refuse is left to it
        "placements": sorted(placements),
        "experiences": sorted(served, key=lambda e: e["id"]),
    }


def bundle_bytes(bundle: Mapping[str, Any]) -> bytes:
    return orjson.dumps(bundle, option=orjson.OPT_SORT_KEYS)
