"""The consent service with an in-memory repository: who may write, and what a replay,
a bad payload or a failing store leave behind (nothing)."""

from __future__ import annotations

import base64
import contextlib
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from earnest.consent.cmp.auth import Credentials
from earnest.consent.records import FIRST, ConsentUpdate, Outcome
from earnest.consent.service import ConsentConfig, receive
from earnest.consent.webhooks import sign
from earnest.errors import EarnestError, InvalidRequest, Unauthorized, Unavailable

KEY = b"k" * 32
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CONFIG = ConsentConfig(
    Credentials(
        webhook_keys=(KEY,),
        basic={"usercentrics": ("uc-user:uc-password-000001",)},
    )
)


class Memory:
    def __init__(self, fail: bool = False) -> None:
        self.applied: list[ConsentUpdate] = []
        self.claims: dict[str, tuple[str, int]] = {}
        self.done: set[str] = set()
        self.fail = fail

    def apply(
        self, update: ConsentUpdate, receive_time: str, request_id: str, seq: int = 0
    ) -> Outcome:
        if self.fail:
            raise Unavailable("store down")
        self.applied.append(update)
        return Outcome(update, True, FIRST)

    erase = apply

    def claim_webhook(self, webhook_id: str, digest: str, expires_at: int, now: int) -> bool:
        held = self.claims.get(webhook_id)
        if held and held[1] >= now and not (held[0] == digest and webhook_id not in self.done):
            return False
        self.claims[webhook_id] = (digest, expires_at)
        return True

    def finish_webhook(self, webhook_id: str) -> None:
        self.done.add(webhook_id)

    def release_webhook(self, webhook_id: str) -> None:
        self.claims.pop(webhook_id, None)


def signed(body: Any, msg_id: str = "msg_1") -> tuple[dict[str, str], bytes]:
    raw = orjson.dumps(body)
    ts = int(NOW.timestamp())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(KEY, msg_id, ts, raw),
    }, raw


UPDATE = {
    "subject_id": "a-1",
    "event_id": "e-1",
    "event_time": "2026-03-01T11:00:00Z",
    "purposes": {"personalization": "denied", "measurement": "denied"},
}


def test_a_signed_update_is_applied_and_answered_with_its_outcome() -> None:
    repo = Memory()
    headers, body = signed(UPDATE)
    answer = receive(headers, body, "req-1", CONFIG, repo, NOW)
    assert answer["applied"] is True and answer["reason"] == FIRST
    assert answer["source"] == "earnest" and answer["request_id"] == "req-1"
    assert [u.subject_id for u in repo.applied] == ["a-1"]


def test_a_replayed_webhook_id_is_refused_and_applies_nothing() -> None:
    repo = Memory()
    headers, body = signed(UPDATE)
    receive(headers, body, "req-1", CONFIG, repo, NOW)
    with pytest.raises(Unauthorized):
        receive(headers, body, "req-2", CONFIG, repo, NOW)
    assert len(repo.applied) == 1


def test_an_unsigned_or_missigned_body_is_unauthorized_before_it_is_even_parsed() -> None:
    repo = Memory()
    headers, _ = signed(UPDATE)
    with pytest.raises(Unauthorized):
        receive(headers, b"{not json", "req", CONFIG, repo, NOW)
    with pytest.raises(Unauthorized):
        receive({}, orjson.dumps(UPDATE), "req", CONFIG, repo, NOW)
    assert repo.applied == [] and repo.claims == {}


def test_an_invalid_signed_payload_does_not_use_up_its_webhook_id() -> None:
    repo = Memory()
    headers, body = signed({**UPDATE, "subject_id": None})
    with pytest.raises(InvalidRequest):
        receive(headers, body, "req", CONFIG, repo, NOW)
    assert repo.claims == {}


def test_when_the_store_fails_the_webhook_id_is_released_for_the_senders_retry() -> None:
    repo = Memory(fail=True)
    headers, body = signed(UPDATE)
    with pytest.raises(Unavailable):
        receive(headers, body, "req", CONFIG, repo, NOW)
    repo.fail = False
    assert receive(headers, body, "req", CONFIG, repo, NOW)["applied"] is True


def test_a_batch_reports_each_update_and_a_summary() -> None:
    repo = Memory()
    batch = {
        "updates": [UPDATE, {**UPDATE, "event_time": "tomorrow"}, {**UPDATE, "subject_id": "a-2"}]
    }
    headers, body = signed(batch)
    answer = receive(headers, body, "req", CONFIG, repo, NOW)
    assert answer["summary"] == {"applied": 2, "not_applied": 0, "invalid": 1}
    assert answer["results"][1]["error"]["field"] == "updates[1].event_time"
    assert "applied" not in answer  # per-update outcomes only, in results


def test_a_cmp_payload_is_read_by_the_adapter_its_credential_names() -> None:
    repo = Memory()
    auth = "Basic " + base64.b64encode(b"uc-user:uc-password-000001").decode()
    body = orjson.dumps({"controller_id": "c-1", "timestamp": 1772362800000, "consents": []})
    answer = receive({"authorization": auth}, body, "req", CONFIG, repo, NOW)
    assert answer["source"] == "usercentrics" and repo.applied[0].subject_id == "c-1"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)
known_keys = st.fixed_dictionaries(
    {},
    optional={
        k: json_values
        for k in (
            "subject_id",
            "event_id",
            "event_time",
            "purposes",
            "action",
            "jurisdiction",
            "consent_string",
            "consent_mode",
            "updates",
            "type",
            "parameters",
            "controller_id",
            "timestamp",
            "consents",
            "kind",
            "metadata",
            "request",
        )
    },
)


@settings(max_examples=100, deadline=None)
@given(
    st.one_of(json_values, known_keys),
    st.sampled_from(["earnest", "didomi", "usercentrics", "ketch"]),
)
def test_any_json_from_any_source_is_answered_or_refused_never_crashes(
    payload: Any, source: str
) -> None:
    from earnest.consent.service import parse_payload

    with contextlib.suppress(EarnestError):
        parse_payload(source, payload, CONFIG, NOW)
