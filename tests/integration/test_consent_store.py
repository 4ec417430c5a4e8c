"""The consent store's read side, as decide uses it on every request, against moto."""

from __future__ import annotations

from typing import Any

import pytest

from earnest.errors import Unavailable
from earnest_aws.clients import client
from earnest_aws.consent_store import ConsentStore


def regulation(
    personalization: str, measurement: str = "granted", t: str = "2026-01-01T00:00:00.000Z"
) -> dict[str, Any]:
    return {
        "M": {
            "purposes": {
                "M": {"personalization": {"S": personalization}, "measurement": {"S": measurement}}
            },
            "event_time": {"S": t},
            "event_id": {"S": "e-1"},
            "source": {"S": "test"},
        }
    }


def put_state(table: str, subject: str, **attributes: Any) -> None:
    item = {"subject_id": {"S": subject}, "record": {"S": "state"}, **attributes}
    client("dynamodb").put_item(TableName=table, Item=item)


def test_no_record_for_any_id_is_none(aws: Any) -> None:
    assert ConsentStore(aws.consent_table).purposes_for(["a-nobody", "u-nobody"]) is None
    assert ConsentStore(aws.consent_table).purposes_for([]) is None


def test_one_regulations_consent_is_read_as_purposes(aws: Any) -> None:
    put_state(aws.consent_table, "a-1", r_gdpr=regulation("granted", "denied"))
    got = ConsentStore(aws.consent_table).purposes_for(["a-1"])
    assert got == {"personalization": "granted", "measurement": "denied"}


def test_a_denial_under_any_regulation_wins(aws: Any) -> None:
    put_state(aws.consent_table, "a-1", r_gdpr=regulation("granted"), r_cpra=regulation("denied"))
    got = ConsentStore(aws.consent_table).purposes_for(["a-1"])
    assert got == {"personalization": "denied", "measurement": "granted"}


def test_the_ids_of_one_visitor_combine_most_restrictive_first(aws: Any) -> None:
    put_state(aws.consent_table, "a-1", r_gdpr=regulation("granted", "granted"))
    put_state(aws.consent_table, "u-1", r_default=regulation("denied", "granted"))
    got = ConsentStore(aws.consent_table).purposes_for(["a-1", "u-1", "a-1"])
    assert got == {"personalization": "denied", "measurement": "granted"}


def test_a_tombstone_denies_everything(aws: Any) -> None:
    put_state(aws.consent_table, "a-1", r_gdpr=regulation("granted", "granted"))
    put_state(
        aws.consent_table,
        "u-gone",
        erased_at={"S": "2026-01-02T00:00:00.000Z"},
        erased_marker={"S": "1"},
    )
    store = ConsentStore(aws.consent_table)
    assert store.purposes_for(["u-gone"]) == {"personalization": "denied", "measurement": "denied"}
    assert store.purposes_for(["a-1", "u-gone"]) == {
        "personalization": "denied",
        "measurement": "denied",
    }


def test_a_value_that_is_neither_granted_nor_denied_is_unknown_not_a_grant(aws: Any) -> None:
    put_state(aws.consent_table, "a-1", r_gdpr=regulation("yes please"))
    assert ConsentStore(aws.consent_table).purposes_for(["a-1"]) == {"measurement": "granted"}


def test_an_unreadable_store_raises_unavailable(aws: Any) -> None:
    client("dynamodb").delete_table(TableName=aws.consent_table)
    with pytest.raises(Unavailable):
        ConsentStore(aws.consent_table).purposes_for(["a-1"])


def test_a_hung_consent_store_fails_within_a_second_on_the_request_path(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """decide's consent read waits one short attempt, not botocore's default minutes."""
    import time

    from earnest_aws.clients import reset
    from earnest_aws.settings import DecideSettings
    from tests.builders.faults import silent_server

    with silent_server() as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        reset()
        store = ConsentStore(
            aws.consent_table, client("dynamodb", DecideSettings().consent_timeouts)
        )
        started = time.monotonic()
        with pytest.raises(Unavailable, match="ReadTimeoutError"):
            store.purposes_for(["a-1"])
        waited = time.monotonic() - started
    reset()
    # One attempt of connect 0.15 s + read 0.2 s (bench/bench_faults.py prints the figure);
    # the probe measured 6 s per read before issue 12, 0.5 s before issue 18.
    assert waited < 1.0


def test_history_written_under_the_old_words_reads_under_the_new(aws: Any) -> None:
    client("dynamodb").put_item(
        TableName=aws.consent_table,
        Item={
            "subject_id": {"S": "a-old"},
            "record": {"S": "history#2026-01-01T00:00:00.000Z#r-1#0"},
            "regime": {"S": "gdpr"},
            "why": {"S": "newer_than_stored"},
            "applied": {"BOOL": True},
        },
    )
    (entry,) = ConsentStore(aws.consent_table).history("a-old")
    assert (entry["regulation"], entry["reason"]) == ("gdpr", "newer_than_stored")
    assert "regime" not in entry and "why" not in entry
