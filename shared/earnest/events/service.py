"""Receiving events: read the batch, judge each event, keep the consented, store them once,
and keep each unit's memory (exposures per experience per day, dismissals).

The one domain function the record-exposure handler calls. It knows consent, storage and
memory only through `ConsentReader`, `EventsRepository` and `MemoryWriter` (the adapters
are earnest_aws.consent_store, events_store and memory_store), so the rules are tested
without AWS. Order matters for "nothing acknowledged is lost": the consent read (with the
units' memory, in the same read), the single PUT and the memory writes come before any
answer, and any failing raises Unavailable (503, retry), so a 202 always means every
accepted event is either in S3 or deliberately not kept, and counted in memory where
consent allows. A retry counts nothing twice: memory keeps the last events' digests.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Protocol

from earnest.consent.purposes import (
    DENIED,
    GPC_DENIES_AT_INGEST,
    effective_consent,
    most_restrictive,
    with_gpc,
)
from earnest.decide.reasons import GLOBAL_HOLDOUT, HOLDOUT, PERSONALIZED
from earnest.events.batch import (
    EXPOSURE,
    LIMITS,
    Limits,
    TokenVerifier,
    check_idempotency_key,
    is_dismissal,
    parse_batch,
    validate_batch,
)
from earnest.events.objects import encode, object_key
from earnest.memory import Memory, Remembered, remember
from earnest.timefmt import parse_ms

# The exposures a frequency cap counts: the unit was in the experience, in any arm (the
# holdouts too, so caps treat the arms alike and lift stays comparable).
COUNTED_REASONS = frozenset({PERSONALIZED, HOLDOUT, GLOBAL_HOLDOUT})


class ConsentReader(Protocol):
    def purposes_by_subject(
        self, subject_ids: Sequence[str]
    ) -> Mapping[str, Mapping[str, str]]: ...

    def consent_and_memory(
        self, subject_ids: Sequence[str], units: Sequence[str]
    ) -> tuple[Mapping[str, Mapping[str, str]], Mapping[str, tuple[Memory, int]]]: ...


class MemoryWriter(Protocol):
    def update(
        self,
        unit: str,
        read: tuple[Memory, int] | None,
        change: Callable[[Memory], Memory | None],
        now_ms: int,
    ) -> bool: ...


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
    memory: MemoryWriter | None = None,
    remembering: Callable[[], Collection[str] | None] | None = None,
) -> dict[str, Any]:
    """The 202 body for one POST /events; raises the EarnestError to answer with instead.

    With `memory`, the dismissals, and the exposures of the experiences `remembering()`
    names (those with a frequency cap or a dismissal; None: every experience, as when the
    rules are unknown), of units whose consent allows personalization are counted into
    their memory (docs/consent.md, "Memory"). `remembering` is asked only for a batch with
    exposures."""
    now = time.time() if now is None else now
    key = check_idempotency_key(idempotency_key)
    batch = parse_batch(body, limits, now)
    validated = validate_batch(batch.events, verifier, now, request_id, limits, batch.sent_at_ms)
    carried = dict(batch.consent or {})
    # GPC, as the Sec-GPC header or the body's consent.gpc (the same signal): at ingest it
    # withholds measurement too (docs/events.md)
    if gpc or carried.get("gpc") is True:
        carried["purposes"] = with_gpc(carried.get("purposes"), GPC_DENIES_AT_INGEST)
    records, user_ids = validated.records, validated.user_ids
    # A request that denies personalization (GPC included) remembers nothing, reads no memory.
    allowed = (
        memory is not None and (carried.get("purposes") or {}).get("personalization") != DENIED
    )
    ids = None
    if allowed and remembering is not None and any(r["type"] == EXPOSURE for r in records):
        ids = remembering()
    if allowed and any(remembers(r, ids) for r in records):
        kept, recalled, read = _with_memory(records, user_ids, consent, carried, regime, ids)
    else:
        kept, recalled, read = consented(records, user_ids, consent, carried, regime), [], {}
    replayed = False
    if kept:
        name = object_key(int(now * 1000), request_id, key, body)
        replayed = not store.put(name, encode(kept))
    if memory is not None:
        _remember(memory, recalled, read, int(now * 1000))
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


def remembers(record: Mapping[str, Any], experiences: Collection[str] | None = None) -> bool:
    """Whether memory counts this record: an exposure in an arm of one of `experiences`
    (None: of any), or a dismissal."""
    if record["type"] == EXPOSURE:
        return record["reason"] in COUNTED_REASONS and (
            experiences is None or record["experience"] in experiences
        )
    return is_dismissal(record)


def _with_memory(
    records: Sequence[dict[str, Any]],
    user_ids: Sequence[str | None],
    reader: ConsentReader,
    carried: Mapping[str, Any],
    regime: str,
    experiences: Collection[str] | None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Mapping[str, tuple[Memory, int]]]:
    """The records to store (measurement allowed), those to remember (personalization
    allowed), and the units' memory as read: one read of consent and memory together."""
    subjects = {r["unit_id"] for r in records} | {u for u in user_ids if u}
    units = sorted({r["unit_id"] for r in records if remembers(r, experiences)})
    stored, memories = reader.consent_and_memory(sorted(subjects), units)
    kept: list[dict[str, Any]] = []
    recalled: list[dict[str, Any]] = []
    allowed_each = _allowed(records, user_ids, stored, carried, regime)
    for record, allowed in zip(records, allowed_each, strict=True):
        if allowed["measurement"]:
            kept.append(record)
        if allowed["personalization"] and remembers(record, experiences):
            recalled.append(record)
    return kept, recalled, memories


