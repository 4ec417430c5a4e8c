"""Deciding one request: check it, read the consent of every id the visitor carries, decide.

The one domain function the decide handler calls, as `earnest.events.service.receive` is
for /events. It owns decide's consent policy, once: the stored consent of
`visitor.anonymous_id` and `visitor.user_id` (one read), failing closed when the store
cannot be read, and the `Sec-GPC` header (`earnest.consent.purposes.with_gpc`). It knows the
consent store only through `ConsentReader` (the adapter is earnest_aws.consent_store), so the
policy is tested without AWS. When a live experience has a frequency cap or a dismissal, the
unit's memory is read in the same BatchGetItem (one round trip, never a second read); an
unreadable store fails closed for both (all denied, and with it every experience that reads
memory, as those require personalization). Hot path: the stdlib and the engine's own imports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from earnest.consent.purposes import ALL_DENIED, with_gpc
from earnest.decide.engine import Engine, unavailable_response
from earnest.decide.request import validate_request
from earnest.errors import Unavailable
from earnest.memory import Memory


class ConsentReader(Protocol):
    def purposes_for(self, subject_ids: Sequence[str]) -> Mapping[str, str] | None: ...

    def purposes_and_memory(
        self, subject_ids: Sequence[str], unit: str
    ) -> tuple[Mapping[str, str] | None, Memory | None]: ...


def _quiet() -> None:
    pass


def stored_consent(
    reader: ConsentReader,
    visitor: Mapping[str, Any],
    gpc: bool = False,
    on_fail_closed: Callable[[], None] = _quiet,
) -> Mapping[str, str] | None:
    """The stored consent of every id the visitor carries; unreadable means all denied."""
    user_id = visitor.get("user_id")
    subjects = [visitor["anonymous_id"], user_id] if user_id else [visitor["anonymous_id"]]
    try:
        stored = reader.purposes_for(subjects)
    except Unavailable:
        on_fail_closed()
        return ALL_DENIED
    return with_gpc(stored) if gpc else stored


def stored_consent_and_memory(
    reader: ConsentReader,
    visitor: Mapping[str, Any],
    gpc: bool = False,
    on_fail_closed: Callable[[], None] = _quiet,
) -> tuple[Mapping[str, str] | None, Memory | None]:
    """`stored_consent`, and the unit's memory, in one read; unreadable means all denied."""
    user_id = visitor.get("user_id")
    unit = visitor["anonymous_id"]
    try:
        stored, memory = reader.purposes_and_memory([unit, user_id] if user_id else [unit], unit)
    except Unavailable:
        on_fail_closed()
        return ALL_DENIED, None
    return (with_gpc(stored) if gpc else stored), memory


def decide(
    body: Any,
    engine: Engine | None,
    consent: ConsentReader,
    *,
    max_placements: int,
    request_id: str,
    gpc: bool = False,
    on_fail_closed: Callable[[], None] = _quiet,
    now: float | None = None,
) -> dict[str, Any]:
    """The 200 body for one POST /decide; raises the InvalidRequest to answer with instead.

    `now`: decide's clock at the request (epoch seconds), what recency, caps and dismissals
    compare with; the wall clock when not given.

    With no rules at all (`engine` None) every placement answers `rules_unavailable`, and
    no consent is read: nothing would be personalized.
    """
    validate_request(body, max_placements, engine.known_placements if engine else ())
    if engine is None:
        response = unavailable_response(body["placements"])
    elif engine.remembers:
        stored, memory = stored_consent_and_memory(consent, body["visitor"], gpc, on_fail_closed)
        response = engine.decide(body, stored, validate=False, memory=memory, now=now)
    else:
        stored = stored_consent(consent, body["visitor"], gpc, on_fail_closed)
        response = engine.decide(body, stored, validate=False, now=now)
    response["request_id"] = request_id
    return response
