"""record-exposure's real handler against moto: what the edge and the page see, and what
lands in S3 (one object per request, nothing acknowledged lost)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from earnest.events.batch import FIELDS
from earnest.events.objects import read_events
from earnest.tokens import TokenSigner
from earnest_aws.clients import client
from earnest_cli.local_stack import load_handler
from tests.builders.consent_state import put_state
from tests.builders.events import NOW, NOW_MS
from tests.builders.handlers import invoke

GRANTED = {"purposes": {"measurement": "granted"}}


@pytest.fixture
def events_fn(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    fn = load_handler("record_exposure")
    assert fn is not None
    monkeypatch.setitem(fn.__wrapped__.__globals__, "CLOCK", lambda: NOW)  # receive time, pinned
    return fn


def signer(aws: Any) -> TokenSigner:
    return TokenSigner(aws.exposure_token_keys, aws.token_ttl_seconds)


def exposure(
    aws: Any, event_id: str, unit: str = "a-1", variant: str | None = "b"
) -> dict[str, Any]:
    reason = "personalized" if variant else "holdout"
    tok = signer(aws).sign(unit, "hiking-hero", variant, reason, "rv-1", issued_at=int(NOW) - 60)
    return {"type": "exposure", "event_id": event_id, "token": tok, "ts": NOW_MS - 30_000}


def conversion(event_id: str, unit: str = "a-1", **more: Any) -> dict[str, Any]:
    return {
        "type": "conversion",
        "event_id": event_id,
        "unit_id": unit,
        "name": "purchase",
        "ts": NOW_MS - 10_000,
        **more,
    }


def post(
    fn: Any, body: Any, headers: dict[str, str] | None = None, raw: bytes | None = None
) -> Any:
    return invoke("events", body, headers, raw=raw, handler=fn)


def stored(aws: Any) -> dict[str, list[dict[str, Any]]]:
    s3 = client("s3")
    listing = s3.list_objects_v2(Bucket=aws.events_bucket, Prefix="events/")
    return {
        o["Key"]: read_events(s3.get_object(Bucket=aws.events_bucket, Key=o["Key"])["Body"].read())
        for o in listing.get("Contents", [])
    }


# ---------------------------------------------------------------- the happy path


def test_a_batch_is_acknowledged_and_stored_as_one_gzip_ndjson_object(
    aws: Any, events_fn: Any
) -> None:
    body = {
        "events": [
            exposure(aws, "e-1"),
            exposure(aws, "e-2", variant=None),
            conversion("c-1", value=59.9, currency="EUR"),
        ],
        "consent": GRANTED,
    }
    status, headers, answer = post(events_fn, body)
    assert status == 202 and headers["content-type"] == "application/json"
    assert (answer["received"], answer["accepted"], answer["stored"], answer["rejected"]) == (
        3,
        3,
        3,
        0,
    )
    ((key, records),) = stored(aws).items()
    assert (
        key == f"events/dt=2026-11-18/hour=11/20261118T110640000Z-{answer['request_id']}.ndjson.gz"
    )
    assert all(list(r) == list(FIELDS) for r in records)
    first, holdout, purchase = records
    assert (first["unit_id"], first["experience"], first["variant"], first["reason"]) == (
        "a-1",
        "hiking-hero",
        "b",
        "personalized",
    )
    assert (holdout["variant"], holdout["reason"]) == (None, "holdout")
    assert (purchase["name"], purchase["value"], purchase["currency"]) == ("purchase", 59.9, "EUR")
    assert {r["request_id"] for r in records} == {answer["request_id"]}
    assert {r["receive_time"] for r in records} == {"2026-11-18T11:06:40.000Z"}


def test_a_beacon_sent_as_text_plain_is_read_like_json(aws: Any, events_fn: Any) -> None:
    raw = orjson.dumps({"events": [conversion("c-beacon")], "consent": GRANTED})
    status, _, answer = post(events_fn, None, {"content-type": "text/plain;charset=UTF-8"}, raw)
    assert status == 202 and answer["stored"] == 1
    assert [r["event_id"] for rs in stored(aws).values() for r in rs] == ["c-beacon"]


@pytest.mark.parametrize("size", [1, 500])
def test_one_object_per_request_whatever_the_batch_size(
    aws: Any, events_fn: Any, size: int
) -> None:
    events = [exposure(aws, f"e-{i}", unit=f"a-{i}") for i in range(size)]
    status, _, answer = post(events_fn, {"events": events, "consent": GRANTED})
    assert status == 202 and answer["stored"] == size
    objects = stored(aws)
    assert len(objects) == 1 and len(next(iter(objects.values()))) == size


def test_bad_events_are_named_and_never_poison_the_batch(aws: Any, events_fn: Any) -> None:
    forged = TokenSigner([("test", b"not-the-real-secret-000")]).sign(
        "a-1", "hiking-hero", "b", "personalized", "rv-1", issued_at=int(NOW)
    )
    events = [
        conversion("c-1"),
        {**exposure(aws, "e-1"), "token": forged},
        conversion("c-1"),
        conversion("c-2", value=-3, currency="EUR"),
        "nonsense",
    ]
    status, _, answer = post(events_fn, {"events": events, "consent": GRANTED})
    assert status == 202 and (answer["accepted"], answer["rejected"]) == (1, 4)
    assert [(r["index"], r["reason"], r.get("field")) for r in answer["rejections"]] == [
        (1, "tampered_token", "token"),
        (2, "duplicate_event_id", "event_id"),
        (3, "invalid_field", "value"),
        (4, "malformed", None),
    ]
    assert [r["event_id"] for rs in stored(aws).values() for r in rs] == ["c-1"]


# ---------------------------------------------------------------- request-level refusals


@pytest.mark.parametrize(
    ("raw", "status", "code", "field"),
    [
        (b"{not json", 400, "invalid_json", "body"),
        (b"", 400, "invalid_json", "body"),
        (b'{"events": "all"}', 400, "invalid_request", "events"),
        (b'{"events": [], "extra": 1}', 400, "invalid_request", "extra"),
        (orjson.dumps({"events": [{}] * 501}), 413, "payload_too_large", "events"),
        (b'{"events": ["' + b"x" * (1024 * 1024) + b'"]}', 413, "payload_too_large", "body"),
    ],
)
def test_a_bad_request_answers_4xx_naming_the_field_and_stores_nothing(
    aws: Any, events_fn: Any, raw: bytes, status: int, code: str, field: str
) -> None:
    got_status, _, answer = post(events_fn, None, raw=raw)
    assert got_status == status
    assert answer["error"]["code"] == code and answer["error"]["field"] == field
    assert "Traceback" not in str(answer) and stored(aws) == {}


def test_other_methods_are_refused(aws: Any, events_fn: Any) -> None:
    status, headers, _ = invoke("events", None, method="GET", raw=b"", handler=events_fn)
    assert status == 405 and headers["allow"] == "POST"


# ---------------------------------------------------------------- nothing acknowledged is lost


def test_an_unwritable_bucket_answers_503_and_the_retry_stores_everything(
    aws: Any, events_fn: Any
) -> None:
    body = {"events": [conversion("c-1"), conversion("c-2")], "consent": GRANTED}
    client("s3").delete_bucket(Bucket=aws.events_bucket)
    status, headers, answer = post(events_fn, body, {"idempotency-key": "batch-1"})
    assert status == 503 and headers["retry-after"] == "1"
    assert answer["error"]["code"] == "unavailable" and "stored" not in answer
    client("s3").create_bucket(Bucket=aws.events_bucket)
    status, _, answer = post(events_fn, body, {"idempotency-key": "batch-1"})
    assert status == 202 and answer["stored"] == 2
    assert sorted(r["event_id"] for rs in stored(aws).values() for r in rs) == ["c-1", "c-2"]


def test_an_unreadable_consent_store_answers_503_and_stores_nothing(
    aws: Any, events_fn: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    client("dynamodb").delete_table(TableName=aws.consent_table)
    capsys.readouterr()
    status, headers, _ = post(events_fn, {"events": [conversion("c-1")], "consent": GRANTED})
    assert status == 503 and headers["retry-after"] == "1"
    assert stored(aws) == {}
    # counted as the metric the template's EventsFailingAlarm watches
    assert '"events_failed":1' in capsys.readouterr().out


def test_a_fault_nobody_foresaw_is_a_503_never_a_500(
    aws: Any, events_fn: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(key: str, body: bytes) -> bool:
        raise RuntimeError("a bug")

    monkeypatch.setattr(events_fn.__wrapped__.__globals__["STORE"], "put", broken)
    status, headers, answer = post(events_fn, {"events": [conversion("c-1")], "consent": GRANTED})
    assert status == 503 and headers["retry-after"] == "1" and "bug" not in str(answer)


def test_a_retry_with_the_same_idempotency_key_stores_no_second_copy(
    aws: Any, events_fn: Any
) -> None:
    body = {"events": [exposure(aws, "e-1"), conversion("c-1")], "consent": GRANTED}
    first = post(events_fn, body, {"idempotency-key": "edge-7f3-000123"})[2]
    again = post(events_fn, body, {"idempotency-key": "edge-7f3-000123"})[2]
    assert (first["replayed"], again["replayed"]) == (False, True)
    assert first["stored"] == again["stored"] == 2
    objects = stored(aws)
    assert len(objects) == 1 and len(next(iter(objects.values()))) == 2
    # Without the key, a resend is a second object; readers drop the duplicates by event_id.
    post(events_fn, body)
    assert len(stored(aws)) == 2


def test_a_bad_idempotency_key_is_refused_naming_the_header(aws: Any, events_fn: Any) -> None:
    status, _, answer = post(events_fn, {"events": []}, {"idempotency-key": "k" * 300})
    assert status == 400 and answer["error"]["field"] == "Idempotency-Key"


# ---------------------------------------------------------------- consent at ingest


def test_subjects_without_measurement_consent_are_not_stored_and_are_counted(
    aws: Any, events_fn: Any
) -> None:
    put_state(aws, "a-granted", "granted")
    put_state(aws, "a-denied", "denied")
    put_state(aws, "a-erased", None, erased=True)
    events = [
        conversion("c-1", "a-granted"),
        exposure(aws, "e-1", "a-denied"),
        conversion("c-2", "a-erased"),
        conversion("c-3", "a-unknown"),
    ]
    status, _, answer = post(events_fn, {"events": events})  # opt_in: unknown is not granted
    assert status == 202
    assert (answer["accepted"], answer["stored"], answer["no_consent"]) == (4, 1, 3)
    assert [r["unit_id"] for rs in stored(aws).values() for r in rs] == ["a-granted"]


def test_a_large_batch_of_subjects_is_judged_subject_by_subject(aws: Any, events_fn: Any) -> None:
    """250 subjects: the consent read spans three BatchGetItem calls and stays per subject."""
    for i in range(250):
        put_state(aws, f"a-{i}", "denied" if i % 5 == 0 else "granted")
    events = [conversion(f"c-{i}", f"a-{i}") for i in range(250)]
    status, _, answer = post(events_fn, {"events": events})
    assert status == 202 and (answer["stored"], answer["no_consent"]) == (200, 50)
    kept = {r["unit_id"] for rs in stored(aws).values() for r in rs}
    assert kept == {f"a-{i}" for i in range(250) if i % 5}


def test_a_hung_bucket_is_tried_once_and_answers_503_acknowledging_nothing(
    aws: Any, events_fn: Any
) -> None:
    from tests.builders.faults import Hung

    put_state(aws, "a-1", "granted")
    hung = Hung(events_fn.__wrapped__.__globals__["STORE"].s3, "PutObject")
    status, headers, body = post(events_fn, {"events": [conversion("c-1")]})
    hung.heal()
    assert status == 503 and headers["retry-after"] and body["request_id"]
    assert "accepted" not in body and hung.attempts == 1
    assert stored(aws) == {}
    status, _, body = post(events_fn, {"events": [conversion("c-1")]})  # the retry
    assert status == 202 and body["stored"] == 1


def test_an_absurd_time_or_value_rejects_that_event_only(aws: Any, events_fn: Any) -> None:
    put_state(aws, "a-1", "granted")
    events = [
        conversion("c-ok"),
        conversion("c-ts", ts=-1.8e305),
        conversion("c-big", value=1e308, currency="EUR"),
        conversion("c-cap", value=1e9 + 1, currency="EUR"),
    ]
    status, _, body = post(events_fn, {"events": events})
    assert status == 202 and (body["stored"], body["rejected"]) == (1, 3)
    assert [(r["index"], r["field"]) for r in body["rejections"]] == [
        (1, "ts"),
        (2, "value"),
        (3, "value"),
    ]


def test_an_absurd_sent_at_is_a_400_naming_it(aws: Any, events_fn: Any) -> None:
    status, _, body = post(events_fn, {"events": [conversion("c-1")], "sent_at": -1.8e305})
    assert status == 400 and body["error"]["field"] == "sent_at"


def test_a_repeated_key_in_the_batch_is_a_400_naming_it(aws: Any, events_fn: Any) -> None:
    raw = (
        b'{"events": [], "consent": {"purposes": {"measurement": "denied",'
        b' "measurement": "granted"}}}'
    )
    status, _, body = post(events_fn, None, raw=raw)
    assert status == 400 and body["error"]["field"] == "measurement"
