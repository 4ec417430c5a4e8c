"""No raw visitor, user or subject id reaches a log (issue 12, "must hold" 8).

Given the local stack as a user starts it, every route is driven with distinctive ids,
on the happy path and on every kind of refusal that names a field; then everything the
functions have logged so far in this session (the stack's output file, where `earnest
serve` sends them as Lambda sends them to CloudWatch) is scanned for those ids.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from tests.builders.stack import Stack, post, send_consent

pytestmark = pytest.mark.e2e


def _logs(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, str]:
    """Every log the session's local stacks wrote: their consoles and the functions' logs."""
    found = sorted(tmp_path_factory.getbasetemp().glob("*stack*/*.log"))
    assert found, "no local stack has written a log in this session"
    return {path: path.read_text() for path in found}


def test_no_raw_id_sent_to_any_route_reaches_the_functions_logs(
    pushed: Stack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tag = uuid.uuid4().hex[:12]
    anonymous, user, subject = f"anon-{tag}", f"user-{tag}", f"subject-{tag}"
    now = int(time.time())
    before = {path: len(text) for path, text in _logs(tmp_path_factory).items()}
    granted = {"personalization": "granted", "measurement": "granted"}
    visitor = {"anonymous_id": anonymous, "user_id": user, "identity_confidence": 0.95}

    # When every route is used with them, well-formed and not
    status, _, answer = post(
        f"{pushed.api_url}/decide",
        json.dumps(
            {
                "visitor": visitor,
                "placements": ["home-hero", "pdp-recs"],
                "context": {"country": "DE", "device": "mobile"},
                "consent": {"purposes": granted},
            }
        ).encode(),
    )
    assert status == 200
    token = next(d["token"] for d in answer["decisions"].values() if d["token"])
    for bad in (
        {"visitor": {**visitor, "identity_confidence": 7}, "placements": ["home-hero"]},
        {"visitor": {**visitor, "nickname": anonymous}, "placements": ["home-hero"]},
        {"visitor": visitor, "placements": [anonymous] * 2},
    ):
        assert post(f"{pushed.api_url}/decide", json.dumps(bad).encode())[0] == 400
    events = {
        "consent": {"purposes": granted},
        "events": [
            {"type": "exposure", "event_id": f"e-{tag}", "token": token, "ts": now},
            {
                "type": "conversion",
                "event_id": f"c-{tag}",
                "unit_id": anonymous,
                "user_id": user,
                "name": "purchase",
                "value": 12.5,
                "currency": "EUR",
                "ts": now,
            },
            {"type": "conversion", "event_id": f"x-{tag}", "unit_id": anonymous, "ts": now},
        ],
    }
    status, _, counted = post(f"{pushed.api_url}/events", json.dumps(events).encode())
    assert (status, counted["accepted"], counted["rejected"]) == (202, 2, 1)
    consent = {"subject_id": subject, "event_id": f"ev-{tag}", "event_time": now}
    assert send_consent(pushed, {**consent, "purposes": granted})[0] == 200
    assert send_consent(pushed, {**consent, "purposes": {"personalization": "maybe"}})[0] == 400
    assert send_consent(pushed, {**consent, "action": "erase"})[0] == 200
    assert send_consent(pushed, {**consent, "purposes": granted}, headers={})[0] == 401

    # Then the functions logged the traffic, and none of the ids in it
    logs = _logs(tmp_path_factory)
    text = "\n".join(logs.values())
    # the scan sees what the functions wrote for this traffic
    during = "\n".join(t[before.get(path, 0) :] for path, t in logs.items())
    assert '"message":"events received"' in during and '"outcomes":["erased"]' in during
    found = [raw for raw in (anonymous, user, subject, tag) if raw in text]
    assert found == []
