"""decide's real handler against moto: rules from DynamoDB, consent read on every request."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from earnest_aws.clients import client
from earnest_aws.experiences_store import ExperiencesStore
from earnest_cli.local_stack import load_handler
from tests.builders.experiences import experience, request
from tests.builders.handlers import invoke

HIKING = experience(
    id="hiking",
    audience={"attributes.last_category": "hiking"},
    requires_consent=["personalization"],
    holdout=0.01,
)


def put_consent(settings: Any, subject: str, personalization: str) -> None:
    client("dynamodb").put_item(
        TableName=settings.consent_table,
        Item={
            "subject_id": {"S": subject},
            "record": {"S": "state"},
            "r_gdpr": {
                "M": {
                    "purposes": {
                        "M": {
                            "personalization": {"S": personalization},
                            "measurement": {"S": "granted"},
                        }
                    },
                    "event_time": {"S": "2026-11-20T10:00:00.000Z"},
                    "event_id": {"S": "e-1"},
                    "source": {"S": "test"},
                }
            },
        },
    )


@pytest.fixture
def decide(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("GLOBAL_HOLDOUT", "0")
    from earnest_aws.settings import settings

    settings.cache_clear()
    ExperiencesStore(aws.experiences_table).save(HIKING, None, actor="test", action="create")
    return load_handler("decide")


def rules_of(decide: Any) -> Any:
    return decide.__wrapped__.__globals__["RULES"]


def past_the_ttl(decide: Any) -> None:
    """The TTL has passed, and the refresh it starts runs to its end before the request is
    served (in the function it runs in the background: tests/integration/test_rules_cache)."""
    rules = rules_of(decide)
    rules._refresh_at = rules._stale_at = rules._retry_at = 0
    rules._spawn = lambda job: job()


def refresh_due(decide: Any) -> None:
    """A refresh is due (refresh ahead), the rules still within the TTL."""
    rules = rules_of(decide)
    rules._refresh_at, rules._spawn = 0, lambda job: job()


def hiker(unit: str = "a-hiker") -> dict[str, Any]:
    return request(unit, attributes={"last_category": "hiking"})


def test_a_consented_visitor_is_personalized_with_a_signed_token(aws: Any, decide: Any) -> None:
    put_consent(aws, "a-hiker", "granted")
    status, headers, body = invoke("decide", hiker(), handler=decide)
    assert status == 200 and headers["content-type"] == "application/json"
    d = body["decisions"]["home-hero"]
    assert d["reason"] == "personalized" and d["token"].startswith("v1.")
    assert body["request_id"] and body["rules_version"]


def test_each_reason_served_is_counted_as_a_cloudwatch_metric(
    aws: Any, decide: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    put_consent(aws, "a-hiker", "granted")
    capsys.readouterr()
    body = request("a-hiker", ("home-hero", "nowhere"), attributes={"last_category": "hiking"})
    invoke("decide", body, handler=decide)
    lines = [orjson.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' in x]
    assert len(lines) == 1  # one EMF line per invocation
    emf = lines[0]
    declared = {m["Name"] for m in emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert declared == {"decision_personalized", "decision_unknown_placement"}
    assert emf["decision_personalized"] == emf["decision_unknown_placement"] == 1
    assert "a-hiker" not in str(emf)  # no identifier in metrics


def test_stored_withdrawal_is_in_force_on_the_next_request(aws: Any, decide: Any) -> None:
    put_consent(aws, "a-hiker", "granted")
    assert (
        invoke("decide", hiker(), handler=decide)[2]["decisions"]["home-hero"]["reason"]
        == "personalized"
    )
    put_consent(aws, "a-hiker", "denied")
    d = invoke("decide", hiker(), handler=decide)[2]["decisions"]["home-hero"]
    assert d["reason"] == "no_consent" and d["content"] == HIKING["default"]


def test_sec_gpc_header_denies_personalization(aws: Any, decide: Any) -> None:
    put_consent(aws, "a-hiker", "granted")
    d = invoke("decide", hiker(), {"sec-gpc": "1"}, handler=decide)[2]["decisions"]["home-hero"]
    assert d["reason"] == "no_consent"


def test_the_user_ids_consent_counts_too(aws: Any, decide: Any) -> None:
    put_consent(aws, "a-hiker", "granted")
    put_consent(aws, "u-42", "denied")
    body = hiker()
    body["visitor"].update(user_id="u-42", identity_confidence=1.0)
    assert (
        invoke("decide", body, handler=decide)[2]["decisions"]["home-hero"]["reason"]
        == "no_consent"
    )


def test_an_unreadable_consent_store_fails_closed(aws: Any, decide: Any) -> None:
    put_consent(aws, "a-hiker", "granted")
    client("dynamodb").delete_table(TableName=aws.consent_table)
    d = invoke("decide", hiker(), handler=decide)[2]["decisions"]["home-hero"]
    assert d["reason"] == "no_consent"


def test_when_dynamodb_fails_the_last_good_rules_serve_until_the_ttl_then_the_defaults(
    aws: Any, decide: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_consent(aws, "a-hiker", "granted")
    assert (
        invoke("decide", hiker(), handler=decide)[2]["decisions"]["home-hero"]["reason"]
        == "personalized"
    )
    client("dynamodb").delete_table(TableName=aws.experiences_table)
    refresh_due(decide)
    d = invoke("decide", hiker(), handler=decide)[2]["decisions"]["home-hero"]
    assert d["reason"] == "personalized"  # within the TTL: the last good rules
    past_the_ttl(decide)
    d = invoke("decide", hiker(), handler=decide)[2]["decisions"]["home-hero"]
    assert (d["reason"], d["variant"]) == ("rules_unavailable", None)  # past it: the default


@pytest.mark.parametrize("idle_ttls", [0, 10])
def test_a_pause_reaches_the_first_answer_past_the_ttl_busy_or_idle(
    aws: Any, decide: Any, idle_ttls: int
) -> None:
    """Issue 18: the request that found the TTL expired was answered by the old rules, and
    after 10 TTLs idle the first decide still served a paused variant. The pause -> first
    default answer time is measured on the rules' clock: requests every 0.5 s from the
    pause, or the first one after `idle_ttls` TTLs without any."""
    store, rules = ExperiencesStore(aws.experiences_table), rules_of(decide)
    now = [0.0]
    rules._clock = lambda: now[0]
    rules.refresh()  # the rules as of 0
    put_consent(aws, "a-hiker", "granted")

    def reason() -> str:
        return str(invoke("decide", hiker(), handler=decide)[2]["decisions"]["home-hero"]["reason"])

    assert reason() == "personalized"
    stored = store.get("hiking")
    assert stored is not None
    store.save({**stored.doc, "status": "paused"}, stored.version, actor="t", action="pause")
    now[0] = idle_ttls * rules.freshness_bound
    while reason() == "personalized":
        assert now[0] <= rules.freshness_bound, "a paused variant served past the bound"
        now[0] += 0.5
    assert now[0] <= max(rules.freshness_bound, idle_ttls * rules.freshness_bound)
    assert reason() in ("no_live_experience", "rules_unavailable")


@pytest.mark.parametrize(
    ("raw", "status", "code", "field"),
    [
        (b"{not json", 400, "invalid_json", "body"),
        (b"", 400, "invalid_json", "body"),
        (
            b'{"visitor": {"anonymous_id": 5}, "placements": ["x"]}',
            400,
            "invalid_request",
            "visitor.anonymous_id",
        ),
        (
            b'{"visitor": {"anonymous_id": "a"}, "placements": ["x"], "x": ' + b"1" * 70_000 + b"}",
            413,
            "payload_too_large",
            "body",
        ),
    ],
)
def test_bad_input_answers_4xx_naming_the_field(
    aws: Any, decide: Any, raw: bytes, status: int, code: str, field: str
) -> None:
    got_status, _, body = invoke("decide", None, raw=raw, handler=decide)
    assert got_status == status
    assert body["error"]["code"] == code and body["error"]["field"] == field
    assert "Traceback" not in str(body)


def test_other_methods_are_refused(aws: Any, decide: Any) -> None:
    status, headers, _ = invoke("decide", None, method="GET", raw=b"", handler=decide)
    assert status == 405 and headers["allow"] == "POST"


def test_a_hung_consent_read_is_tried_once_and_fails_closed(
    aws: Any, decide: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.builders.faults import Hung

    put_consent(aws, "a-hiker", "granted")
    hung = Hung(decide.__wrapped__.__globals__["CONSENT"].dynamodb, "BatchGetItem")
    status, _, body = invoke("decide", hiker(), handler=decide)
    hung.heal()
    assert status == 200 and body["decisions"]["home-hero"]["reason"] == "no_consent"
    assert hung.attempts == 1  # no retries on the page's critical path
    # The log line, as the function writes it, names the request.
    formatter = decide.__wrapped__.__globals__["logger"].registered_formatter
    record = next(r for r in caplog.records if "failing closed" in r.getMessage())
    assert orjson.loads(formatter.format(record))["correlation_id"] == body["request_id"]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (
            b'{"visitor": {"anonymous_id": "a-1", "anonymous_id": "a-2"},'
            b' "placements": ["home-hero"]}',
            "anonymous_id",
        ),
        (
            b'{"visitor": {"anonymous_id": "a-1"}, "placements": ["home-hero"],'
            b' "context": {"url": ' + b"[" * 500 + b"]" * 500 + b"}}",
            "context.url",
        ),
        (
            b'{"visitor": {"anonymous_id": "a-1"}, "placements": ["home-hero"],'
            b' "attributes": {"ltv": ' + b"[" * 500 + b"]" * 500 + b"}}",
            "attributes.ltv",
        ),
    ],
)
def test_repeated_keys_and_absurd_nesting_are_400s_naming_the_field(
    aws: Any, decide: Any, raw: bytes, field: str, caplog: pytest.LogCaptureFixture
) -> None:
    status, _, body = invoke("decide", None, raw=raw, handler=decide)
    assert status == 400 and body["error"]["field"] == field and body["request_id"]
    assert not [r for r in caplog.records if r.exc_info]  # no traceback logged


def test_an_oversize_body_is_a_413_that_names_its_request(aws: Any, decide: Any) -> None:
    status, _, body = invoke("decide", None, raw=b" " * (65 * 1024), handler=decide)
    assert status == 413 and body["error"]["field"] == "body" and body["request_id"]


def test_another_method_is_a_405_that_names_its_request(aws: Any, decide: Any) -> None:
    status, headers, body = invoke("decide", hiker(), method="GET", handler=decide)
    assert status == 405 and headers["allow"] == "POST"
    assert body["error"]["code"] == "method_not_allowed" and body["request_id"]
