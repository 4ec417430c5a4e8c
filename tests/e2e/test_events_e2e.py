"""/events over real HTTP on the local stack: tokens from /decide, events posted as the
edge and the page post them, and read back from the stack's S3 as Athena would."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from earnest.events.batch import FIELDS
from earnest.events.objects import read_events
from earnest_aws.settings import Settings
from tests.builders.stack import Stack, post, send_consent

GRANTED = {"purposes": {"measurement": "granted"}}


def s3(stack: Stack) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=stack.aws_url,
        region_name=stack.env["AWS_DEFAULT_REGION"],
        aws_access_key_id=stack.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=stack.env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=stack.env["AWS_SESSION_TOKEN"],
    )


def objects_of(stack: Stack, marker: str) -> dict[str, list[dict[str, Any]]]:
    """Every stored object whose key holds `marker` (a request id or an idem- name)."""
    client, bucket = s3(stack), Settings.from_env(stack.env).events_bucket
    out: dict[str, list[dict[str, Any]]] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="events/"):
        for obj in page.get("Contents", []):
            if marker in obj["Key"]:
                data = client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
                out[obj["Key"]] = read_events(data)
    return out


def all_records(stack: Stack) -> list[dict[str, Any]]:
    return [r for records in objects_of(stack, "events/").values() for r in records]


def decide_tokens(stack: Stack, unit: str) -> dict[str, dict[str, Any]]:
    body = {
        "visitor": {"anonymous_id": unit},
        "placements": ["home-hero", "pdp-recs"],
        "context": {"country": "DE", "device": "mobile"},
    }
    status, _, answer = post(f"{stack.api_url}/decide", json.dumps(body).encode())
    assert status == 200, answer
    return {p: d for p, d in answer["decisions"].items() if d["token"]}


def send_events(
    stack: Stack, body: Any, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    return post(f"{stack.api_url}/events", json.dumps(body).encode(), headers)


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture(scope="module")
def shown(pushed: Stack) -> tuple[Stack, str, dict[str, dict[str, Any]]]:
    unit = f"a-events-{uuid.uuid4().hex[:8]}"
    decisions = decide_tokens(pushed, unit)
    assert decisions, "decide issued no token to post back"
    return pushed, unit, decisions


def test_exposures_and_a_conversion_are_stored_once_as_decide_issued_them(
    shown: tuple[Stack, str, dict[str, dict[str, Any]]],
) -> None:
    stack, unit, decisions = shown
    events: list[dict[str, Any]] = [
        {"type": "exposure", "event_id": uuid.uuid4().hex, "token": d["token"], "ts": now_ms()}
        for d in decisions.values()
    ]
    purchase = {
        "type": "conversion",
        "event_id": uuid.uuid4().hex,
        "unit_id": unit,
        "name": "purchase",
        "value": 84.5,
        "currency": "EUR",
        "ts": now_ms(),
    }
    forged = {**events[0], "event_id": uuid.uuid4().hex, "token": events[0]["token"][:-4] + "AAAA"}
    before = datetime.now(UTC)
    status, headers, answer = send_events(
        stack, {"events": [*events, purchase, forged], "consent": GRANTED}
    )
    days = {f"events/dt={t:%Y-%m-%d}/hour=" for t in (before, datetime.now(UTC))}
    assert status == 202 and headers["content-type"] == "application/json"
    assert (answer["accepted"], answer["stored"], answer["rejected"]) == (
        len(events) + 1,
        len(events) + 1,
        1,
    )
    assert answer["rejections"][0]["reason"] == "tampered_token"

    objects = objects_of(stack, answer["request_id"])
    assert len(objects) == 1  # one PUT for the whole request
    ((key, records),) = objects.items()
    assert key.startswith(tuple(days)) and key.endswith(".ndjson.gz")
    assert all(list(r) == list(FIELDS) for r in records)
    by_experience = {r["experience"]: r for r in records if r["type"] == "exposure"}
    for d in decisions.values():
        stored = by_experience[d["experience"]]
        assert (stored["unit_id"], stored["variant"], stored["reason"]) == (
            unit,
            d["variant"],
            d["reason"],
        )
    (conv,) = [r for r in records if r["type"] == "conversion"]
    assert (conv["unit_id"], conv["value"], conv["currency"]) == (unit, 84.5, "EUR")


def test_a_beacon_posted_as_text_plain_is_stored(
    shown: tuple[Stack, str, dict[str, dict[str, Any]]],
) -> None:
    stack, unit, _ = shown
    event_id = uuid.uuid4().hex
    beacon = {
        "events": [
            {
                "type": "conversion",
                "event_id": event_id,
                "unit_id": unit,
                "name": "newsletter_signup",
                "ts": now_ms(),
            }
        ],
        "consent": GRANTED,
    }
    status, _, answer = send_events(stack, beacon, {"content-type": "text/plain;charset=UTF-8"})
    assert status == 202 and answer["stored"] == 1
    assert [r["event_id"] for r in all_records(stack)].count(event_id) == 1


def test_a_retry_with_the_same_idempotency_key_leaves_one_copy(
    shown: tuple[Stack, str, dict[str, dict[str, Any]]],
) -> None:
    stack, _, decisions = shown
    token = next(iter(decisions.values()))["token"]
    event_id = uuid.uuid4().hex
    body = {
        "events": [{"type": "exposure", "event_id": event_id, "token": token, "ts": now_ms()}],
        "consent": GRANTED,
    }
    key = {"idempotency-key": f"edge-{uuid.uuid4().hex}"}
    first, again = send_events(stack, body, key), send_events(stack, body, key)
    assert (first[0], again[0]) == (202, 202)
    assert (first[2]["replayed"], again[2]["replayed"]) == (False, True)
    assert [r["event_id"] for r in all_records(stack)].count(event_id) == 1


def test_after_a_cmp_withdraws_measurement_nothing_more_is_stored(pushed: Stack) -> None:
    unit = f"a-withdrawn-{uuid.uuid4().hex[:8]}"
    update = {
        "subject_id": unit,
        "event_id": f"e-{uuid.uuid4().hex}",
        "event_time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "source": "e2e-cmp",
        "jurisdiction": "DE",
        "purposes": {"personalization": "granted", "measurement": "denied"},
    }
    status, answer = send_consent(pushed, update)
    assert status == 200 and answer["applied"] is True, answer
    event_id = uuid.uuid4().hex
    event = {
        "type": "conversion",
        "event_id": event_id,
        "unit_id": unit,
        "name": "purchase",
        "ts": now_ms(),
    }
    status, _, answer = send_events(pushed, {"events": [event], "consent": GRANTED})
    assert status == 202 and (answer["accepted"], answer["stored"], answer["no_consent"]) == (
        1,
        0,
        1,
    )
    assert event_id not in {r["event_id"] for r in all_records(pushed)}


def test_too_many_events_over_http_is_a_413_naming_the_limit(pushed: Stack) -> None:
    status, _, answer = send_events(pushed, {"events": [{}] * 501})
    assert status == 413
    assert answer["error"]["field"] == "events" and "500" in answer["error"]["message"]
