"""Events, the pure core: what a batch may hold, why an event is refused, what is stored."""

from __future__ import annotations

import gzip
import math
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from earnest.errors import EarnestError, InvalidJson, InvalidRequest, PayloadTooLarge
from earnest.events.batch import (
    FIELDS,
    OPTIONAL_FIELDS,
    REJECTION_REASONS,
    Limits,
    check_idempotency_key,
    format_ms,
    parse_batch,
    validate_batch,
)
from earnest.events.objects import encode, object_key, read_events, unique_events
from earnest.tokens import TokenSigner
from tests.builders.events import NOW, NOW_MS, SIGNER, conversion, exposure, token


def judge(*events: Any, **kw: Any) -> Any:
    return validate_batch(list(events), SIGNER, NOW, "req-1", **kw)


# ---------------------------------------------------------------- what is stored


def test_an_exposure_is_stored_with_what_its_token_proves() -> None:
    got = judge(exposure(token=token("a-7f3", variant=None, reason="holdout")))
    assert got.rejections == []
    (record,) = got.records
    assert list(record) == list(FIELDS)
    assert record == {
        "event_id": "e-1",
        "type": "exposure",
        "unit_id": "a-7f3",
        "experience": "hero",
        "variant": None,
        "reason": "holdout",
        "rules_version": "rv1",
        "name": None,
        "value": None,
        "currency": None,
        "event_time": "2026-11-18T11:06:39.000Z",
        "receive_time": "2026-11-18T11:06:40.000Z",
        "request_id": "req-1",
    }


def test_an_exposure_of_a_segmented_experience_stores_its_tokens_segments_last() -> None:
    # Given a token of an experience that records the device (decide signed the value)
    seg = {"context.device": "mobile"}
    got = judge(exposure(token=token("a-7f3", segments=seg)))
    (record,) = got.records
    # Then the record carries them after every other field; a dismissal by it does not
    assert list(record) == [*FIELDS, *OPTIONAL_FIELDS]
    assert record["segments"] == seg
    dismissed = judge({**exposure(token=token("a-7f3", segments=seg)), "type": "dismissal"})
    assert list(dismissed.records[0]) == list(FIELDS)


def test_a_conversion_keeps_its_revenue_and_currency_and_may_have_neither() -> None:
    got = judge(conversion(currency="eur"), conversion("c-2", value=None, currency=None))
    paid, free = got.records
    assert (paid["name"], paid["value"], paid["currency"]) == ("purchase", 59.9, "EUR")
    assert (free["value"], free["currency"]) == (None, None)
    assert paid["experience"] is None and paid["unit_id"] == "a-1"
    assert list(paid) == list(FIELDS)


def test_every_way_of_writing_a_time_means_the_same_instant() -> None:
    stamps = [
        NOW_MS - 1_000,
        (NOW_MS - 1_000) / 1000,
        "2026-11-18T11:06:39Z",
        "2026-11-18T12:06:39.000+01:00",
        "2026-11-18t11:06:39z",
    ]
    got = judge(*(conversion(f"c-{i}", ts=ts) for i, ts in enumerate(stamps)))
    assert got.rejections == []
    assert {r["event_time"] for r in got.records} == {"2026-11-18T11:06:39.000Z"}


def test_a_senders_wrong_clock_is_corrected_by_sent_at() -> None:
    """A browser an hour fast: its events would be 'future', but it says when it sent them."""
    fast = NOW_MS + 3_600_000
    refused = judge(conversion(ts=fast - 5_000))
    assert refused.rejections[0].reason == "future_timestamp"
    got = judge(conversion(ts=fast - 5_000), sent_at_ms=fast)
    assert got.records[0]["event_time"] == format_ms(NOW_MS - 5_000)


# ---------------------------------------------------------------- what is refused, and why

