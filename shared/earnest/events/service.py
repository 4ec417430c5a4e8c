"""Receiving events: read the batch, judge each event, keep the consented, store them once.

The one domain function the record-exposure handler calls. It knows consent and storage
only through `ConsentReader` and `EventsRepository` (the adapters are
earnest_aws.consent_store and earnest_aws.events_store), so the rules are tested without
AWS. Order matters for "nothing acknowledged is lost": the consent read and the single
PUT come before any answer, and either failing raises Unavailable (503, retry), so a 202
always means every accepted event is either in S3 or deliberately not kept.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from earnest.consent.purposes import (
    DENIED,
    GPC_DENIES_AT_INGEST,
    effective_consent,
    most_restrictive,
    with_gpc,
)
from earnest.events.batch import (
    LIMITS,
    Limits,
    TokenVerifier,
    check_idempotency_key,
    encode,
    object_key,
    parse_batch,
    validate_batch,
)


class ConsentReader(Protocol):
    def purposes_by_subject(
        self, subject_ids: Sequence[str]
    ) -> Mapping[str, Mapping[str, str]]: ...


class EventsRepository(Protocol):
    def put(self, key: str, body: bytes) -> bool:
        """Store the object unless the key exists; False when it already did."""
        ...


def receive(
    body: bytes,
    request_id: str,
    verifier: TokenVerifier,
    consent: ConsentReader,
    store: EventsRepository,
    *,
    idempotency_key: str | None = None,
    gpc: bool = False,
    regime: str = "opt_in",
    limits: Limits = LIMITS,
    now: float | None = None,
) -> dict[str, Any]:
    """The 202 body for one POST /events; raises the EarnestError to answer with instead."""
    now = time.time() if now is None else now
    key = check_idempotency_key(idempotency_key)
    batch = parse_batch(body, limits, now)
    validated = validate_batch(batch.events, verifier, now, request_id, limits, batch.sent_at_ms)
    carried = dict(batch.consent or {})
    # GPC, as the Sec-GPC header or the body's consent.gpc (the same signal): at ingest it
    # withholds measurement too (docs/events.md)
    if gpc or carried.get("gpc") is True:
        carried["purposes"] = with_gpc(carried.get("purposes"), GPC_DENIES_AT_INGEST)
    kept = consented(validated.records, validated.user_ids, consent, carried, regime)
    replayed = False
    if kept:
        name = object_key(int(now * 1000), request_id, key, body)
        replayed = not store.put(name, encode(kept))
    accepted = len(validated.records)
    return {
        "request_id": request_id,
        "received": len(batch.events),
        "accepted": accepted,
        "stored": len(kept),
        "no_consent": accepted - len(kept),
        "rejected": len(validated.rejections),
        "replayed": replayed,
        "rejections": [r.as_dict() for r in validated.rejections],
    }


def consented(
    records: Sequence[dict[str, Any]],
    user_ids: Sequence[str | None],
    reader: ConsentReader,
    carried: Mapping[str, Any],
    regime: str,
) -> list[dict[str, Any]]:
    """The records whose subject may be measured, after one read of every subject's consent.

    Each record's stored consent is its unit's and, when the event names one, its user's,
    most restrictive first; combined with what the request carries and the regime exactly
    as decide does (earnest.consent.purposes.effective_consent).
    """
    if not records:
        return []
    if (carried.get("purposes") or {}).get("measurement") == DENIED:
        return []  # the sender withdrew: nothing to look up, nothing kept
    subjects = {r["unit_id"] for r in records}
    subjects.update(u for u in user_ids if u)
    stored = reader.purposes_by_subject(sorted(subjects))
    allowed_by: dict[tuple[str, str | None], bool] = {}
    kept: list[dict[str, Any]] = []
    for record, user_id in zip(records, user_ids, strict=True):
        pair = (record["unit_id"], user_id)
        allowed = allowed_by.get(pair)
        if allowed is None:
            found = [p for p in (stored.get(pair[0]), stored.get(user_id or "")) if p is not None]
            combined = most_restrictive(*found) if found else None
            allowed = effective_consent(combined, carried, regime)["measurement"]
            allowed_by[pair] = allowed
        if allowed:
            kept.append(record)
    return kept
