"""Usercentrics' Consent Webhook, from its documented sample payload."""

from __future__ import annotations

import pytest

from earnest.consent.cmp import usercentrics
from earnest.consent.records import ConsentUpdate
from earnest.errors import InvalidRequest
from tests.builders.cmp_samples import sample


def one(payload: object, table: dict[str, str] | None = None) -> ConsentUpdate:
    (item,) = usercentrics.parse(payload, table).items
    assert isinstance(item, ConsentUpdate)
    return item


def test_the_documented_sample_is_stored_under_its_controller_id() -> None:
    got = one(sample("usercentrics"))
    assert got.subject_id.startswith("e6952f2110e8")
    assert got.event_time == "2025-04-15T12:51:35.920Z"
    assert got.event_id == f"{got.subject_id}@1744721495920"
    # Its TC string consents to purposes 2, 3, 4, 7, 10 only: nothing Earnest maps.
    assert (got.regulation, got.purposes) == (
        "gdpr",
        {"personalization": "denied", "measurement": "denied"},
    )
    assert got.consent_string and got.consent_string.startswith("CQP6E8")


def test_without_a_tc_string_configured_services_say_the_purposes() -> None:
    payload = sample("usercentrics")
    del payload["consent_string"]
    table = {"BJ59EidsWQ": "personalization", "H1Vl5NidjWX": "measurement"}
    assert one(payload, table).purposes == {"personalization": "granted", "measurement": "granted"}
    payload["consents"][0]["consent_status"] = False
    assert one(payload, table).purposes == {"personalization": "denied", "measurement": "granted"}
    assert one(payload, table).regulation == "default"


def test_a_redelivery_has_the_same_event_id() -> None:
    assert one(sample("usercentrics")).event_id == one(sample("usercentrics")).event_id


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("controller_id", None),
        ("timestamp", "yesterday"),
        ("consent_string", "not a consent string"),
    ],
)
def test_malformed_payloads_name_the_field(field: str, value: object) -> None:
    payload = sample("usercentrics")
    payload[field] = value
    with pytest.raises(InvalidRequest) as caught:
        usercentrics.parse(payload)
    assert caught.value.field == field
