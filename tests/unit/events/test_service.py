"""The events service with in-memory consent and storage: what is kept, what is counted,
and that a failing dependency leaves nothing acknowledged."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from earnest.errors import InvalidRequest, PayloadTooLarge, Unavailable
from earnest.events.service import receive
from tests.builders.events import NOW, SIGNER, Bucket, conversion, exposure, token

GRANTED = {"personalization": "granted", "measurement": "granted"}
DENIED = {"personalization": "granted", "measurement": "denied"}


class Consent:
    """Stored consent by subject; counts reads, can fail like an unreadable table."""

    def __init__(self, stored: Mapping[str, Mapping[str, str]] | None = None, fail: bool = False):
        self.stored = dict(stored or {})
        self.reads: list[list[str]] = []
        self.fail = fail

    def purposes_by_subject(self, subject_ids: Sequence[str]) -> Mapping[str, Mapping[str, str]]:
        if self.fail:
            raise Unavailable("consent store down")
        self.reads.append(list(subject_ids))
        return {s: self.stored[s] for s in subject_ids if s in self.stored}


def post(
    events: list[Any],
    consent: Consent | None = None,
    bucket: Bucket | None = None,
    carried: dict[str, Any] | None = None,
    **kw: Any,
) -> dict[str, Any]:
    envelope: dict[str, Any] = {"events": events}
    if carried is not None:
        envelope["consent"] = carried
    kw.setdefault("regime", "opt_out")
    return receive(
        orjson.dumps(envelope),
        "req-1",
        SIGNER,
        consent if consent is not None else Consent(),
        bucket if bucket is not None else Bucket(),
        now=NOW,
        **kw,
    )


def test_a_mixed_batch_is_answered_with_counts_and_stored_in_one_object() -> None:
    bucket = Bucket()
    answer = post([exposure("e-1"), conversion("c-1"), {"type": "click"}], bucket=bucket)
    assert answer == {
        "request_id": "req-1",
        "received": 3,
        "accepted": 2,
        "stored": 2,
        "no_consent": 0,
        "rejected": 1,
        "replayed": False,
        "rejections": [
            {
                "index": 2,
                "reason": "unknown_type",
                "field": "type",
                "message": "type must be exposure, conversion or dismissal",
            },
        ],
    }
    assert bucket.puts == 1 and [r["event_id"] for r in bucket.records()] == ["e-1", "c-1"]


@pytest.mark.parametrize("size", [1, 37, 500])
def test_one_put_per_request_whatever_the_batch_size(size: int) -> None:
    bucket = Bucket()
    post([conversion(f"c-{i}") for i in range(size)], bucket=bucket)
    assert bucket.puts == 1 and len(bucket.objects) == 1 and len(bucket.records()) == size


def test_a_batch_with_nothing_to_keep_writes_nothing() -> None:
    bucket = Bucket()
    answer = post([{"type": "click"}], bucket=bucket)
    assert answer["accepted"] == 0 and bucket.puts == 0
    assert post([], bucket=bucket)["received"] == 0 and bucket.puts == 0


# ---------------------------------------------------------------- consent at ingest


def test_a_subject_who_denied_measurement_is_not_stored_and_is_counted() -> None:
    consent = Consent({"a-1": DENIED, "a-2": GRANTED})
    bucket = Bucket()
    events = [
        conversion("c-1", unit_id="a-1"),
        exposure("e-1", token=token("a-1")),
        conversion("c-2", unit_id="a-2"),
    ]
    answer = post(events, consent, bucket)
    assert (answer["accepted"], answer["stored"], answer["no_consent"]) == (3, 1, 2)
    assert [r["event_id"] for r in bucket.records()] == ["c-2"]


def test_consent_is_read_once_per_request_over_the_distinct_subjects() -> None:
    consent = Consent()
    events = [conversion(f"c-{i}", unit_id=f"a-{i % 3}") for i in range(30)]
    events.append(conversion("c-u", unit_id="a-0", user_id="u-9"))
    post(events, consent)
    assert consent.reads == [["a-0", "a-1", "a-2", "u-9"]]


def test_the_users_stored_denial_counts_too() -> None:
    consent = Consent({"a-1": GRANTED, "u-9": DENIED})
    answer = post([conversion("c-1", user_id="u-9"), conversion("c-2")], consent)
    assert (answer["stored"], answer["no_consent"]) == (1, 1)


def test_under_opt_in_no_record_means_not_measured_unless_the_request_grants_it() -> None:
    bucket = Bucket()
    answer = post([conversion()], Consent(), bucket, regime="opt_in")
    assert (answer["stored"], answer["no_consent"]) == (0, 1) and bucket.puts == 0
    granted = {"purposes": {"measurement": "granted"}}
    assert post([conversion()], Consent(), carried=granted, regime="opt_in")["stored"] == 1
    # ... but a stored denial still wins over what the request carries.
    assert post([conversion()], Consent({"a-1": DENIED}), carried=granted)["stored"] == 0


def test_under_opt_out_no_record_is_measured() -> None:
    assert post([conversion()], Consent(), regime="opt_out")["stored"] == 1


def test_a_request_that_denies_measurement_keeps_nothing_and_reads_nothing() -> None:
    consent, bucket = Consent(), Bucket()
    answer = post([conversion()], consent, bucket, carried={"purposes": {"measurement": "denied"}})
    assert (answer["accepted"], answer["stored"], answer["no_consent"]) == (1, 0, 1)
    assert consent.reads == [] and bucket.puts == 0


def test_gpc_keeps_a_visitors_events_out_of_storage() -> None:
    """Issue #4: a request sent with Sec-GPC: 1 is not measured, whatever is stored."""
    consent, bucket = Consent(), Bucket()
    answer = post([conversion()], consent, bucket, gpc=True, regime="opt_out")
    assert (answer["accepted"], answer["stored"], answer["no_consent"]) == (1, 0, 1)
    assert bucket.puts == 0


