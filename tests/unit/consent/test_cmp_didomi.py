"""Didomi's user.* webhooks become Earnest updates; other events are acknowledged."""

from __future__ import annotations

import pytest

from earnest.consent.cmp import didomi
from earnest.consent.records import ConsentUpdate
from earnest.errors import InvalidRequest
from tests.builders.cmp_samples import sample
from tests.builders.tc_strings import encode

GRANTED = {"personalization": "granted", "measurement": "granted"}


def updates(payload: object) -> list[ConsentUpdate]:
    items = didomi.parse(payload).items
    assert all(isinstance(i, ConsentUpdate) for i in items)
    return [i for i in items if isinstance(i, ConsentUpdate)]


def test_a_user_update_is_stored_under_both_ids_didomi_knows() -> None:
    got = updates(sample("didomi"))
    assert [u.subject_id for u in got] == ["organization_user_id", "didomi_user_id"]
    first = got[0]
    assert first.purposes == GRANTED
    assert (first.event_id, first.event_time) == ("unique_event_id", "2019-08-07T10:45:11.000Z")
    assert (first.regulation, first.source, first.jurisdiction) == ("gdpr", "didomi", "FR")


def test_a_purpose_switched_off_withdraws_personalization() -> None:
    payload = sample("didomi")
    payload["parameters"]["new_entity"]["consents"]["purposes"][2]["enabled"] = False
    assert updates(payload)[0].purposes == {"personalization": "denied", "measurement": "granted"}


def test_the_tc_string_counts_too_and_the_most_restrictive_wins() -> None:
    payload = sample("didomi")
    payload["parameters"]["new_entity"]["consents"]["tcfcs"] = encode({1, 5, 6})  # no purpose 8
    got = updates(payload)[0]
    assert got.purposes == {"personalization": "granted", "measurement": "denied"}
    assert got.consent_string == payload["parameters"]["new_entity"]["consents"]["tcfcs"]


def test_a_user_with_no_choices_is_stored_as_denied() -> None:
    payload = sample("didomi")
    payload["parameters"]["new_entity"]["consents"] = {}
    assert updates(payload)[0].purposes == {"personalization": "denied", "measurement": "denied"}


def test_a_multi_regulation_event_keeps_its_regulation() -> None:
    payload = {**sample("didomi"), "regulation": "cpra"}
    assert {u.regulation for u in updates(payload)} == {"cpra"}


def test_a_deleted_user_is_an_erasure_of_both_ids() -> None:
    payload = sample("didomi")
    payload["type"] = "user.deleted"
    payload["parameters"] = {"entity": payload["parameters"]["new_entity"]}
    got = updates(payload)
    assert [(u.action, u.subject_id) for u in got] == [
        ("erase", "organization_user_id"),
        ("erase", "didomi_user_id"),
    ]


def test_consent_events_are_acknowledged_but_not_stored() -> None:
    parsed = didomi.parse(sample("didomi_event"))
    assert parsed.items == [] and parsed.ignored and "event.created" in parsed.ignored


def test_a_configured_table_maps_custom_purposes() -> None:
    payload = sample("didomi")
    payload["parameters"]["new_entity"]["consents"]["purposes"] = [
        {"id": "web_personalisation", "enabled": True},
        {"id": "audience_measurement", "enabled": False},
    ]
    table = {"web_personalisation": "personalization", "audience_measurement": "measurement"}
    got = didomi.parse(payload, table).items[0]
    assert isinstance(got, ConsentUpdate)
    assert got.purposes == {"personalization": "granted", "measurement": "denied"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p.pop("type"), "type"),
        (lambda p: p["parameters"].update(new_entity={"consents": {}}), "parameters.new_entity.id"),
        (
            lambda p: p["parameters"]["source"].update(created_at="2999-01-01T00:00:00Z"),
            "parameters.source.created_at",
        ),
    ],
)
def test_malformed_events_name_the_field(change: object, field: str) -> None:
    payload = sample("didomi")
    change(payload)  # type: ignore[operator]
    with pytest.raises(InvalidRequest) as caught:
        didomi.parse(payload)
    assert caught.value.field == field


def test_a_megabyte_tcfcs_is_a_400_naming_the_field_not_a_minute_of_decoding() -> None:
    # issue 12: one authenticated event with a 1 MB tcfcs held the function for 54.9 s
    payload = sample("didomi")
    payload["parameters"]["new_entity"]["consents"]["tcfcs"] = "DBABRg~" + "A" * 1_000_000
    with pytest.raises(InvalidRequest) as caught:
        didomi.parse(payload)
    assert caught.value.field.endswith("consents.tcfcs")
