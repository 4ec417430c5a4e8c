"""record-exposure's adapters against moto: the conditional PUT and the per-subject consent
read."""

from __future__ import annotations

from typing import Any

import pytest

from earnest.errors import Unavailable
from earnest_aws.clients import client
from earnest_aws.consent_store import ConsentStore
from earnest_aws.events_store import EventsStore
from tests.builders.consent_state import put_state

KEY = "events/dt=2026-11-18/hour=11/idem-0123.ndjson.gz"


def test_a_key_is_written_once_and_never_overwritten(aws: Any) -> None:
    store = EventsStore(aws.events_bucket)
    assert store.put(KEY, b"first") is True
    assert store.put(KEY, b"second") is False
    obj = client("s3").get_object(Bucket=aws.events_bucket, Key=KEY)
    assert obj["Body"].read() == b"first"
    assert (obj["ContentType"], obj["ContentEncoding"]) == ("application/x-ndjson", "gzip")


def test_a_missing_bucket_is_unavailable_not_a_crash(aws: Any) -> None:
    with pytest.raises(Unavailable) as caught:
        EventsStore("earnest-no-such-bucket").put(KEY, b"x")
    assert "NoSuchBucket" in caught.value.message


def test_each_subjects_own_consent_comes_back_from_one_batched_read(aws: Any) -> None:
    put_state(aws, "a-granted", "granted")
    put_state(aws, "a-denied", "denied")
    put_state(aws, "a-erased", "granted", erased=True)
    got = ConsentStore(aws.consent_table).purposes_by_subject(
        ["a-granted", "a-denied", "a-erased", "a-unknown", "a-granted", ""]
    )
    assert got == {
        "a-granted": {"personalization": "granted", "measurement": "granted"},
        "a-denied": {"personalization": "granted", "measurement": "denied"},
        "a-erased": {"personalization": "denied", "measurement": "denied"},  # a tombstone
    }


def test_more_subjects_than_one_call_takes_are_read_in_chunks_of_100(aws: Any) -> None:
    for i in range(0, 230, 3):
        put_state(aws, f"a-{i}", "granted")
    got = ConsentStore(aws.consent_table).purposes_by_subject([f"a-{i}" for i in range(230)])
    assert set(got) == {f"a-{i}" for i in range(0, 230, 3)}


def test_an_unreadable_table_is_unavailable(aws: Any) -> None:
    client("dynamodb").delete_table(TableName=aws.consent_table)
    with pytest.raises(Unavailable):
        ConsentStore(aws.consent_table).purposes_by_subject(["a-1"])