BAD: list[tuple[str, Any, str, str | None]] = [
    ("not an object", "e-1", "malformed", None),
    ("no type", exposure(type=None), "missing_field", "type"),
    ("unknown type", exposure(type="click"), "unknown_type", "type"),
    ("no event id", exposure(event_id=None), "missing_field", "event_id"),
    ("event id not a string", exposure(event_id=7), "invalid_field", "event_id"),
    ("event id too long", exposure(event_id="x" * 129), "oversized_field", "event_id"),
    ("unknown field", exposure(unit="a-1"), "unknown_field", "unit"),
    ("a conversion's field on an exposure", exposure(value=3), "unknown_field", "value"),
    ("no ts", exposure(ts=None), "missing_field", "ts"),
    ("ts not a time", exposure(ts="yesterday"), "invalid_field", "ts"),
    ("ts without a zone", exposure(ts="2026-11-18T11:06:39"), "invalid_field", "ts"),
    ("ts a boolean", exposure(ts=True), "invalid_field", "ts"),
    ("ts an hour ahead", exposure(ts=NOW_MS + 3_600_000), "future_timestamp", "ts"),
    ("ts a week old", exposure(ts=NOW_MS - 7 * 86_400_000), "stale_timestamp", "ts"),
    ("ts infinite", exposure(ts=math.inf), "invalid_field", "ts"),
    ("no token", exposure(token=None), "missing_field", "token"),
    ("token not a string", exposure(token=["v1"]), "malformed_token", "token"),
    ("token garbage", exposure(token="hello"), "malformed_token", "token"),
    (
        "token from an unknown key",
        exposure(
            token=TokenSigner([("k9", b"someone-elses-secret")]).sign(
                "a-1", "hero", "b", "personalized", "rv1", issued_at=int(NOW)
            )
        ),
        "forged_token",
        "token",
    ),
    (
        "token edited",
        exposure(token=token().replace("v1.k1.W", "v1.k1.X")),
        "tampered_token",
        "token",
    ),
    (
        "token two days old",
        exposure(token=token(issued_at=int(NOW) - 2 * 86_400)),
        "expired_token",
        "token",
    ),
    ("no unit id", conversion(unit_id=None), "missing_field", "unit_id"),
    ("unit id too long", conversion(unit_id="a" * 257), "oversized_field", "unit_id"),
    ("no name", conversion(name=None), "missing_field", "name"),
    ("empty name", conversion(name=""), "invalid_field", "name"),
    ("negative revenue", conversion(value=-1), "invalid_field", "value"),
    ("infinite revenue", conversion(value=math.inf), "invalid_field", "value"),
    ("revenue as text", conversion(value="59.90"), "invalid_field", "value"),
    ("revenue as a boolean", conversion(value=True), "invalid_field", "value"),
    ("revenue without currency", conversion(currency=None), "missing_field", "currency"),
    ("currency not ISO 4217", conversion(currency="EURO"), "invalid_field", "currency"),
    ("currency without revenue", conversion(value=None), "invalid_field", "currency"),
    ("user id not a string", conversion(user_id=42), "invalid_field", "user_id"),
]


