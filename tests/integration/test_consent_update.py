"""consent-update's real handler against moto: tables from template.yaml, every rule of
/consent observed in what the table holds afterwards and what decide would read."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from earnest.consent.webhooks import parse_secrets, sign
from earnest.timefmt import format_ms
from earnest_aws.clients import client
from earnest_aws.consent_store import ConsentStore
from earnest_aws.consent_writer import ConsentWriter
from earnest_aws.settings import ConsentSettings
from earnest_cli.local_stack import load_handler
from tests.builders.cmp_samples import sample
from tests.builders.handlers import invoke

SECRET = "whsec_" + base64.b64encode(b"integration-webhook-secret-00001").decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"integration-webhook-secret-00000").decode()
DIDOMI_TOKEN = "didomi-integration-token-01"
UC_USER_PASS = "usercentrics:integration-password-01"
GRANTED = {"personalization": "granted", "measurement": "granted"}
DENIED = {"personalization": "denied", "measurement": "denied"}

Post = Callable[..., tuple[int, dict[str, str], Any]]


@pytest.fixture
def consent(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Post:
    """POST /consent through the real handler; signs with the newest secret by default."""
    monkeypatch.setenv("CONSENT_WEBHOOK_SECRETS", f"{SECRET},{OLD_SECRET}")
    monkeypatch.setenv("CONSENT_DIDOMI_TOKENS", DIDOMI_TOKEN)
    monkeypatch.setenv("CONSENT_USERCENTRICS_CREDENTIALS", UC_USER_PASS)
    monkeypatch.setenv("CONSENT_MAX_BODY_BYTES", str(256 * 1024))
    handler = load_handler("consent_update")

    def post(
        body: Any,
        *,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        sign_with: str | None = SECRET,
        msg_id: str | None = None,
        ts_offset: int = 0,
        handler: Any = handler,
    ) -> tuple[int, dict[str, str], Any]:
        data = raw if raw is not None else orjson.dumps(body)
        hdrs = dict(headers or {})
        if sign_with:
            msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
            ts = int(time.time()) + ts_offset
            key = parse_secrets(sign_with)[0]
            hdrs.update(
                {
                    "webhook-id": msg_id,
                    "webhook-timestamp": str(ts),
                    "webhook-signature": sign(key, msg_id, ts, data),
                }
            )
        return invoke("consent_update", None, hdrs, raw=data, handler=handler)

    return post


def update(
    subject: str = "a-1",
    t: str = "2026-01-01T10:00:00Z",
    event_id: str = "e-1",
    purposes: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "subject_id": subject,
        "event_id": event_id,
        "event_time": t,
        "source": "test-cmp",
        "purposes": purposes or GRANTED,
        **extra,
    }


def iso(epoch: float) -> str:
    return format_ms(int(epoch * 1000))


def writer_client() -> Any:
    """The DynamoDB client consent-update writes with (its own short budget)."""
    return client("dynamodb", ConsentSettings().timeouts)


def stored(aws: Any, *subjects: str) -> dict[str, str] | None:
    return ConsentStore(aws.consent_table).purposes_for(list(subjects))


def history(aws: Any, subject: str) -> list[dict[str, Any]]:
    return ConsentWriter(aws.consent_table).history(subject)


def test_a_signed_update_is_stored_and_read_as_decide_reads_it(aws: Any, consent: Post) -> None:
    status, _, body = consent(
        update(purposes={"personalization": "granted", "measurement": "denied"})
    )
    assert status == 200 and body["applied"] is True and body["reason"] == "first_for_regulation"
    assert stored(aws, "a-1") == {"personalization": "granted", "measurement": "denied"}
    (entry,) = history(aws, "a-1")
    assert entry["event_id"] == "e-1" and entry["source"] == "test-cmp" and entry["applied"] is True
    assert (
        entry["event_time"] == "2026-01-01T10:00:00.000Z"
        and entry["request_id"] == body["request_id"]
    )
    assert entry["receive_time"].endswith("Z")


def test_a_secret_being_rotated_out_still_verifies(aws: Any, consent: Post) -> None:
    assert consent(update(), sign_with=OLD_SECRET)[0] == 200


def test_an_older_update_arriving_late_is_kept_in_history_but_not_applied(
    aws: Any, consent: Post
) -> None:
    consent(update(t="2026-01-01T10:00:00Z", event_id="new", purposes=DENIED))
    status, _, body = consent(update(t="2026-01-01T09:00:00Z", event_id="old", purposes=GRANTED))
    assert status == 200 and body["applied"] is False and body["reason"] == "older_than_stored"
    assert stored(aws, "a-1") == DENIED
    assert [(h["event_id"], h["applied"], h["reason"]) for h in history(aws, "a-1")] == [
        ("new", True, "first_for_regulation"),
        ("old", False, "older_than_stored"),
    ]


def test_a_tie_goes_to_the_denial_whatever_the_event_ids_and_a_repeat_is_a_duplicate(
    aws: Any, consent: Post
) -> None:
    t = "2026-01-01T10:00:00Z"
    consent(update(t=t, event_id="e-2", purposes=DENIED))
    for event_id in ("e-1", "e-3"):  # a grant in the same millisecond, either side of e-2
        _, _, body = consent(update(t=t, event_id=event_id, purposes=GRANTED))
        assert (body["applied"], body["reason"]) == (False, "tied_with_stored")
    assert consent(update(t=t, event_id="e-2", purposes=DENIED))[2]["reason"] == "duplicate"
    assert stored(aws, "a-1") == DENIED
    assert len(history(aws, "a-1")) == 4


def test_a_tie_denies_each_purpose_either_update_denies(aws: Any, consent: Post) -> None:
    t = "2026-01-01T10:00:00Z"
    consent(update(t=t, event_id="e-9", purposes={**GRANTED, "measurement": "denied"}))
    _, _, body = consent(
        update(t=t, event_id="e-1", purposes={**GRANTED, "personalization": "denied"})
    )
    assert (body["applied"], body["reason"]) == (True, "tied_with_stored")
    assert stored(aws, "a-1") == DENIED


def test_a_withdrawal_after_a_future_stamped_grant_wins(aws: Any, consent: Post) -> None:
    """Issue 18: a grant stamped 4 minutes ahead (within the skew allowed) outranked the
    withdrawal made after it; it is ordered at its receipt instead."""
    now = time.time()
    ahead = consent(update(t=iso(now + 240), event_id="grant", purposes=GRANTED))[2]
    assert ahead["applied"] is True
    _, _, body = consent(update(t=iso(now + 1), event_id="withdrawal", purposes=DENIED))
    assert (body["applied"], body["reason"]) == (True, "newer_than_stored")
    assert stored(aws, "a-1") == DENIED


def test_a_future_stamped_grant_retried_after_a_withdrawal_keeps_its_first_receipt(
    aws: Any, consent: Post
) -> None:
    now = time.time()
    grant = update(t=iso(now + 240), event_id="grant", purposes=GRANTED)
    consent(grant)
    consent(update(t=iso(now + 1), event_id="withdrawal", purposes=DENIED))
    _, _, body = consent(grant)  # the CMP never saw the first answer
    assert (body["applied"], body["reason"]) == (False, "older_than_stored")
    assert stored(aws, "a-1") == DENIED


def test_the_conditional_write_holds_even_when_a_writer_read_a_stale_state(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two writers race: this one read before the newer update landed. The write itself
    refuses it, and the retry reads again and records why."""
    from earnest.consent.records import ConsentUpdate

    writer = ConsentWriter(aws.consent_table)
    newer = ConsentUpdate("a-1", "e-2", "2026-01-01T11:00:00.000Z", "cmp", purposes=DENIED)
    older = ConsentUpdate("a-1", "e-1", "2026-01-01T10:00:00.000Z", "cmp", purposes=GRANTED)
    writer.apply(newer, "2026-01-01T11:00:01.000Z", "r-1")
    real = writer._get_state
    reads: list[int] = []

    def stale_once(subject_id: str) -> dict[str, Any] | None:
        reads.append(1)
        return None if len(reads) == 1 else real(subject_id)

    monkeypatch.setattr(writer, "_get_state", stale_once)
    outcome = writer.apply(older, "2026-01-01T11:00:02.000Z", "r-2")
    assert (outcome.applied, outcome.reason, len(reads)) == (False, "older_than_stored", 2)
    assert stored(aws, "a-1") == DENIED