@pytest.mark.parametrize(
    "signal",
    [{"gpc": True}, {"carried": {"gpc": True, "purposes": {"measurement": "granted"}}}],
    ids=["Sec-GPC header", "consent.gpc in the body"],
)
def test_gpc_means_the_same_as_the_header_and_in_the_body(signal: dict[str, Any]) -> None:
    """Issue 17: the body's consent.gpc is the header's signal, so it stores nothing either,
    even beside a CMP that grants measurement and a store that grants it too."""
    consent, bucket = Consent({"a-1": GRANTED}), Bucket()
    answer = post([conversion(), exposure()], consent, bucket, regime="opt_out", **signal)
    assert (answer["accepted"], answer["stored"], answer["no_consent"]) == (2, 0, 2)
    assert bucket.puts == 0


# ---------------------------------------------------------------- nothing acknowledged is lost


def test_an_unreadable_consent_store_acknowledges_nothing() -> None:
    bucket = Bucket()
    with pytest.raises(Unavailable):
        post([conversion()], Consent(fail=True), bucket)
    assert bucket.puts == 0


def test_an_unwritable_bucket_acknowledges_nothing() -> None:
    with pytest.raises(Unavailable):
        post([conversion()], bucket=Bucket(fail=True))


def test_a_retry_with_the_same_key_stores_no_second_copy() -> None:
    bucket = Bucket()
    events = [conversion("c-1"), exposure("e-1")]
    first = post(events, bucket=bucket, idempotency_key="batch-1")
    again = post(events, bucket=bucket, idempotency_key="batch-1")
    assert (first["replayed"], again["replayed"]) == (False, True)
    assert again["accepted"] == first["accepted"] == 2
    assert len(bucket.objects) == 1 and len(bucket.records()) == 2


def test_a_key_reused_for_a_new_batch_never_swallows_it() -> None:
    bucket = Bucket()
    post([conversion("c-1")], bucket=bucket, idempotency_key="batch-1")
    answer = post([conversion("c-2")], bucket=bucket, idempotency_key="batch-1")
    assert answer["replayed"] is False
    assert sorted(r["event_id"] for r in bucket.records()) == ["c-1", "c-2"]


def test_request_level_problems_are_refused_before_anything_is_read_or_written() -> None:
    consent, bucket = Consent(), Bucket()
    with pytest.raises(PayloadTooLarge):
        post([conversion(f"c-{i}") for i in range(501)], consent, bucket)
    with pytest.raises(InvalidRequest) as caught:
        post([conversion()], consent, bucket, idempotency_key="k" * 300)
    assert caught.value.field == "Idempotency-Key"
    assert consent.reads == [] and bucket.puts == 0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["granted", "denied", None]), min_size=1, max_size=12))
def test_counts_always_add_up(choices: list[str | None]) -> None:
    stored = {f"a-{i}": {"measurement": c} for i, c in enumerate(choices) if c}
    bucket = Bucket()
    events = [conversion(f"c-{i}", unit_id=f"a-{i}") for i in range(len(choices))]
    events.append({"type": "nope"})
    answer = post(events, Consent(stored), bucket, regime="opt_in")
    assert answer["accepted"] + answer["rejected"] == answer["received"] == len(events)
    assert answer["stored"] + answer["no_consent"] == answer["accepted"]
    assert answer["stored"] == choices.count("granted") == len(bucket.records())
