"""Deciding one request: check it, read the consent of every id the visitor carries, decide.

The one domain function the decide handler calls, as `earnest.events.service.receive` is
for /events. It owns decide's consent policy, once: the stored consent of
`visitor.anonymous_id` and `visitor.user_id` (one read), failing closed when the store
cannot be read, and the `Sec-GPC` header (`earnest.consent.purposes.with_gpc`). It knows the
consent store only through `ConsentReader` (the adapter is earnest_aws.consent_store), so the
policy is tested without AWS. Hot path: the stdlib and the engine's own imports only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from earnest.consent.purposes import ALL_DENIED, with_gpc
from earnest.decide.engine import Engine, unavailable_response
from earnest.decide.request import validate_request
from earnest.errors import Unavailable


class ConsentReader(Protocol):
    def purposes_for(self, subject_ids: Sequence[str]) -> Mapping[str, str] | None: ...


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


def decide(
    body: Any,
    engine: Engine | None,
    consent: ConsentReader,
    *,
    max_placements: int,
    request_id: str,
    gpc: bool = False,
    on_fail_closed: Callable[[], None] = _quiet,
) -> dict[str, Any]:
    """The 200 body for one POST /decide; raises the InvalidRequest to answer with instead.

    With no rules at all (`engine` None) every placement answers `rules_unavailable`, and
    no consent is read: nothing would be personalized.
    """
    validate_request(body, max_placements, engine.known_placements if engine else ())
    if engine is None:
        response = unavailable_response(body["placements"])
    else:
        stored = stored_consent(consent, body["visitor"], gpc, on_fail_closed)
        response = engine.decide(body, stored, validate=False)
    response["request_id"] = request_id
    return response