def test_one_regulations_event_never_overwrites_anothers(aws: Any, consent: Post) -> None:
    consent(update(event_id="g", jurisdiction="DE", purposes=GRANTED))
    consent(
        update(
            event_id="c",
            t="2026-02-01T00:00:00Z",
            jurisdiction="US-CA",
            purposes={"personalization": "denied", "measurement": "granted"},
        )
    )
    consent(update(event_id="g2", t="2026-03-01T00:00:00Z", jurisdiction="FR", purposes=GRANTED))
    state = ConsentWriter(aws.consent_table).state("a-1")
    assert state is not None
    assert state["r_gdpr"]["purposes"] == GRANTED and state["r_gdpr"]["event_id"] == "g2"
    assert state["r_cpra"]["purposes"]["personalization"] == "denied"
    # Decide combines them: the CPRA opt-out holds even though GDPR consent is newer.
    assert stored(aws, "a-1") == {"personalization": "denied", "measurement": "granted"}


def test_a_batch_of_100_applies_each_update_on_its_own(aws: Any, consent: Post) -> None:
    updates = [update(subject=f"s-{i}", event_id=f"e-{i}") for i in range(100)]
    updates[7] = update(subject="s-0", event_id="e-0")  # a duplicate of the first
    updates[9] = {
        **update(subject="s-9"),
        "purposes": {"personalization": "maybe", "measurement": "granted"},
    }
    status, _, body = consent({"updates": updates})
    assert status == 200
    assert body["summary"] == {"applied": 98, "not_applied": 1, "invalid": 1}
    assert body["results"][7]["reason"] == "duplicate"
    assert body["results"][9]["error"]["field"] == "updates[9].purposes.personalization"
    assert stored(aws, "s-42") == GRANTED and stored(aws, "s-9") is None
    # The repeat is recorded beside the original, not over it: proof of both receipts.
    assert [(h["applied"], h["reason"]) for h in history(aws, "s-0")] == [
        (True, "first_for_regulation"),
        (False, "duplicate"),
    ]