def _allowed(
    records: Sequence[Mapping[str, Any]],
    user_ids: Sequence[str | None],
    stored: Mapping[str, Mapping[str, str]],
    carried: Mapping[str, Any],
    regime: str,
) -> list[Mapping[str, bool]]:
    """Each record's purposes: its unit's and its user's stored consent, most restrictive
    first, with what the request carries and the regime, as decide combines them (once
    per unit and user: a batch repeats them)."""
    by_pair: dict[tuple[str, str | None], Mapping[str, bool]] = {}
    out: list[Mapping[str, bool]] = []
    for record, user_id in zip(records, user_ids, strict=True):
        pair = (record["unit_id"], user_id)
        allowed = by_pair.get(pair)
        if allowed is None:
            found = [p for p in (stored.get(pair[0]), stored.get(user_id or "")) if p is not None]
            combined = most_restrictive(*found) if found else None
            allowed = by_pair[pair] = effective_consent(combined, carried, regime)
        out.append(allowed)
    return out


def _remember(
    writer: MemoryWriter,
    records: Sequence[Mapping[str, Any]],
    read: Mapping[str, tuple[Memory, int]],
    now_ms: int,
) -> None:
    """Each unit's exposures and dismissals counted into its memory, one write per unit."""
    by_unit: dict[str, tuple[list[Remembered], list[Remembered]]] = {}
    for r in records:
        event = Remembered(r["event_id"], r["experience"], parse_ms(r["event_time"]))
        exposures, dismissals = by_unit.setdefault(r["unit_id"], ([], []))
        (exposures if r["type"] == EXPOSURE else dismissals).append(event)
    for unit, (exposures, dismissals) in by_unit.items():
        writer.update(unit, read.get(unit), _counting(exposures, dismissals, now_ms), now_ms)


def _counting(
    exposures: list[Remembered], dismissals: list[Remembered], now_ms: int
) -> Callable[[Memory], Memory | None]:
    return lambda memory: remember(memory, exposures, dismissals, now_ms)


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
    allowed = _allowed(records, user_ids, stored, carried, regime)
    return [r for r, a in zip(records, allowed, strict=True) if a["measurement"]]
