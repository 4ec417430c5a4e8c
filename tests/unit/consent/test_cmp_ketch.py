"""Ketch's ConsentRequest webhook, from its documented example."""

from __future__ import annotations

import pytest

from earnest.consent.cmp import ketch
from earnest.consent.records import ConsentUpdate
from earnest.errors import InvalidRequest
from tests.builders.cmp_samples import sample


def test_the_documented_request_is_stored_under_its_raw_identity() -> None:
    (got,) = ketch.parse(sample("ketch")).items
    assert isinstance(got, ConsentUpdate)
    assert (got.subject_id, got.event_id) == ("123", "22880925-aac5-42f9-a653-cb6921d361ff")
    assert (got.regulation, got.jurisdiction) == ("gdpr", "eugdpr")
    assert got.event_time == "2023-11-14T22:13:20.000Z"
    assert got.purposes == {"personalization": "granted", "measurement": "denied"}


def test_hashed_identities_are_not_subjects() -> None:
    payload = sample("ketch")
    payload["request"]["identities"].append(
        {"identitySpace": "email", "identityFormat": "sha256", "identityValue": "ab12"}
    )
    assert [u.subject_id for u in ketch.parse(payload).items if isinstance(u, ConsentUpdate)] == [
        "123"
    ]


def test_a_us_regulation_is_its_own_regulation() -> None:
    payload = sample("ketch")
    payload["request"]["regulation"] = "ccpa"
    (got,) = ketch.parse(payload).items
    assert isinstance(got, ConsentUpdate) and got.regulation == "cpra"


@pytest.mark.parametrize(
    ("purposes", "expected"),
    [
        ({"personalization": True, "analytics": False}, ("granted", "denied")),
        ({"personalization": False, "analytics": True}, ("denied", "granted")),
        (
            {
                "personalization": {"allowed": "granted", "legalBasisCode": "consent_optin"},
                "analytics": {"allowed": False},
            },
            ("granted", "denied"),
        ),
    ],
)
def test_each_documented_form_of_a_purpose_choice_is_read(
    purposes: dict[str, object], expected: tuple[str, str]
) -> None:
    # Given Ketch's boolean form ("advertising": true in its UpdateConsent docs) or its
    # object form, mapped through a tenant's table
    payload = sample("ketch")
    payload["request"]["purposes"] = purposes
    (got,) = ketch.parse(payload).items
    assert isinstance(got, ConsentUpdate)
    assert (got.purposes["personalization"], got.purposes["measurement"]) == expected


def test_a_boolean_advertising_purpose_maps_through_the_tenants_table() -> None:
    payload = sample("ketch")
    payload["request"]["purposes"] = {"advertising": True, "analytics": True}
    table = {"advertising": "personalization", "analytics": "measurement"}
    (got,) = ketch.parse(payload, table).items
    assert isinstance(got, ConsentUpdate)
    assert got.purposes == {"personalization": "granted", "measurement": "granted"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            lambda r: r["request"].update(purposes={"analytics": "maybe"}),
            "request.purposes.analytics",
        ),
        (
            lambda r: r["request"].update(purposes={"analytics": 1}),
            "request.purposes.analytics",
        ),
        (
            lambda r: r["request"].update(purposes={"analytics": {"allowed": "yes"}}),
            "request.purposes.analytics.allowed",
        ),
        (lambda r: r["request"].update(identities=[]), "request.identities"),
        (lambda r: r["metadata"].pop("uid"), "metadata.uid"),
        (lambda r: r["request"].update(collectedAt=32503680000), "request.collectedAt"),
    ],
)
def test_malformed_requests_name_the_field(change: object, field: str) -> None:
    payload = sample("ketch")
    change(payload)  # type: ignore[operator]
    with pytest.raises(InvalidRequest) as caught:
        ketch.parse(payload)
    assert caught.value.field == field
