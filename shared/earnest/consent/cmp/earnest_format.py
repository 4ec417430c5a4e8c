"""Earnest's own consent payload (signed with Standard Webhooks), one update or a batch.

One update:
    {"subject_id": "a-7f3", "event_id": "evt-1", "event_time": "2026-03-01T12:00:00Z",
     "source": "my-cmp", "action": "update",
     "purposes": {"personalization": "granted", "measurement": "denied"},
     "jurisdiction": "DE", "consent_string": "<TC, GPP or US Privacy string>",
     "consent_mode": {"analytics_storage": "granted", ...}}
A batch: {"updates": [<update>, ...]} with at most 100. `purposes` may be left out when a
consent string or Consent Mode categories say what they are; when several are given the
most restrictive wins. `action: erase` needs only subject, event id and time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from earnest.consent.cmp import mappings
from earnest.consent.cmp.source import SIGNED, Source
from earnest.consent.purposes import VALUES
from earnest.consent.records import (
    ACTIONS,
    ERASE,
    MAX_BATCH,
    ConsentUpdate,
    ParsedPayload,
    identifier,
    parse_event_time,
    purposes,
    regulation_of,
    subject,
)
from earnest.errors import InvalidRequest

DEFAULT_SOURCE = "earnest"
# Every field an update may carry: anything else is refused, as decide and events refuse
# theirs, so a misspelt `purpose` never passes as an update that says nothing.
UPDATE_FIELDS = frozenset(
    {
        "subject_id",
        "event_id",
        "event_time",
        "source",
        "action",
        "purposes",
        "jurisdiction",
        "consent_string",
        "consent_mode",
    }
)


def parse(payload: Any, now: datetime | None = None) -> ParsedPayload:
    if isinstance(payload, Mapping) and "updates" in payload:
        _known_fields(payload, {"updates"}, "")
        updates = payload["updates"]
        if not isinstance(updates, list) or not updates:
            raise InvalidRequest("updates must be a non-empty list", field="updates")
        if len(updates) > MAX_BATCH:
            raise InvalidRequest(f"at most {MAX_BATCH} updates per request", field="updates")
        items: list[ConsentUpdate | InvalidRequest] = []
        for index, item in enumerate(updates):
            try:
                items.append(parse_update(item, f"updates[{index}].", now))
            except InvalidRequest as error:
                items.append(error)
        return ParsedPayload(items, batch=True)
    return ParsedPayload([parse_update(payload, "", now)])


def parse_update(item: Any, prefix: str = "", now: datetime | None = None) -> ConsentUpdate:
    if not isinstance(item, Mapping):
        raise InvalidRequest("an update must be a JSON object", field=prefix.rstrip(".") or "body")
    _known_fields(item, UPDATE_FIELDS, prefix)
    action = item.get("action", "update")
    if action not in ACTIONS:
        raise InvalidRequest("action must be update or erase", field=f"{prefix}action")
    jurisdiction = item.get("jurisdiction")
    if jurisdiction is not None and not isinstance(jurisdiction, str):
        raise InvalidRequest("jurisdiction must be a string", field=f"{prefix}jurisdiction")
    base = ConsentUpdate(
        subject_id=subject(item.get("subject_id"), f"{prefix}subject_id"),
        event_id=identifier(item.get("event_id"), f"{prefix}event_id"),
        event_time=parse_event_time(item.get("event_time"), f"{prefix}event_time", now),
        source=identifier(item.get("source", DEFAULT_SOURCE), f"{prefix}source", 64),
        jurisdiction=jurisdiction,
    )
    if action == ERASE:
        if _CONSENT_FIELDS & item.keys():  # checked like an update's, then dropped
            _with_consent(base, item, jurisdiction, prefix)
        return replace(base, action="erase")
    return _with_consent(base, item, jurisdiction, prefix)


# What an update says of consent; an erasure keeps none, but what it carries must be valid.
_CONSENT_FIELDS = frozenset({"purposes", "consent_string", "consent_mode"})


def _with_consent(
    base: ConsentUpdate, item: Mapping[str, Any], jurisdiction: str | None, prefix: str
) -> ConsentUpdate:
    """`base` with the purposes the item's purposes, consent string or Consent Mode say."""
    maps: list[dict[str, str]] = []
    implied_regulation: str | None = None
    if "purposes" in item:
        maps.append(purposes(item["purposes"], f"{prefix}purposes"))
    consent_string = item.get("consent_string")
    if consent_string is not None:
        decoded, implied_regulation = mappings.read_consent_string(
            consent_string, f"{prefix}consent_string"
        )
        maps.append(decoded)
    if "consent_mode" in item:
        maps.append(_consent_mode(item["consent_mode"], f"{prefix}consent_mode"))
    if not maps:
        raise InvalidRequest(
            "purposes is required (or a consent_string or consent_mode that says them)",
            field=f"{prefix}purposes",
        )
    regulation = (
        regulation_of(jurisdiction, f"{prefix}jurisdiction")
        if jurisdiction is not None
        else implied_regulation or regulation_of(None)
    )
    return replace(
        base,
        regulation=regulation,
        purposes=mappings.complete(*maps),
        consent_string=consent_string,
    )


def _known_fields(item: Mapping[str, Any], known: frozenset[str] | set[str], prefix: str) -> None:
    unknown = sorted(str(k) for k in item if k not in known)
    if unknown:
        raise InvalidRequest(f"unknown field {unknown[0]!r}", field=f"{prefix}{unknown[0]}")


def _consent_mode(raw: Any, field_name: str) -> dict[str, str]:
    if not isinstance(raw, Mapping) or not raw:
        raise InvalidRequest("consent_mode must be an object of categories", field=field_name)
    for name, value in raw.items():
        if value not in VALUES:
            raise InvalidRequest(
                f"{field_name}.{name} must be granted or denied", field=f"{field_name}.{name}"
            )
    categories = {str(k): str(v) for k, v in raw.items()}
    mapped = mappings.consent_mode_purposes(categories)
    if not mapped:
        raise InvalidRequest(
            "consent_mode names no category Earnest maps (personalization_storage, "
            "ad_personalization, analytics_storage)",
            field=field_name,
        )
    return mapped


def _parse(
    payload: Any, table: Mapping[str, str] | None = None, now: datetime | None = None
) -> ParsedPayload:
    return parse(payload, now)  # Earnest's own purposes: no code table


CMP = Source(
    name=DEFAULT_SOURCE,
    title="Earnest's signed format",
    auth=SIGNED,
    secret="CONSENT_WEBHOOK_SECRETS",
    secret_meaning="Standard Webhooks signing secret(s), `whsec_<base64>,…`, each ≥ 16 bytes",
    parameter="webhook-secrets",
    parse=_parse,
    min_secret_chars=1,  # checked as decoded bytes by earnest.consent.webhooks
)
