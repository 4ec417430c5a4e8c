"""Events: what a batch may hold, how each event is judged, and the record each becomes.

Owns the `POST /events` envelope and limits, per-event validation (one bad event never
poisons its batch) and the stored record (the schema in docs/architecture.md); how the
accepted are written and read back is `earnest.events.objects`. Pure: stdlib and orjson
only, no boto3. It runs over up to 500 events per request, so the per-event path is
hand-written (no pydantic, precomputed key sets, one dict per record).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from earnest.consent.purposes import check_carried
from earnest.errors import InvalidRequest, PayloadTooLarge
from earnest.ids import MAX_ID_LENGTH
from earnest.jsonbody import read_json
from earnest.timefmt import format_ms
from earnest.tokens import Exposure, TokenError

EXPOSURE = "exposure"
CONVERSION = "conversion"
DISMISSAL = "dismissal"  # the visitor closed what a decision showed (docs/events.md)
TYPES = (EXPOSURE, CONVERSION, DISMISSAL)

# The stored record, in order: docs/architecture.md ("Events in S3") and the Glue table.
# Both kinds of event are written through it, so a record always has every field.
FIELDS = (
    "event_id",
    "type",
    "unit_id",
    "experience",
    "variant",
    "reason",
    "rules_version",
    "name",
    "value",
    "currency",
    "event_time",
    "receive_time",
    "request_id",
)
# Written only when there is one: an exposure's segment values, `{path: value}`, copied from
# its token (docs/events.md, "Segments"). The Glue table lists it after FIELDS.
OPTIONAL_FIELDS = ("segments",)

# Why an event was rejected: a closed set, documented in docs/events.md.
MALFORMED = "malformed"
UNKNOWN_TYPE = "unknown_type"
MISSING_FIELD = "missing_field"
INVALID_FIELD = "invalid_field"
OVERSIZED_FIELD = "oversized_field"
UNKNOWN_FIELD = "unknown_field"
FUTURE_TIMESTAMP = "future_timestamp"
STALE_TIMESTAMP = "stale_timestamp"
DUPLICATE_EVENT_ID = "duplicate_event_id"
DUPLICATE_TOKEN = "duplicate_token"
UNIT_MISMATCH = "unit_mismatch"  # a dismissal naming a unit other than its token's
TOKEN_REASONS = {
    "forged": "forged_token",
    "tampered": "tampered_token",
    "expired": "expired_token",
    "malformed": "malformed_token",
}
REJECTION_REASONS = (
    MALFORMED,
    UNKNOWN_TYPE,
    MISSING_FIELD,
    INVALID_FIELD,
    OVERSIZED_FIELD,
    UNKNOWN_FIELD,
    FUTURE_TIMESTAMP,
    STALE_TIMESTAMP,
    *TOKEN_REASONS.values(),
    DUPLICATE_EVENT_ID,
    DUPLICATE_TOKEN,
    UNIT_MISMATCH,
)

ENVELOPE = frozenset({"events", "consent", "sent_at"})
EXPOSURE_KEYS = frozenset({"type", "event_id", "token", "ts", "user_id"})
CONVERSION_KEYS = frozenset(
    {"type", "event_id", "unit_id", "name", "value", "currency", "ts", "user_id"}
)
MAX_EVENT_ID_LENGTH = 128
MAX_NAME_LENGTH = 128
MAX_TS_LENGTH = 40
MAX_IDEMPOTENCY_KEY_LENGTH = 255
EPOCH_MS_THRESHOLD = 1e11  # a ts above it is milliseconds (1e11 s is the year 5138)
MAX_EPOCH_MS = 1e15  # past any date an event can carry; bounds the arithmetic, not the window
# A conversion's value is at most this (in its currency): no single order is worth more,
# and sums of many stay far from float overflow in the report (docs/events.md).
MAX_VALUE = 1e9


@dataclass(frozen=True, slots=True)
class Limits:
    """What one request may carry and how far an event's time may stray from now."""

    max_events: int = 500
    max_body_bytes: int = 1024 * 1024
    max_future_seconds: int = 300
    # As GA4's Measurement Protocol: 72 hours covers a queue drained a day or two late.
    max_age_seconds: int = 72 * 3600


LIMITS = Limits()


class TokenVerifier(Protocol):
    def verify(self, token: object, now: float | None = None) -> Exposure: ...


