"""Sample payloads shaped as the CMPs' public documentation shows them (cited per sample)."""

from __future__ import annotations

import copy
from typing import Any

# Didomi, developers.didomi.io "Webhooks": user.updated carries `source` (the consent event
# that triggered it), `old_entity` and `new_entity` (the User, with its full consent state,
# per "Consents > Users"). Filled in with the User schema's fields.
DIDOMI_USER_UPDATED: dict[str, Any] = {
    "type": "user.updated",
    "parameters": {
        "source": {
            "id": "unique_event_id",
            "created_at": "2019-08-07T10:45:11Z",
            "organization_id": "didomi",
        },
        "old_entity": {
            "id": "didomi_user_id",
            "organization_user_id": "organization_user_id",
            "consents": {"purposes": []},
        },
        "new_entity": {
            "id": "didomi_user_id",
            "organization_user_id": "organization_user_id",
            "version": 2,
            "created_at": "2019-08-07T10:40:00Z",
            "updated_at": "2019-08-07T10:45:11Z",
            "last_seen_country": "FR",
            "consents": {
                "purposes": [
                    {"id": "cookies", "enabled": True},
                    {"id": "create_content_profile", "enabled": True},
                    {"id": "select_personalized_content", "enabled": True},
                    {"id": "measure_content_performance", "enabled": True},
                    {"id": "geolocation_data", "enabled": None},
                ],
                "vendors": {"enabled": ["google"], "disabled": []},
            },
        },
    },
}

# Didomi's own example of a consent event (event.created): partial choices, no full state.
DIDOMI_EVENT_CREATED: dict[str, Any] = {
    "type": "event.created",
    "parameters": {
        "entity": {
            "organization_id": "didomi",
            "user": {"id": "some_unique_id", "organization_user_id": "user@example.com"},
            "consents": {"purposes": [{"id": "geolocation_data", "enabled": True}]},
        }
    },
}

# Usercentrics, support.usercentrics.com "Consent Webhook": the documented payload, verbatim.
USERCENTRICS_CONSENT: dict[str, Any] = {
    "controller_id": "e6952f2110e8442178dedb292c39f69845cc9091e70e95abd9c61391c05155ad",
    "configuration_id": "XxxXXXxx",
    "timestamp": 1744721495920,
    "consent_string": (
        "CQP6E8AQP6E8AAFADAENBlFkAHJAAEBAAIYgF5wBAABAAGAXeAvMFfYAYC7wF5gV9ADHQAYAAgr6FAAwABBX"
        "0kABgACCvoAA.YAAAAAAAAAAA"
    ),
    "ac_string": "2~43.89~dv.",
    "consents": [
        {"consent_status": True, "dps_id": "BJ59EidsWQ"},
        {"consent_status": True, "dps_id": "H1Vl5NidjWX"},
        {"consent_status": True, "dps_id": "LykAT-gy"},
        {"consent_status": True, "dps_id": "BJz7qNsdj-7"},
    ],
    "webhook_version": "v1",
}

# Ketch, developers.ketch.com "Consent protocol": the documented ConsentRequest (its
# example's elided JSON punctuation restored).
KETCH_CONSENT_REQUEST: dict[str, Any] = {
    "apiVersion": "consent/v1",
    "kind": "ConsentRequest",
    "metadata": {"uid": "22880925-aac5-42f9-a653-cb6921d361ff", "tenant": "axonic"},
    "request": {
        "controller": "axonic",
        "property": "",
        "environment": "production",
        "regulation": "gdpr",
        "jurisdiction": "eugdpr",
        "identities": [
            {"identitySpace": "account_id", "identityFormat": "raw", "identityValue": "123"}
        ],
        "purposes": {
            "advertising": "granted",
            "data_sales": "granted",
            "email_mktg": "denied",
            "personalization": "granted",
            "analytics": "denied",
        },
        "legalBasis": {
            "advertising": "consent_optin",
            "data_sales": "consent_optout",
            "email_mktg": "disclosure",
        },
        "vendors": [],
        "context": {"account_id": "123"},
        "collectedAt": 1700000000,
    },
}


def sample(name: str) -> dict[str, Any]:
    """A fresh copy, so a test may change it."""
    samples: dict[str, dict[str, Any]] = {
        "didomi": DIDOMI_USER_UPDATED,
        "didomi_event": DIDOMI_EVENT_CREATED,
        "usercentrics": USERCENTRICS_CONSENT,
        "ketch": KETCH_CONSENT_REQUEST,
    }
    return copy.deepcopy(samples[name])