def test_erasure_leaves_only_a_tombstone_and_a_receipt(aws: Any, consent: Post) -> None:
    consent(update(event_id="e-1"))
    consent(update(event_id="e-2", t="2026-01-02T00:00:00Z", jurisdiction="DE"))
    status, _, body = consent(
        {
            "action": "erase",
            "subject_id": "a-1",
            "event_id": "erase-1",
            "event_time": "2026-01-03T00:00:00Z",
            "source": "dsr-tool",
        }
    )
    assert status == 200 and body["applied"] is True and body["reason"] == "erased"
    records = [
        i["record"]["S"]
        for i in client("dynamodb").query(
            TableName=aws.consent_table,
            KeyConditionExpression="subject_id = :s",
            ExpressionAttributeValues={":s": {"S": "a-1"}},
        )["Items"]
    ]
    assert len(records) == 2 and "state" in records and records[0].startswith("erasure-receipt#")
    writer = ConsentWriter(aws.consent_table)
    state = writer.state("a-1")
    assert state is not None and "erased_at" in state and not any(k.startswith("r_") for k in state)
    (receipt,) = writer.receipts("a-1")
    assert receipt["deleted_items"] == 2 and receipt["event_id"] == "erase-1"
    # The report excludes erased subjects through the sparse `erased` index.
    erased = client("dynamodb").query(
        TableName=aws.consent_table,
        IndexName="erased",
        KeyConditionExpression="erased_marker = :m",
        ExpressionAttributeValues={":m": {"S": "1"}},
    )["Items"]
    assert [i["subject_id"]["S"] for i in erased] == ["a-1"]
    assert stored(aws, "a-1") == DENIED


def test_a_late_update_cannot_bring_an_erased_subject_back(aws: Any, consent: Post) -> None:
    consent(
        {
            "action": "erase",
            "subject_id": "a-1",
            "event_id": "x",
            "event_time": "2026-01-03T00:00:00Z",
        }
    )
    status, _, body = consent(update(t="2026-01-04T00:00:00Z", event_id="late", purposes=GRANTED))
    assert status == 200 and body["applied"] is False and body["reason"] == "subject_erased"
    assert stored(aws, "a-1") == DENIED and history(aws, "a-1") == []