@dataclass(frozen=True, slots=True)
class Batch:
    """A request's envelope: its events, the consent it carries, the sender's clock."""

    events: list[Any]
    consent: Mapping[str, Any] | None = None
    sent_at_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    reason: str
    field: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "reason": self.reason}
        if self.field is not None:
            out["field"] = self.field
        out["message"] = self.message
        return out


@dataclass(frozen=True, slots=True)
class Validated:
    """Accepted records (schema order) with the user id each may name for consent only."""

    records: list[dict[str, Any]]
    user_ids: list[str | None]
    rejections: list[Rejection]


class _Reject(Exception):
    """Control flow of the per-event path: raised only for an event that is rejected."""

    def __init__(self, reason: str, field: str | None, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.field = field
        self.message = message


# ---------------------------------------------------------------- the envelope


def parse_batch(body: bytes, limits: Limits = LIMITS, now: float | None = None) -> Batch:
    """The request body as a Batch; raises what the whole request answers (400 or 413).

    Either `{"events": [...], "consent"?: {...}, "sent_at"?: ts}` or a bare `[...]`; the
    content type is not read, so `navigator.sendBeacon`'s text/plain body works as is.
    """
    if len(body) > limits.max_body_bytes:
        raise PayloadTooLarge(f"body exceeds {limits.max_body_bytes} bytes", field="body")
    payload = read_json(body)
    if isinstance(payload, list):
        return Batch(_events(payload, limits))
    if not isinstance(payload, dict):
        raise InvalidRequest('the body must be {"events": [...]} or a JSON array', field="body")
    unknown = payload.keys() - ENVELOPE
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidRequest(f"unknown field {name!r}", field=name)
    if "events" not in payload:
        raise InvalidRequest("events is required: a list of events", field="events")
    events = _events(payload["events"], limits)
    sent_at = payload.get("sent_at")
    sent_at_ms = None if sent_at is None else _sent_at(sent_at, now)
    return Batch(events, check_carried(payload.get("consent")), sent_at_ms)


def _events(raw: Any, limits: Limits) -> list[Any]:
    if not isinstance(raw, list):
        raise InvalidRequest("events must be a list", field="events")
    if len(raw) > limits.max_events:
        raise PayloadTooLarge(
            f"at most {limits.max_events} events per request, got {len(raw)}", field="events"
        )
    return raw


def _sent_at(raw: Any, now: float | None) -> int:
    try:
        return _to_ms(raw, "sent_at")
    except _Reject as bad:
        raise InvalidRequest(bad.message, field="sent_at") from None


def check_idempotency_key(raw: str | None) -> str | None:
    """The Idempotency-Key header, if any: printable ASCII, at most 255 characters."""
    if raw is None or raw == "":
        return None
    if len(raw) > MAX_IDEMPOTENCY_KEY_LENGTH or not (raw.isascii() and raw.isprintable()):
        raise InvalidRequest(
            "Idempotency-Key must be printable ASCII of at most 255 characters",
            field="Idempotency-Key",
        )
    return raw


# ---------------------------------------------------------------- each event


def validate_batch(
    events: Sequence[Any],
    verifier: TokenVerifier,
    now: float,
    request_id: str,
    limits: Limits = LIMITS,
    sent_at_ms: int | None = None,
) -> Validated:
    """Judge every event on its own; the accepted become records, the rest say why.

    `now` is the receive time (epoch seconds). With `sent_at_ms` (the sender's clock when
    it sent), each event's time is shifted by the sender's clock error before it is
    checked and stored, so a browser whose clock is off does not lose its events.
    """
    now_ms = int(now * 1000)
    offset = 0 if sent_at_ms is None else now_ms - sent_at_ms
    window = (now_ms - limits.max_age_seconds * 1000, now_ms + limits.max_future_seconds * 1000)
    receive_time = format_ms(now_ms)
    records: list[dict[str, Any]] = []
    user_ids: list[str | None] = []
    rejections: list[Rejection] = []
    seen: set[str] = set()
    for index, event in enumerate(events):
        try:
            if type(event) is not dict:
                raise _Reject(MALFORMED, None, "an event must be a JSON object")
            kind = event.get("type")
            record = _record(kind, event, verifier, now, offset, window, receive_time, request_id)
            user_id = _optional_id(event.get("user_id"), "user_id")
        except _Reject as bad:
            rejections.append(Rejection(index, bad.reason, bad.field, bad.message))
            continue
        event_id = record["event_id"]
        if event_id in seen:
            rejections.append(
                Rejection(index, DUPLICATE_EVENT_ID, "event_id", "an earlier event has this id")
            )
            continue
        token = event.get("token") if kind == EXPOSURE else None
        if token in seen:
            rejections.append(
                Rejection(index, DUPLICATE_TOKEN, "token", "an earlier exposure has this token")
            )
            continue
        seen.add(event_id)
        if token is not None:
            seen.add(token)
        records.append(record)
        user_ids.append(user_id)
    return Validated(records, user_ids, rejections)


def _record(
    kind: Any,
    event: dict[str, Any],
    verifier: TokenVerifier,
    now: float,
    offset: int,
    window: tuple[int, int],
    receive_time: str,
    request_id: str,
) -> dict[str, Any]:
    if kind == EXPOSURE:
        return _exposure(event, verifier, now, offset, window, receive_time, request_id)
    if kind == CONVERSION:
        return _conversion(event, offset, window, receive_time, request_id)
    if kind == DISMISSAL:
        return _dismissal(event, verifier, now, offset, window, receive_time, request_id)
    if kind is None:
        raise _Reject(MISSING_FIELD, "type", "type is required")
    raise _Reject(UNKNOWN_TYPE, "type", "type must be exposure, conversion or dismissal")


def _exposure(
    event: dict[str, Any],
    verifier: TokenVerifier,
    now: float,
    offset: int,
    window: tuple[int, int],
    receive_time: str,
    request_id: str,
) -> dict[str, Any]:
    if not event.keys() <= EXPOSURE_KEYS:
        _unknown(event, EXPOSURE_KEYS)
    event_id = _event_id(event.get("event_id"))
    event_time = _event_time(event.get("ts"), offset, window)
    token = event.get("token")
    if token is None:
        raise _Reject(MISSING_FIELD, "token", "token is required: the one decide issued")
    try:
        exposed = verifier.verify(token, now)
    except TokenError as bad:
        raise _Reject(TOKEN_REASONS[bad.reason], "token", str(bad)) from None
    record: dict[str, Any] = {  # FIELDS, in order (a literal: twice as fast as a loop)
        "event_id": event_id,
        "type": EXPOSURE,
        "unit_id": exposed.unit,
        "experience": exposed.experience,
        "variant": exposed.variant,
        "reason": exposed.reason,
        "rules_version": exposed.rules_version,
        "name": None,
        "value": None,
        "currency": None,
        "event_time": event_time,
        "receive_time": receive_time,
        "request_id": request_id,
    }
    if exposed.segments is not None:
        record["segments"] = dict(exposed.segments)
    return record


def _dismissal(
    event: dict[str, Any],
    verifier: TokenVerifier,
    now: float,
    offset: int,
    window: tuple[int, int],
    receive_time: str,
    request_id: str,
) -> dict[str, Any]:
    """A dismissal, authenticated by the token of the decision that showed what was closed:
    read as an exposure is (the same fields and token checks; the unit and the experience
    are the token's, so nobody dismisses for another unit), then, when it names a
    `unit_id`, that must be the token's. It is stored as a conversion named `dismissal` (a
    guardrail metric a plan can name) that carries the token's experience, variant and
    reason."""
    named = event.get("unit_id")
    as_exposure = {k: v for k, v in event.items() if k != "unit_id"}
    record = _exposure(as_exposure, verifier, now, offset, window, receive_time, request_id)
    if named is not None and named != record["unit_id"]:
        raise _Reject(UNIT_MISMATCH, "unit_id", "the token was issued to another unit")
    record["type"], record["name"] = CONVERSION, DISMISSAL
    record.pop("segments", None)  # a conversion's record: FIELDS only
    return record


def is_dismissal(record: Mapping[str, Any]) -> bool:
    """A stored dismissal: a conversion named `dismissal` that carries its token's experience
    (a page's own conversion of that name names no experience)."""
    return record["name"] == DISMISSAL and record["experience"] is not None


def _conversion(
    event: dict[str, Any],
    offset: int,
    window: tuple[int, int],
    receive_time: str,
    request_id: str,
) -> dict[str, Any]:
    if not event.keys() <= CONVERSION_KEYS:
        _unknown(event, CONVERSION_KEYS)
    event_id = _event_id(event.get("event_id"))
    event_time = _event_time(event.get("ts"), offset, window)
    unit_id = _required_string(event.get("unit_id"), "unit_id", MAX_ID_LENGTH)
    name = _required_string(event.get("name"), "name", MAX_NAME_LENGTH)
    value = event.get("value")
    currency = event.get("currency")
    if value is not None:
        if type(value) is not int and type(value) is not float:
            raise _Reject(INVALID_FIELD, "value", "value must be a number")
        if not 0 <= value <= MAX_VALUE:  # also nan and the infinities
            raise _Reject(INVALID_FIELD, "value", f"value must be within [0, {MAX_VALUE:.0e}]")
        if currency is None:
            raise _Reject(MISSING_FIELD, "currency", "currency (ISO 4217) is required with value")
        if type(currency) is not str or len(currency) != 3 or not currency.isalpha():
            raise _Reject(INVALID_FIELD, "currency", "currency must be an ISO 4217 code, e.g. EUR")
        currency = currency.upper()
    elif currency is not None:
        raise _Reject(INVALID_FIELD, "currency", "currency is only meaningful with a value")
    return {  # FIELDS, in order
        "event_id": event_id,
        "type": CONVERSION,
        "unit_id": unit_id,
        "experience": None,
        "variant": None,
        "reason": None,
        "rules_version": None,
        "name": name,
        "value": value,
        "currency": currency,
        "event_time": event_time,
        "receive_time": receive_time,
        "request_id": request_id,
    }


def _unknown(event: Mapping[str, Any], allowed: frozenset[str]) -> None:
    name = sorted(str(k) for k in event.keys() - allowed)[0]
    raise _Reject(UNKNOWN_FIELD, name, f"unknown field {name!r} for a {event['type']}")


def _required_string(raw: Any, field: str, max_length: int) -> str:
    if raw is None:
        raise _Reject(MISSING_FIELD, field, f"{field} is required")
    if type(raw) is not str or not raw:
        raise _Reject(INVALID_FIELD, field, f"{field} must be a non-empty string")
    if len(raw) > max_length:
        raise _Reject(OVERSIZED_FIELD, field, f"{field} is longer than {max_length} characters")
    return raw


def _event_id(raw: Any) -> str:
    if type(raw) is str and 0 < len(raw) <= MAX_EVENT_ID_LENGTH:
        return raw  # the usual case, without the calls that name what is wrong
    return _required_string(raw, "event_id", MAX_EVENT_ID_LENGTH)


def _optional_id(raw: Any, field: str) -> str | None:
    return None if raw is None else _required_string(raw, field, MAX_ID_LENGTH)


def _event_time(raw: Any, offset: int, window: tuple[int, int]) -> str:
    if type(raw) is int and EPOCH_MS_THRESHOLD < raw <= MAX_EPOCH_MS:  # the usual: epoch ms
        ms = raw + offset
        if window[0] <= ms <= window[1]:
            return format_ms(ms)
    ms = _to_ms(raw, "ts") + offset
    if ms > window[1]:
        raise _Reject(FUTURE_TIMESTAMP, "ts", "ts is too far in the future")
    if ms < window[0]:
        raise _Reject(STALE_TIMESTAMP, "ts", "ts is too old")
    return format_ms(ms)


def _to_ms(raw: Any, field: str) -> int:
    """Epoch milliseconds from epoch seconds or milliseconds, or ISO 8601 with a zone."""
    kind = type(raw)
    if kind is int or kind is float:
        if not -MAX_EPOCH_MS <= raw <= MAX_EPOCH_MS:  # also nan and the infinities
            raise _Reject(INVALID_FIELD, field, f"{field} must be an epoch time in range")
        return int(raw if raw > EPOCH_MS_THRESHOLD else raw * 1000)
    if raw is None:
        raise _Reject(MISSING_FIELD, field, f"{field} is required")
    if kind is not str or len(raw) > MAX_TS_LENGTH:
        raise _Reject(INVALID_FIELD, field, f"{field} must be epoch milliseconds or ISO 8601")
    try:
        moment = datetime.fromisoformat(raw.replace("z", "Z"))
        if moment.tzinfo is None:
            raise _Reject(INVALID_FIELD, field, f"{field} needs a time zone (e.g. Z)")
        return int(moment.timestamp() * 1000)
    except (ValueError, OverflowError):
        raise _Reject(INVALID_FIELD, field, f"{field} is not ISO 8601") from None


# ---------------------------------------------------------------- storage
