"""The shape of a decide request, checked by hand so a bad one is named precisely and fast.

Hand-written rather than a pydantic model: it runs on every request on decide's critical
path, and importing pydantic costs decide's cold start more than the rest of the handler.
Each error names the field (`visitor.anonymous_id`, `placements[3]`, ...).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

from earnest.consent.purposes import check_carried
from earnest.errors import InvalidRequest
from earnest.ids import MAX_ID_LENGTH

TOP_LEVEL = frozenset({"visitor", "placements", "context", "attributes", "consent", "debug"})
VISITOR = frozenset({"anonymous_id", "user_id", "identity_confidence"})
MAX_PLACEMENT_LENGTH = 128


def _fail(field: str, message: str) -> InvalidRequest:
    return InvalidRequest(message, field=field)


def _is_object(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)  # the ABC check only off-path


def _no_unknown(value: Mapping[str, Any], allowed: frozenset[str], prefix: str = "") -> None:
    unknown = value.keys() - allowed
    if unknown:
        name = f"{prefix}{sorted(unknown)[0]}"
        raise _fail(name, f"unknown field {name!r}")


def validate_request(
    request: Any, max_placements: int, known_placements: Collection[str] = ()
) -> None:
    """Raise InvalidRequest naming the first bad field.

    Names in `known_placements` are valid by definition, so only the others have their
    length checked: this runs on every request, and most name only known placements.
    """
    if not _is_object(request):
        raise _fail("body", "the body must be a JSON object")
    _no_unknown(request, TOP_LEVEL)
    _check_visitor(request.get("visitor"))
    _check_placements(request.get("placements"), max_placements, known_placements)
    for name in ("context", "attributes"):
        value = request.get(name)
        if value is not None and not _is_object(value):
            raise _fail(name, f"{name} must be an object")
    attributes = request.get("attributes")
    if attributes:
        for key, value in attributes.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise _fail(f"attributes.{key}", "numbers must be finite")
    check_carried(request.get("consent"))


def _check_id(value: Any, field: str, required: bool) -> None:
    if value is None:
        if required:
            raise _fail(field, f"{field} is required")
        return
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        raise _fail(field, f"{field} must be a non-empty string of at most {MAX_ID_LENGTH}")


def _check_visitor(visitor: Any) -> None:
    if not _is_object(visitor):
        raise _fail("visitor", "visitor is required and must be an object")
    _no_unknown(visitor, VISITOR, "visitor.")
    _check_id(visitor.get("anonymous_id"), "visitor.anonymous_id", required=True)
    _check_id(visitor.get("user_id"), "visitor.user_id", required=False)
    confidence = visitor.get("identity_confidence")
    if confidence is not None and (
        type(confidence) not in (int, float) or not 0 <= confidence <= 1
    ):
        raise _fail("visitor.identity_confidence", "identity_confidence must be a number in [0, 1]")


def identity_confidence(visitor: Mapping[str, Any]) -> float:
    """How sure the identity graph is that this is the user; absent or null, the edge vouches
    for what it sent (profile attributes keyed on the anonymous id are certain): 1."""
    confidence = visitor.get("identity_confidence")
    return 1.0 if confidence is None else float(confidence)


def _check_placements(placements: Any, max_placements: int, known: Collection[str]) -> None:
    if not isinstance(placements, list) or not placements:
        raise _fail("placements", "placements must be a non-empty list of placement names")
    if len(placements) > max_placements:
        raise _fail("placements", f"at most {max_placements} placements per request")
    # C-speed checks first (this runs per request); the loop only to name the bad index.
    try:
        "".join(placements)  # C speed; a TypeError means a non-string is among them
        unique = set(placements)
        bad = any(not 0 < len(p) <= MAX_PLACEMENT_LENGTH for p in unique.difference(known))
    except TypeError:
        bad = True
    if bad:
        for i, placement in enumerate(placements):
            if not isinstance(placement, str) or not 0 < len(placement) <= MAX_PLACEMENT_LENGTH:
                raise _fail(f"placements[{i}]", "each placement must be a non-empty short string")
    if len(unique) != len(placements):
        raise _fail("placements", "placements must not repeat")