def test_erasing_twice_keeps_the_first_erasure_time_and_adds_a_receipt(
    aws: Any, consent: Post
) -> None:
    erase = {"action": "erase", "subject_id": "a-1", "event_time": "2026-01-03T00:00:00Z"}
    consent({**erase, "event_id": "x-1"})
    first = ConsentWriter(aws.consent_table).state("a-1")
    assert consent({**erase, "event_id": "x-2"})[2]["applied"] is True
    writer = ConsentWriter(aws.consent_table)
    assert writer.state("a-1") == first
    assert [r["event_id"] for r in writer.receipts("a-1")] == ["x-1", "x-2"]


def test_a_replayed_webhook_id_answers_401_and_changes_nothing(aws: Any, consent: Post) -> None:
    consent(update(event_id="e-1", purposes=DENIED), msg_id="msg_same")
    status, _, body = consent(
        update(event_id="e-9", t="2026-05-01T00:00:00Z", purposes=GRANTED), msg_id="msg_same"
    )
    assert status == 401 and body["error"]["field"] == "webhook-id"
    assert stored(aws, "a-1") == DENIED and len(history(aws, "a-1")) == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sign_with": None},
        {"sign_with": "whsec_" + base64.b64encode(b"someone-elses-secret-0000000000").decode()},
        {"ts_offset": -400},
        {"ts_offset": 400},
        {"sign_with": None, "headers": {"authorization": "Bearer wrong-token-0000000000"}},
    ],
)
def test_unsigned_missigned_or_stale_requests_answer_401_and_change_nothing(
    aws: Any, consent: Post, kwargs: dict[str, Any]
) -> None:
    status, _, body = consent(update(), **kwargs)
    assert status == 401 and body["error"]["code"] == "unauthorized"
    assert stored(aws, "a-1") is None


@pytest.mark.parametrize(
    ("payload", "raw", "status", "field"),
    [
        (None, b"{not json", 400, "body"),
        (None, b"", 400, "body"),
        (
            update(
                purposes={"personalization": "granted", "measurement": "granted", "ads": "granted"}
            ),
            None,
            400,
            "purposes.ads",
        ),
        (
            update(purposes={"personalization": "sure", "measurement": "granted"}),
            None,
            400,
            "purposes.personalization",
        ),
        ({k: v for k, v in update().items() if k != "subject_id"}, None, 400, "subject_id"),
        (update(t="2999-01-01T00:00:00Z"), None, 400, "event_time"),
        (None, b'{"x": "' + b"a" * 300_000 + b'"}', 413, "body"),
    ],
)
def test_bad_input_answers_400_or_413_naming_the_field(
    aws: Any, consent: Post, payload: Any, raw: bytes | None, status: int, field: str
) -> None:
    got_status, _, body = consent(payload, raw=raw)
    assert (got_status, body["error"]["field"]) == (status, field)
    assert stored(aws, "a-1") is None


def test_other_methods_are_refused(aws: Any, consent: Post) -> None:
    handler = load_handler("consent_update")
    assert invoke("consent_update", update(), method="GET", handler=handler)[0] == 405


def test_didomi_authenticates_with_its_bearer_token(aws: Any, consent: Post) -> None:
    headers = {"authorization": f"Bearer {DIDOMI_TOKEN}"}
    status, _, body = consent(sample("didomi"), headers=headers, sign_with=None)
    assert status == 200 and body["source"] == "didomi" and body["summary"]["applied"] == 2
    assert stored(aws, "organization_user_id") == GRANTED == stored(aws, "didomi_user_id")


def test_usercentrics_authenticates_with_basic_auth(aws: Any, consent: Post) -> None:
    headers = {"authorization": "Basic " + base64.b64encode(UC_USER_PASS.encode()).decode()}
    status, _, body = consent(sample("usercentrics"), headers=headers, sign_with=None)
    assert status == 200 and body["source"] == "usercentrics" and body["applied"] is True
    subject = sample("usercentrics")["controller_id"]
    assert stored(aws, subject) == DENIED
    assert history(aws, subject)[0]["consent_string"].startswith("CQP6E8")  # proof of consent


