"""Didomi's webhooks (developers.didomi.io, "Webhooks"): user.* events carry the user's
full consent state, so they become Earnest updates; event.* ones carry partial choices
and are acknowledged but not stored.

    {"type": "user.updated", "regulation": "gdpr",
     "parameters": {"source": {"id": "<consent event id>", "created_at": "<time>"},
                    "old_entity": {...}, "new_entity": {"id": "<didomi user id>",
                    "organization_user_id": "<your user id>", "updated_at": "<time>",
                    "consents": {"purposes": [{"id": "cookies", "enabled": true}, ...],
                                 "tcfcs": "<TC string>"}}}}

The user is stored under both ids Didomi knows (its own and the organization's), so the
consent is found whichever the edge sends. Purposes come from the TC string when there is
one and from Didomi purpose ids through a configurable table, most restrictive first.
Didomi sends GDPR events unless multi-regulation events are enabled; then `regulation`
names the regulation, and each is stored apart. `user.deleted` erases the subject.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from earnest.consent.cmp import mappings
from earnest.consent.cmp.source import BEARER, Source
from earnest.consent.records import (
    ConsentUpdate,
    ParsedPayload,
    format_time,
    identifier,
    obj,
    parse_event_time,
    regulation_of,
    subject,
)
from earnest.errors import InvalidRequest

SOURCE = "didomi"
# Didomi's ids for the IAB purposes Earnest maps (TCF 1, 5, 6 and 8).
DEFAULT_PURPOSES = {
    "cookies": "personalization",
    "create_content_profile": "personalization",
    "select_personalized_content": "personalization",
    "measure_content_performance": "measurement",
}
FULL_STATE = ("user.created", "user.updated")
ERASING = ("user.deleted",)


def parse(
    payload: Any, table: Mapping[str, str] | None = None, now: datetime | None = None
) -> ParsedPayload:
    events = payload if isinstance(payload, list) else [payload]
    if not events or len(events) > 100:
        raise InvalidRequest("send 1 to 100 Didomi events", field="body")
    items: list[ConsentUpdate | InvalidRequest] = []
    ignored: list[str] = []
    for index, event in enumerate(events):
        prefix = f"[{index}]." if isinstance(payload, list) else ""
        try:
            updates = parse_event(event, table or DEFAULT_PURPOSES, prefix, now)
        except InvalidRequest as error:
            if not isinstance(payload, list):
                raise
            items.append(error)
            continue
        if updates is None:
            ignored.append(str(event.get("type")))
        else:
            items.extend(updates)
    why = (
        f"Didomi {', '.join(sorted(set(ignored)))} events carry no full consent state"
        if ignored
        else None
    )
    return ParsedPayload(items, batch=isinstance(payload, list), ignored=why)


def parse_event(
    event: Any, table: Mapping[str, str], prefix: str = "", now: datetime | None = None
) -> list[ConsentUpdate] | None:
    """One update per id of the user; None for an event without the full consent state."""
    kind = _event_type(event, prefix)
    if kind not in FULL_STATE + ERASING:
        return None
    parameters = event.get("parameters")
    if not isinstance(parameters, Mapping):
        raise InvalidRequest("parameters must be an object", field=f"{prefix}parameters")
    entity, where = _entity(parameters, prefix)
    ids = _subject_ids(entity, where)
    base = _update(kind, parameters, entity, ids[0], prefix, where, now)
    if kind in ERASING:
        return [replace(base, subject_id=s, action="erase") for s in ids]
    regulation = event.get("regulation") or entity.get("regulation") or "gdpr"
    consents = obj(entity.get("consents"))
    maps = _purpose_maps(consents, table, where)
    tc_string = consents.get("tcfcs")
    return [
        replace(
            base,
            subject_id=s,
            regulation=regulation_of(regulation, strict=False),
            purposes=mappings.complete(*maps),
            consent_string=tc_string if isinstance(tc_string, str) else None,
            jurisdiction=_text(entity.get("last_seen_country") or entity.get("country")),
        )
        for s in ids
    ]


def _event_type(event: Any, prefix: str) -> str:
    if not isinstance(event, Mapping):
        raise InvalidRequest(
            "a Didomi event must be a JSON object", field=prefix.rstrip(".") or "body"
        )
    kind = event.get("type")
    if not isinstance(kind, str):
        raise InvalidRequest("type is required (e.g. user.updated)", field=f"{prefix}type")
    return kind


def _entity(parameters: Mapping[str, Any], prefix: str) -> tuple[Mapping[str, Any], str]:
    """The Didomi user the event is about, and where it is in the payload."""
    entity_key = "new_entity" if "new_entity" in parameters else "entity"
    entity = parameters.get(entity_key)
    where = f"{prefix}parameters.{entity_key}"
    if not isinstance(entity, Mapping):
        raise InvalidRequest("the Didomi user is missing", field=where)
    return entity, where


def _subject_ids(entity: Mapping[str, Any], where: str) -> list[str]:
    ids = [
        subject(entity[key], f"{where}.{key}")
        for key in ("organization_user_id", "id")
        if entity.get(key) not in (None, "")
    ]
    if not ids:
        raise InvalidRequest("the Didomi user has no id", field=f"{where}.id")
    return ids


def _update(
    kind: str,
    parameters: Mapping[str, Any],
    entity: Mapping[str, Any],
    subject_id: str,
    prefix: str,
    where: str,
    now: datetime | None,
) -> ConsentUpdate:
    """The update's identity and order: the triggering event's id and time when there is one."""
    source_event = obj(parameters.get("source"))
    time_field, raw_time = next(
        (
            (f"{path}.{key}", holder[key])
            for path, holder, key in (
                (f"{prefix}parameters.source", source_event, "created_at"),
                (where, entity, "updated_at"),
                (where, entity, "created_at"),
            )
            if holder.get(key) is not None
        ),
        (f"{where}.updated_at", None),
    )
    if kind in ERASING and raw_time is None:
        raw_time = format_time(now or datetime.now(UTC))
    event_time = parse_event_time(raw_time, time_field, now)
    if source_event.get("id"):
        event_id = identifier(source_event["id"], f"{prefix}parameters.source.id")
    else:  # no triggering event: the user's version (or time) is what orders its states
        event_id = identifier(
            f"{entity.get('id')}@{entity.get('version', event_time)}", f"{where}.id"
        )
    return ConsentUpdate(
        subject_id=subject_id, event_id=event_id, event_time=event_time, source=SOURCE
    )


def _purpose_maps(
    consents: Mapping[str, Any], table: Mapping[str, str], where: str
) -> list[dict[str, str]]:
    """The purposes Didomi's ids grant, then the TC string's when there is one."""
    choices: dict[str, bool | None] = {}
    for purpose in consents.get("purposes") or []:
        if isinstance(purpose, Mapping) and isinstance(purpose.get("id"), str):
            enabled = purpose.get("enabled")
            choices[purpose["id"]] = enabled if isinstance(enabled, bool) else None
    maps = [mappings.purposes_from_codes(choices, table)]
    tc_string = consents.get("tcfcs")
    if isinstance(tc_string, str) and tc_string:
        try:
            maps.append(mappings.consent_string_purposes(tc_string)[0])
        except mappings.SignalError as exc:
            raise InvalidRequest(
                f"tcfcs is not a TC string ({exc})", field=f"{where}.consents.tcfcs"
            ) from None
    return maps


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


CMP = Source(
    name=SOURCE,
    title="Didomi",
    auth=BEARER,
    secret="CONSENT_DIDOMI_TOKENS",
    secret_meaning="the bearer token(s) Didomi's webhook sends, `token,…`",
    parameter="didomi-tokens",
    parse=parse,
    purposes_setting="CONSENT_DIDOMI_PURPOSES",
    default_purposes=DEFAULT_PURPOSES,
)