@pytest.mark.parametrize(("case", "event", "reason", "field"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_event_is_refused_naming_why_and_the_field(
    case: str, event: Any, reason: str, field: str | None
) -> None:
    got = judge(conversion("good-1"), event, exposure("good-2"))
    assert [r["event_id"] for r in got.records] == ["good-1", "good-2"]  # the batch survives
    (rejection,) = got.rejections
    assert (rejection.index, rejection.reason, rejection.field) == (1, reason, field)
    assert rejection.reason in REJECTION_REASONS and rejection.message
    body = rejection.as_dict()
    assert body["index"] == 1 and body["reason"] == reason and ("field" in body) == bool(field)


def test_a_repeated_event_id_keeps_the_first_and_names_the_repeat() -> None:
    got = judge(conversion("c-1"), exposure("c-1"), conversion("c-1", name="signup"))
    assert [r["type"] for r in got.records] == ["conversion"]
    assert [(r.index, r.reason) for r in got.rejections] == [
        (1, "duplicate_event_id"),
        (2, "duplicate_event_id"),
    ]


def test_a_token_replayed_in_one_request_is_stored_once() -> None:
    replayed = token()
    other = exposure("e-x", token=token(unit="a-2"))
    got = judge(*(exposure(f"e-{i}", token=replayed) for i in range(50)), other)
    assert [r["event_id"] for r in got.records] == ["e-0", "e-x"]
    assert [(r.reason, r.field) for r in got.rejections] == [("duplicate_token", "token")] * 49


def test_a_refused_event_does_not_make_its_corrected_resend_a_duplicate() -> None:
    got = judge(conversion("c-1", value=-5), conversion("c-1"))
    assert [r.reason for r in got.rejections] == ["invalid_field"]
    assert got.records[0]["value"] == 59.9


def test_a_user_id_is_kept_for_the_consent_check_but_never_stored() -> None:
    got = judge(conversion(user_id="u-19"), exposure())
    assert got.user_ids == ["u-19", None]
    assert all("user_id" not in r for r in got.records)


def test_time_limits_are_configurable() -> None:
    tight = Limits(max_age_seconds=60, max_future_seconds=0)
    got = judge(conversion(ts=NOW_MS - 61_000), conversion("c-2", ts=NOW_MS + 1), limits=tight)
    assert [r.reason for r in got.rejections] == ["stale_timestamp", "future_timestamp"]


# ---------------------------------------------------------------- the envelope


def body(**payload: Any) -> bytes:
    return orjson.dumps(payload)


def test_the_envelope_and_a_bare_array_are_both_read() -> None:
    assert parse_batch(body(events=[exposure()])).events == [exposure()]
    assert parse_batch(orjson.dumps([exposure()])).events == [exposure()]
    carried = {"gpc": True, "purposes": {"measurement": "granted"}}
    batch = parse_batch(body(events=[], consent=carried, sent_at="2026-11-18T11:06:40Z"))
    assert batch.consent == carried and batch.sent_at_ms == NOW_MS


@pytest.mark.parametrize(
    ("raw", "error", "field"),
    [
        (b"", InvalidJson, "body"),
        (b"  ", InvalidJson, "body"),
        (b'{"events": [', InvalidJson, "body"),
        (b'"events"', InvalidRequest, "body"),
        (b"{}", InvalidRequest, "events"),
        (b'{"events": {}}', InvalidRequest, "events"),
        (b'{"events": [], "batch": 1}', InvalidRequest, "batch"),
        (b'{"events": [], "consent": "yes"}', InvalidRequest, "consent"),
        (b'{"events": [], "consent": {"tcf": "CP"}}', InvalidRequest, "consent.tcf"),
        (b'{"events": [], "consent": {"gpc": 1}}', InvalidRequest, "consent.gpc"),
        (
            b'{"events": [], "consent": {"purposes": {"ads": "granted"}}}',
            InvalidRequest,
            "consent.purposes.ads",
        ),
        (
            b'{"events": [], "consent": {"purposes": {"measurement": "yes"}}}',
            InvalidRequest,
            "consent.purposes.measurement",
        ),
        (b'{"events": [], "sent_at": "soon"}', InvalidRequest, "sent_at"),
    ],
)
def test_a_bad_envelope_refuses_the_request_naming_the_field(
    raw: bytes, error: type[EarnestError], field: str
) -> None:
    with pytest.raises(error) as caught:
        parse_batch(raw)
    assert caught.value.field == field


def test_the_limits_are_named_when_exceeded() -> None:
    with pytest.raises(PayloadTooLarge) as caught:
        parse_batch(orjson.dumps([{}] * 501))
    assert caught.value.field == "events" and "500" in caught.value.message
    assert len(parse_batch(orjson.dumps([{}] * 500)).events) == 500
    with pytest.raises(PayloadTooLarge) as caught:
        parse_batch(b"[" + b" " * (1024 * 1024) + b"]")
    assert caught.value.field == "body" and str(1024 * 1024) in caught.value.message


def test_an_idempotency_key_must_be_short_printable_ascii() -> None:
    assert check_idempotency_key(None) is None and check_idempotency_key("") is None
    assert check_idempotency_key("batch-7f3-0001") == "batch-7f3-0001"
    for bad in ("k" * 256, "naïve", "tab\tkey"):
        with pytest.raises(InvalidRequest) as caught:
            check_idempotency_key(bad)
        assert caught.value.field == "Idempotency-Key"


# ---------------------------------------------------------------- the stored object


def test_objects_land_in_the_hive_partition_of_their_receive_hour() -> None:
    key = object_key(NOW_MS, "req-1")
    assert key == "events/dt=2026-11-18/hour=11/20261118T110640000Z-req-1.ndjson.gz"
    assert object_key(NOW_MS + 3_600_000, "r").startswith("events/dt=2026-11-18/hour=12/")


def test_a_retry_names_the_same_object_and_a_new_batch_never_does() -> None:
    first = object_key(NOW_MS, "req-1", "key-1", b'{"events": [1]}')
    assert first.startswith("events/dt=2026-11-18/hour=11/idem-")
    assert object_key(NOW_MS + 5_000, "req-2", "key-1", b'{"events": [1]}') == first
    assert object_key(NOW_MS, "req-1", "key-1", b'{"events": [2]}') != first  # key reused
    assert object_key(NOW_MS, "req-1", "key-2", b'{"events": [1]}') != first


def test_stored_records_read_back_as_they_were_and_duplicates_drop_when_read() -> None:
    records = judge(exposure("e-1"), conversion("c-1")).records
    data = encode(records)
    assert gzip.decompress(data).count(b"\n") == 2  # one JSON object a line
    assert read_events(data) == records
    again = read_events(encode(records[:1]))
    assert [r["event_id"] for r in unique_events(records + again)] == ["e-1", "c-1"]


# ---------------------------------------------------------------- invariants

ids = st.sampled_from(["e-1", "e-2", "e-3", "c-1", ""])
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
events = st.one_of(
    st.builds(lambda i: exposure(i), ids),
    st.builds(lambda i: conversion(i), ids),
    st.builds(lambda i, v: conversion(i, value=v), ids, json_values),
    st.builds(lambda i, t: exposure(i, ts=t), ids, json_values),
    st.builds(lambda i, t: exposure(i, token=t), ids, st.text(max_size=40)),
    st.builds(lambda i, k, v: {**conversion(i), k: v}, ids, st.text(max_size=8), json_values),
    json_values,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(events, max_size=30))
def test_every_event_is_either_accepted_or_rejected_once_with_a_known_reason(
    batch: list[Any],
) -> None:
    got = judge(*batch)
    assert len(got.records) + len(got.rejections) == len(batch)
    indexes = [r.index for r in got.rejections]
    assert indexes == sorted(set(indexes)) and all(0 <= i < len(batch) for i in indexes)
    assert {r.reason for r in got.rejections} <= set(REJECTION_REASONS)
    assert len({r["event_id"] for r in got.records}) == len(got.records)
    assert all(list(r) == list(FIELDS) for r in got.records)
    assert len(got.user_ids) == len(got.records)
    assert read_events(encode(got.records)) == got.records


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.builds(orjson.dumps, json_values))
def test_no_body_whatever_it_holds_escapes_as_anything_but_a_named_refusal(raw: bytes) -> None:
    try:
        batch = parse_batch(raw)
    except EarnestError as error:
        assert error.field is not None  # named, even when the name is ""
        return
    got = judge(*batch.events)
    assert len(got.records) + len(got.rejections) == len(batch.events)
