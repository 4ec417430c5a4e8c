"""Earnest's own payload: one update or a batch; bad input names its field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from earnest.consent.cmp import earnest_format
from earnest.consent.records import ConsentUpdate
from earnest.errors import InvalidRequest
from tests.builders.tc_strings import encode

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def update(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject_id": "a-7f3",
        "event_id": "evt-1",
        "event_time": "2026-03-01T11:59:00+01:00",
        "source": "my-cmp",
        "purposes": {"personalization": "granted", "measurement": "denied"},
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def one(body: dict[str, Any]) -> ConsentUpdate:
    (item,) = earnest_format.parse(body, NOW).items
    assert isinstance(item, ConsentUpdate)
    return item


def test_an_update_is_read_with_its_time_in_utc_milliseconds() -> None:
    got = one(update())
    assert got.event_time == "2026-03-01T10:59:00.000Z"
    assert (got.regulation, got.action, got.source) == ("default", "update", "my-cmp")
    assert got.purposes == {"personalization": "granted", "measurement": "denied"}


@pytest.mark.parametrize(
    ("jurisdiction", "regulation"),
    [
        ("DE", "gdpr"),
        ("US-CA", "cpra"),
        ("US-VA", "us"),
        ("GB", "uk_gdpr"),
        ("gdpr", "gdpr"),
        ("ccpa", "cpra"),
        ("JP", "default"),
        ("appi", "appi"),
    ],
)
def test_a_jurisdiction_names_the_regulation_its_consent_is_kept_under(
    jurisdiction: str, regulation: str
) -> None:
    assert one(update(jurisdiction=jurisdiction)).regulation == regulation


def test_a_tc_string_alone_says_the_purposes_and_implies_gdpr() -> None:
    got = one(update(purposes=None, consent_string=encode({1, 5, 6, 8})))
    assert (got.regulation, got.purposes) == (
        "gdpr",
        {"personalization": "granted", "measurement": "granted"},
    )


def test_consent_mode_categories_alone_say_the_purposes() -> None:
    got = one(
        update(
            purposes=None,
            consent_mode={
                "ad_storage": "denied",
                "analytics_storage": "granted",
                "personalization_storage": "granted",
                "ad_personalization": "denied",
            },
        )
    )
    assert got.purposes == {"personalization": "denied", "measurement": "granted"}


def test_when_signals_disagree_the_most_restrictive_wins() -> None:
    got = one(update(consent_string="1YYN"))  # explicit grant, but opted out of sale
    assert got.purposes["personalization"] == "denied"


def test_an_erasure_needs_no_purposes() -> None:
    got = one(update(action="erase", purposes=None))
    assert got.action == "erase" and got.purposes == {}


def test_what_an_erasure_carries_must_still_be_valid_and_is_not_kept() -> None:
    with pytest.raises(InvalidRequest) as caught:
        one(update(action="erase", consent_mode={"analytics_storage": "AAA"}))
    assert caught.value.field == "consent_mode.analytics_storage"
    got = one(update(action="erase", consent_mode={"analytics_storage": "granted"}))
    assert got.action == "erase" and got.purposes == {}


def test_a_batch_applies_each_update_on_its_own() -> None:
    parsed = earnest_format.parse(
        {"updates": [update(), update(subject_id=None), update(event_id="e2")]}, NOW
    )
    assert parsed.batch
    assert [type(i).__name__ for i in parsed.items] == [
        "ConsentUpdate",
        "InvalidRequest",
        "ConsentUpdate",
    ]
    error = parsed.items[1]
    assert isinstance(error, InvalidRequest) and error.field == "updates[1].subject_id"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (update(subject_id=None), "subject_id"),
        (update(subject_id=""), "subject_id"),
        (update(subject_id="__webhook__#x"), "subject_id"),
        (update(event_id=None), "event_id"),
        (update(event_time=None), "event_time"),
        (update(event_time="2026-03-01T12:00:00"), "event_time"),  # no zone
        (update(event_time="2099-01-01T00:00:00Z"), "event_time"),  # far future
        (update(event_time="last tuesday"), "event_time"),
        (
            update(
                purposes={"personalization": "granted", "measurement": "denied", "ads": "granted"}
            ),
            "purposes.ads",
        ),
        (
            update(purposes={"personalization": "yes", "measurement": "denied"}),
            "purposes.personalization",
        ),
        (update(purposes={"personalization": "granted"}), "purposes.measurement"),
        (update(purposes=None), "purposes"),
        (update(action="forget"), "action"),
        (update(jurisdiction="Not A Place!"), "jurisdiction"),
        (update(consent_string="definitely not a consent string"), "consent_string"),
        (update(consent_mode={"analytics_storage": "on"}), "consent_mode.analytics_storage"),
        ({"updates": []}, "updates"),
        ({"updates": [update()] * 101}, "updates"),
        ([update()], "body"),
    ],
)
def test_bad_input_is_refused_naming_the_field(body: Any, field: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        earnest_format.parse(body, NOW)
    assert caught.value.field == field


def test_an_unknown_field_is_refused_naming_it_as_decide_and_events_do() -> None:
    with pytest.raises(InvalidRequest) as caught:
        one(update(purpose={"personalization": "granted"}))
    assert caught.value.field == "purpose"
    batch = {"updates": [update(), update(event_id="evt-2", consnet_string="x")]}
    items = earnest_format.parse(batch, NOW).items
    assert isinstance(items[0], ConsentUpdate)
    assert isinstance(items[1], InvalidRequest) and items[1].field == "updates[1].consnet_string"
    with pytest.raises(InvalidRequest) as whole:
        earnest_format.parse({"updates": [update()], "extra": 1}, NOW)
    assert whole.value.field == "extra"
