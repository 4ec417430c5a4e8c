"""Ketch's consent webhook (developers.ketch.com, "Consent protocol"), sent with a bearer
token:

    {"apiVersion": "consent/v1", "kind": "ConsentRequest",
     "metadata": {"uid": "<request id>", "tenant": "axonic"},
     "request": {"regulation": "gdpr", "jurisdiction": "eugdpr",
                 "identities": [{"identitySpace": "account_id", "identityFormat": "raw",
                                 "identityValue": "123"}],
                 "purposes": {"analytics": "granted", "personalization": "denied"},
                 "legalBasis": {...}, "collectedAt": 1700000000}}

A purpose's choice comes in each of the forms Ketch documents: `"granted"`/`"denied"`
(the consent protocol), a boolean (`"advertising": true`, as in its UpdateConsent and
`setConsent` docs) or an object whose `allowed` is either of those
(`{"allowed": "granted", "legalBasisCode": "consent_optin"}`).

Every raw identity becomes a subject (hashed identities cannot match what the edge
sends). Ketch purpose codes are each tenant's own, so they map through a configurable
table (default: `personalization` and `analytics`). `regulation` names the regulation.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from earnest.consent.cmp import mappings
from earnest.consent.cmp.source import BEARER, Source
from earnest.consent.records import (
    ConsentUpdate,
    ParsedPayload,
    identifier,
    obj,
    parse_event_time,
    regulation_of,
    subject,
)
from earnest.errors import InvalidRequest

SOURCE = "ketch"
DEFAULT_PURPOSES = {"personalization": "personalization", "analytics": "measurement"}


def parse(
    payload: Any, table: Mapping[str, str] | None = None, now: datetime | None = None
) -> ParsedPayload:
    if not isinstance(payload, Mapping):
        raise InvalidRequest("a Ketch request must be a JSON object", field="body")
    if payload.get("kind") != "ConsentRequest":
        return ParsedPayload(
            [], ignored=f"Ketch {payload.get('kind')!s} messages carry no consent state"
        )
    metadata = obj(payload.get("metadata"))
    request = payload.get("request")
    if not isinstance(request, Mapping):
        raise InvalidRequest("request must be an object", field="request")
    event_id = identifier(metadata.get("uid"), "metadata.uid")
    event_time = parse_event_time(request.get("collectedAt"), "request.collectedAt", now)
    identities = request.get("identities")
    if not isinstance(identities, list):
        raise InvalidRequest("identities must be a list", field="request.identities")
    subjects = []
    for index, identity in enumerate(identities):
        if not isinstance(identity, Mapping):
            raise InvalidRequest(
                "an identity must be an object", field=f"request.identities[{index}]"
            )
        if identity.get("identityFormat", "raw") == "raw":
            subjects.append(
                subject(identity.get("identityValue"), f"request.identities[{index}].identityValue")
            )
    if not subjects:
        raise InvalidRequest("no raw identity to store consent under", field="request.identities")
    raw_purposes = request.get("purposes")
    if not isinstance(raw_purposes, Mapping):
        raise InvalidRequest("purposes must be an object", field="request.purposes")
    choices = {
        str(code): _choice(status, f"request.purposes.{code}")
        for code, status in raw_purposes.items()
    }
    return ParsedPayload(
        [
            ConsentUpdate(
                subject_id=s,
                event_id=event_id,
                event_time=event_time,
                source=SOURCE,
                regulation=regulation_of(request.get("regulation"), strict=False),
                purposes=mappings.complete(
                    mappings.purposes_from_codes(choices, table or DEFAULT_PURPOSES)
                ),
                jurisdiction=request.get("jurisdiction")
                if isinstance(request.get("jurisdiction"), str)
                else None,
            )
            for s in dict.fromkeys(subjects)
        ]
    )


_CHOICES: dict[Any, bool] = {"granted": True, "denied": False, True: True, False: False}


def _choice(status: Any, field: str) -> bool:
    """One purpose's choice in any of Ketch's documented forms."""
    if isinstance(status, Mapping):
        return _choice(status.get("allowed"), f"{field}.allowed")
    if isinstance(status, str | bool) and status in _CHOICES:
        return _CHOICES[status]
    raise InvalidRequest("must be granted, denied, true or false", field=field)


CMP = Source(
    name=SOURCE,
    title="Ketch",
    auth=BEARER,
    secret="CONSENT_KETCH_TOKENS",
    secret_meaning="the bearer token(s) Ketch's webhook sends, `token,…`",
    parameter="ketch-tokens",
    parse=parse,
    purposes_setting="CONSENT_KETCH_PURPOSES",
    default_purposes=DEFAULT_PURPOSES,
)
