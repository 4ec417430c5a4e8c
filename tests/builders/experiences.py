"""Experience documents for tests: a valid one, changed only where a test says so."""

from __future__ import annotations

import copy
from typing import Any

BASE: dict[str, Any] = {
    "id": "hero-test",
    "placement": "home-hero",
    "owner": "owner@shop.example",
    "status": "live",
    "audience": {"context.country": "DE"},
    "variants": [
        {"id": "a", "weight": 1, "content": {"v": "a"}},
        {"id": "b", "weight": 1, "content": {"v": "b"}},
    ],
    "default": {"v": "default"},
    "holdout": 0.1,
    "measurement_plan": {
        "hypothesis": "Variant content lifts conversion by 5 %.",
        "primary_metric": "conversion",
        "minimum_detectable_effect": 0.05,
        "min_units_per_arm": 1000,
    },
    "review_every_days": 30,
    "last_reviewed": "2026-11-01",
    "priority": 0,
}


def experience(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


def request(
    unit: str = "a-1", placements: tuple[str, ...] = ("home-hero",), **parts: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "visitor": {"anonymous_id": unit},
        "placements": list(placements),
        "context": {"country": "DE", "device": "mobile"},
    }
    body.update(parts)
    return body


def one_variant(exp_id: str, placement: str, **changes: Any) -> dict[str, Any]:
    """An experience for everyone: half held out, one variant `b`."""
    return experience(
        id=exp_id,
        placement=placement,
        audience={},
        variants=[{"id": "b", "weight": 1, "content": {"v": "b"}}],
        holdout=0.5,
        **changes,
    )


def two_variants(exp_id: str, placement: str, **changes: Any) -> dict[str, Any]:
    """An experience for everyone: 30 % held out, variants `a` and `b` in equal shares."""
    return experience(
        id=exp_id,
        placement=placement,
        audience={},
        holdout=0.3,
        variants=[
            {"id": "a", "weight": 1, "content": {"v": "a"}},
            {"id": "b", "weight": 1, "content": {"v": "b"}},
        ],
        **changes,
    )


def allocated(doc: dict[str, Any], since: str) -> dict[str, Any]:
    """Operational state whose current allocation of `doc` started at `since` (an ISO time):
    a store given it on a push keeps it, as for an experience pushed back then."""
    from earnest.experiences import lifecycle

    key = lifecycle.allocation_key(lifecycle.effective(doc, {}))
    return {lifecycle.ALLOCATION: {"started_at": since, "signature": key}}
