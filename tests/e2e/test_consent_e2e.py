"""Consent is in force at once: over real HTTP on the local stack, a CMP's withdrawal
(or the request's own, or Sec-GPC) turns the very next decision into the default."""

from __future__ import annotations

import base64
import json
import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from earnest_cli.local_stack import LOCAL_ENV
from tests.builders.stack import Stack, post, send_consent

HIKING_DEFAULT = {
    "headline": "New season, new trails",
    "image": "hero/default.avif",
    "cta": "Shop now",
}


def now_iso(ago: timedelta = timedelta(0)) -> str:
    moment = datetime.now(UTC) - ago
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def consent_update(
    subject: str, personalization: str, ago: timedelta = timedelta(0)
) -> dict[str, Any]:
    return {
        "subject_id": subject,
        "event_id": f"e-{uuid.uuid4().hex}",
        "event_time": now_iso(ago),
        "source": "e2e-cmp",
        "jurisdiction": "DE",
        "purposes": {"personalization": personalization, "measurement": "granted"},
    }


def decide(
    stack: Stack,
    subject: str,
    consent: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        # A signed-in visitor: the hiking audience reads profile attributes.
        "visitor": {"anonymous_id": subject, "user_id": f"u-{subject}"},
        "placements": ["home-hero"],
        "context": {"country": "US", "device": "desktop"},
        "attributes": {"last_category": "hiking"},
    }
    if consent is not None:
        body["consent"] = consent
    status, _, answer = post(f"{stack.api_url}/decide", json.dumps(body).encode(), headers)
    assert status == 200, answer
    decision: dict[str, Any] = answer["decisions"]["home-hero"]
    return decision


def personalize(stack: Stack, prefix: str) -> str:
    """A visitor who consented and is personalized (not one of the holdouts)."""
    for i in range(60):
        subject = f"{prefix}-{i}"
        status, answer = send_consent(stack, consent_update(subject, "granted"))
        assert status == 200 and answer["applied"] is True, answer
        if decide(stack, subject)["reason"] == "personalized":
            return subject
    raise AssertionError("no personalized visitor among 60: check the holdouts")


@pytest.fixture(scope="module")
def personalized(pushed: Stack) -> tuple[Stack, str]:
    """One consented, personalized visitor the module's tests share: none changes its
    consent (a test that does makes a visitor of its own), whatever order they run in."""
    return pushed, personalize(pushed, "a-consent-e2e")


def test_without_stored_consent_the_default_is_served(pushed: Stack) -> None:
    d = decide(pushed, f"a-{uuid.uuid4().hex}")  # the local stack runs the opt-in regime
    assert (d["experience"], d["reason"], d["content"]) == (
        "hiking-hero",
        "no_consent",
        HIKING_DEFAULT,
    )


def test_a_request_carrying_a_withdrawal_serves_the_default(
    personalized: tuple[Stack, str],
) -> None:
    stack, subject = personalized
    d = decide(stack, subject, consent={"purposes": {"personalization": "denied"}})
    assert (d["experience"], d["reason"], d["content"]) == (
        "hiking-hero",
        "no_consent",
        HIKING_DEFAULT,
    )


def test_sec_gpc_serves_the_default(personalized: tuple[Stack, str]) -> None:
    stack, subject = personalized
    d = decide(stack, subject, headers={"sec-gpc": "1"})
    assert (d["reason"], d["content"]) == ("no_consent", HIKING_DEFAULT)
    assert decide(stack, subject)["reason"] == "personalized"  # GPC held only for that request


def test_a_cmp_withdrawal_is_in_force_on_the_very_next_decision(pushed: Stack) -> None:
    stack = pushed
    subject = personalize(stack, f"a-withdrawn-{uuid.uuid4().hex}")  # its own: it withdraws
    assert decide(stack, subject)["reason"] == "personalized"
    status, answer = send_consent(stack, consent_update(subject, "denied"))
    assert status == 200 and answer["applied"] is True
    d = decide(stack, subject)
    assert (d["experience"], d["reason"], d["content"]) == (
        "hiking-hero",
        "no_consent",
        HIKING_DEFAULT,
    )


def test_a_didomi_withdrawal_with_its_bearer_token_is_in_force_at_once(
    personalized: tuple[Stack, str],
) -> None:
    stack, _ = personalized
    subject = f"a-didomi-{uuid.uuid4().hex}"
    user = {
        "id": subject,
        "updated_at": now_iso(),
        "consents": {
            "purposes": [
                {"id": p, "enabled": True}
                for p in ("cookies", "create_content_profile", "select_personalized_content")
            ]
        },
    }
    bearer = {"authorization": f"Bearer {LOCAL_ENV['CONSENT_DIDOMI_TOKENS']}"}
    event = {
        "type": "user.updated",
        "parameters": {"source": {"id": "d-1", "created_at": now_iso()}, "new_entity": user},
    }
    assert send_consent(stack, event, bearer)[0] == 200
    user["consents"]["purposes"][2]["enabled"] = False  # select_personalized_content withdrawn
    event["parameters"]["source"] = {"id": "d-2", "created_at": now_iso()}
    status, answer = send_consent(stack, event, bearer)
    assert status == 200 and answer["results"][0]["applied"] is True
    assert decide(stack, subject)["reason"] == "no_consent"


def test_unsigned_consent_over_http_is_401(pushed: Stack) -> None:
    raw = json.dumps(consent_update("a-x", "granted")).encode()
    status, _, answer = post(
        f"{pushed.api_url}/consent",
        raw,
        {"authorization": "Basic " + base64.b64encode(b"usercentrics:wrong-password-000").decode()},
    )
    assert status == 401 and answer["error"]["code"] == "unauthorized"


def test_racing_consent_updates_over_http_all_succeed_and_the_newest_stays(
    pushed: Stack,
) -> None:
    # Given two updates per subject, an older and a newer one, sent at once in random order
    run = uuid.uuid4().hex[:8]
    newest = {f"a-race-{run}-{i}": ("denied" if i % 2 else "granted") for i in range(8)}
    older = {"denied": "granted", "granted": "denied"}
    updates = [consent_update(s, p) for s, p in newest.items()]
    updates += [consent_update(s, older[p], timedelta(minutes=1)) for s, p in newest.items()]
    random.Random(13).shuffle(updates)
    # When they race through the local stack's /consent
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda u: send_consent(pushed, u), updates))
    # Then every one is acknowledged, and each subject's decision follows its newest update
    assert [status for status, _ in answers] == [200] * len(updates), answers
    for subject, personalization in newest.items():
        reason = decide(pushed, subject)["reason"]
        assert (reason == "no_consent") == (personalization == "denied"), (subject, reason)