def test_when_the_store_is_down_the_answer_is_503_to_retry(aws: Any, consent: Post) -> None:
    ddb = client("dynamodb")
    ddb.delete_table(TableName=aws.consent_table)
    status, headers, body = consent(update(), msg_id="msg_retry")
    assert status == 503 and headers["retry-after"] and body["error"]["code"] == "unavailable"


transitions = st.lists(
    st.tuples(
        st.integers(0, 3), st.sampled_from(["a", "b"]), st.sampled_from(["granted", "denied"])
    ),
    min_size=1,
    max_size=5,
)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(transitions)
def test_whatever_order_updates_arrive_in_the_newest_is_stored_and_a_tie_denies(
    aws: Any, consent: Post, arrivals: list
) -> None:
    subject = f"p-{uuid.uuid4().hex}"
    for hour, event_id, value in arrivals:
        consent(
            update(
                subject=subject,
                t=f"2026-01-01T0{hour}:00:00Z",
                event_id=event_id,
                purposes={"personalization": value, "measurement": value},
            )
        )
    last = max(hour for hour, _, _ in arrivals)  # a tie at the last hour goes to the denial
    value = min(value for hour, _, value in arrivals if hour == last)  # "denied" < "granted"
    assert stored(aws, subject) == {"personalization": value, "measurement": value}
    assert len(history(aws, subject)) == len(arrivals)


