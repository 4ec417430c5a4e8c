"""Usercentrics' Consent Webhook (support.usercentrics.com, "Consent Webhook"), sent with
basic auth:

    {"controller_id": "<id of this set of decisions>", "configuration_id": "<settings id>",
     "timestamp": 1744721495920, "consent_string": "<TC string, when TCF is in use>",
     "ac_string": "2~43.89~dv.", "consents": [{"consent_status": true, "dps_id": "BJ59EidsWQ"}],
     "webhook_version": "v1"}

The subject is `controller_id`. Purposes come from the consent string (TC, GPP or US
Privacy) and from Data Processing Services through a configured `dps_id -> purpose`
table (DPS ids are per customer, so there is no default); with neither, both purposes are
stored as denied. The event id is `controller_id@timestamp`: Usercentrics sends none, and
a redelivery of the same decision must count as a duplicate.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from earnest.consent.cmp import mappings
from earnest.consent.cmp.source import BASIC, Source
from earnest.consent.records import (
    DEFAULT_REGULATION,
    ConsentUpdate,
    ParsedPayload,
    identifier,
    parse_event_time,
    subject,
)
from earnest.errors import InvalidRequest

SOURCE = "usercentrics"


def parse(
    payload: Any, table: Mapping[str, str] | None = None, now: datetime | None = None
) -> ParsedPayload:
    if isinstance(payload, list):
        if not payload or len(payload) > 100:
            raise InvalidRequest("send 1 to 100 Usercentrics consents", field="body")
        items: list[ConsentUpdate | InvalidRequest] = []
        for index, item in enumerate(payload):
            try:
                items.append(parse_one(item, table or {}, f"[{index}].", now))
            except InvalidRequest as error:
                items.append(error)
        return ParsedPayload(items, batch=True)
    return ParsedPayload([parse_one(payload, table or {}, "", now)])


def parse_one(
    item: Any, table: Mapping[str, str], prefix: str = "", now: datetime | None = None
) -> ConsentUpdate:
    if not isinstance(item, Mapping):
        raise InvalidRequest(
            "a Usercentrics consent must be a JSON object", field=prefix.rstrip(".") or "body"
        )
    controller = subject(item.get("controller_id"), f"{prefix}controller_id")
    timestamp = item.get("timestamp")
    event_time = parse_event_time(timestamp, f"{prefix}timestamp", now)
    maps: list[dict[str, str]] = []
    regulation = DEFAULT_REGULATION
    consent_string = item.get("consent_string")
    if consent_string not in (None, ""):
        decoded, implied = mappings.read_consent_string(consent_string, f"{prefix}consent_string")
        maps.append(decoded)
        regulation = implied or regulation
    consents = item.get("consents") or []
    if not isinstance(consents, list):
        raise InvalidRequest("consents must be a list", field=f"{prefix}consents")
    choices: dict[str, bool | None] = {}
    for index, consent in enumerate(consents):
        if not isinstance(consent, Mapping) or not isinstance(consent.get("dps_id"), str):
            raise InvalidRequest(
                "each consent needs a dps_id", field=f"{prefix}consents[{index}].dps_id"
            )
        status = consent.get("consent_status")
        choices[consent["dps_id"]] = status if isinstance(status, bool) else None
    maps.append(mappings.purposes_from_codes(choices, table))
    return ConsentUpdate(
        subject_id=controller,
        event_id=identifier(f"{controller}@{timestamp}", f"{prefix}controller_id"),
        event_time=event_time,
        source=SOURCE,
        regulation=regulation,
        purposes=mappings.complete(*maps),
        consent_string=consent_string or None,
    )


CMP = Source(
    name=SOURCE,
    title="Usercentrics",
    auth=BASIC,
    secret="CONSENT_USERCENTRICS_CREDENTIALS",
    secret_meaning="the basic-auth `user:password`(s) Usercentrics' webhook sends",
    parameter="usercentrics-credentials",
    parse=parse,
    purposes_setting="CONSENT_USERCENTRICS_PURPOSES",  # DPS ids are per customer: no default
)
