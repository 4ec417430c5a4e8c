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
    assert (got.regime, got.jurisdiction) == ("gdpr", "eugdpr")
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


def test_a_us_regulation_is_its_own_regime() -> None:
    payload = sample("ketch")
    payload["request"]["regulation"] = "ccpa"
    (got,) = ketch.parse(payload).items
    assert isinstance(got, ConsentUpdate) and got.regime == "cpra"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            lambda r: r["request"].update(purposes={"analytics": "maybe"}),
            "request.purposes.analytics",
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