def test_consent_show_prints_the_state_in_force_and_every_change(
    aws: Any, consent: Post, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from earnest_cli import consent_cmd

    consent(update(event_id="e-1", jurisdiction="DE", consent_string="1YNN"))
    consent(update(event_id="e-0", t="2026-01-01T09:00:00Z", jurisdiction="DE", purposes=DENIED))
    assert consent_cmd.run(argparse.Namespace(subject="a-1", json=False)) == 0
    out = capsys.readouterr().out
    in_force = "measurement=granted personalization=granted"
    assert f"in force (most restrictive of all regulations): {in_force}" in out
    assert "gdpr" in out and "history (2 change(s)" in out
    assert "NOT applied (older_than_stored)" in out and "consent string: 1YNN" in out

    assert consent_cmd.run(argparse.Namespace(subject="a-1", json=True)) == 0
    report = orjson.loads(capsys.readouterr().out)
    assert [h["event_id"] for h in report["history"]] == ["e-1", "e-0"]

    consent(
        {
            "action": "erase",
            "subject_id": "a-1",
            "event_id": "x",
            "event_time": "2026-01-03T00:00:00Z",
        }
    )
    assert consent_cmd.run(argparse.Namespace(subject="a-1", json=False)) == 0
    out = capsys.readouterr().out
    assert "ERASED" in out and "history (0 change(s)" in out and "deleted 2 item(s)" in out
    assert consent_cmd.run(argparse.Namespace(subject="nobody", json=False)) == 1


def test_in_aws_the_secrets_come_from_ssm_parameters(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client("ssm").put_parameter(
        Name="/earnest/consent/webhook-secrets", Value=SECRET, Type="SecureString"
    )
    monkeypatch.delenv("CONSENT_WEBHOOK_SECRETS", raising=False)
    monkeypatch.setenv("CONSENT_WEBHOOK_SECRETS_PARAM", "/earnest/consent/webhook-secrets")
    monkeypatch.setenv("CONSENT_DIDOMI_TOKENS_PARAM", "/earnest/consent/didomi-tokens")  # absent
    handler = load_handler("consent_update")
    raw = orjson.dumps(update())
    ts, msg_id = int(time.time()), "msg_ssm"
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(parse_secrets(SECRET)[0], msg_id, ts, raw),
    }
    status, _, body = invoke("consent_update", None, headers, raw=raw, handler=handler)
    assert status == 200 and body["applied"] is True


def test_a_webhook_answered_503_by_a_failed_write_is_retried_to_success(
    aws: Any, consent: Post
) -> None:
    """The CMP's retry (same webhook-id, fresh signature) must not be refused as a replay."""
    from tests.builders.faults import Hung

    hung = Hung(writer_client(), "TransactWriteItems")
    status, _, body = consent(update(purposes=DENIED), msg_id="msg_withdrawal")
    hung.heal()
    assert status == 503 and body["error"]["code"] == "unavailable"
    # the store's fault, named as one (a timed-out transaction was once read as a bug)
    assert body["error"]["message"].startswith("the consent store cannot be written")
    assert stored(aws, "a-1") is None
    status, _, body = consent(update(purposes=DENIED), msg_id="msg_withdrawal")
    assert status == 200 and body["applied"] is True
    assert stored(aws, "a-1") == DENIED
    status, _, body = consent(update(purposes=DENIED), msg_id="msg_withdrawal")
    assert status == 401 and body["error"]["field"] == "webhook-id"  # now it is a replay


def test_a_webhook_whose_claim_was_written_but_whose_answer_was_lost_is_retried_to_success(
    aws: Any, consent: Post
) -> None:
    """The webhook-id's claim reached DynamoDB, its answer did not: the request is a 503, and
    the CMP's retry of the same body (same id, fresh signature) is stored, not a replay."""
    from tests.builders.faults import Lost

    lost = Lost(writer_client(), "PutItem")
    status, _, body = consent(update(purposes=DENIED), msg_id="msg_lost")
    assert lost.calls == 1 and status == 503 and body["error"]["code"] == "unavailable"
    assert stored(aws, "a-1") is None
    status, _, body = consent(update(purposes=DENIED), msg_id="msg_lost")
    assert status == 200 and body["applied"] is True
    assert stored(aws, "a-1") == DENIED
    # Once stored, the same id is a replay
    status, _, body = consent(update(purposes=DENIED), msg_id="msg_lost")
    assert status == 401 and body["error"]["field"] == "webhook-id"


def test_another_body_under_a_claimed_webhook_id_is_a_replay(aws: Any, consent: Post) -> None:
    from tests.builders.faults import Lost

    Lost(writer_client(), "PutItem")
    status, _, _ = consent(update(purposes=DENIED), msg_id="msg_other")
    assert status == 503
    status, _, body = consent(update(purposes=GRANTED), msg_id="msg_other")
    assert status == 401 and body["error"]["field"] == "webhook-id"
    assert stored(aws, "a-1") is None


def test_a_repeated_key_in_a_consent_payload_is_a_400_naming_it(aws: Any, consent: Post) -> None:
    raw = (
        b'{"subject_id": "a-1", "event_id": "e-1", "event_time": "2026-01-01T10:00:00Z",'
        b' "source": "test-cmp",'
        b' "purposes": {"personalization": "denied", "personalization": "granted"}}'
    )
    status, _, body = consent(None, raw=raw)
    assert status == 400 and body["error"]["field"] == "personalization"
    assert stored(aws, "a-1") is None


def test_every_outcome_is_counted_in_one_metrics_line(
    aws: Any, consent: Post, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    batch = {
        "updates": [
            update(event_id="m-1", t="2026-01-01T10:00:00Z", purposes=DENIED),
            update(event_id="m-0", t="2026-01-01T09:00:00Z", purposes=GRANTED),
            {"subject_id": "a-1"},
        ]
    }
    assert consent(batch)[0] == 200
    lines = [orjson.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' in x]
    (emf,) = [m for m in lines if "consent_first_for_regulation" in m]
    assert emf["service"] == "consent-update"
    assert (emf["consent_first_for_regulation"], emf["consent_older_than_stored"]) == (1, 1)
    assert emf["consent_refused_invalid_request"] == 1


def test_a_hung_consent_table_answers_503_within_seconds_not_minutes(
    aws: Any, consent: Post, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 18: /consent took about 6 s to answer 503 with DynamoDB hung (three patient
    attempts). One short attempt per call now; bench/bench_faults.py prints the figure,
    this only catches the old waits coming back."""
    from earnest_aws.clients import reset
    from tests.builders.faults import silent_server

    with silent_server() as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        reset()
        handler = load_handler("consent_update")  # its clients, pointed at the silent one
        started = time.monotonic()
        status, headers, _ = consent(update(), handler=handler)
        waited = time.monotonic() - started
    reset()
    assert status == 503 and headers["retry-after"]
    assert waited < 3.0
