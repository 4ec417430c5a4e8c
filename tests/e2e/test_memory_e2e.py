"""Frequency caps, dismissals and erasure over the local stack, with a known truth.

The stack runs in this process (`local_stack`, as `earnest serve` runs it: moto's server
and the real handlers behind HTTP on loopback), so the test moves decide's and
record-exposure's clocks (their `CLOCK`) instead of sleeping: a capped experience stops at
exactly its cap and serves again when the window has passed; a dismissal holds from the
next decide; a dismissal with another unit's token or an expired token is refused; and an
erased subject's memory is gone.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from earnest.memory import DAY_MS
from earnest_cli.local_stack import LOCAL_ENV, local_stack
from tests.builders.experiences import experience
from tests.builders.stack import Stack, earnest, post, send_consent

CONSENTED = {"purposes": {"personalization": "granted", "measurement": "granted"}}
CAP, WINDOW_DAYS = 3, 2


@dataclass
class Clock:
    """decide's and record-exposure's clock, moved by the test."""

    at: float

    def __call__(self) -> float:
        return self.at

    def move_days(self, days: float) -> None:
        self.at += days * DAY_MS / 1000


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Clock]]:
    saved = dict(os.environ)
    os.environ.update({k: v for k, v in LOCAL_ENV.items() if k not in os.environ})
    log = (tmp_path_factory.mktemp("memory-stack") / "functions.log").open("w")
    try:
        with local_stack(api_port=0, aws_port=0, function_log=log) as running:
            stack = Stack(
                running.api_url,
                running.aws_url,
                {**LOCAL_ENV, "AWS_ENDPOINT_URL": running.aws_url},
            )
            clock = Clock(time.time())
            for name in ("decide", "record_exposure"):
                sys.modules[f"earnest_function_{name}"].CLOCK = clock  # type: ignore[attr-defined]
            folder = tmp_path_factory.mktemp("memory-experiences")
            _push(stack, folder)
            yield stack, clock
    finally:
        log.close()
        os.environ.clear()
        os.environ.update(saved)
        from earnest_aws.clients import reset
        from earnest_aws.settings import settings

        reset()
        settings.cache_clear()


def _push(stack: Stack, folder: Path) -> None:
    personal = {"audience": {}, "requires_consent": ["personalization"], "holdout": 0.2}
    docs = [
        experience(
            id="capped-banner",
            placement="promo",
            frequency_cap={"max_exposures": CAP, "per_days": WINDOW_DAYS},
            **personal,
        ),
        experience(id="closable-offer", placement="offer", dismiss_for_days=7, **personal),
    ]
    (folder / "memory.json").write_text(json.dumps(docs))
    result = earnest("push", str(folder), "--actor", "e2e", "--force", env=stack.env)
    assert result.returncode == 0, result.stderr


def _decide(stack: Stack, unit: str, placement: str, wait_for_rules: bool = False) -> Any:
    body = {"visitor": {"anonymous_id": unit}, "placements": [placement], "consent": CONSENTED}
    deadline = time.monotonic() + 30
    while True:
        status, _, answer = post(f"{stack.api_url}/decide", json.dumps(body).encode())
        assert status == 200, answer
        decision = answer["decisions"][placement]
        if not wait_for_rules or decision["reason"] != "unknown_placement":
            return decision
        assert time.monotonic() < deadline, "the pushed rules never reached decide"
        time.sleep(0.2)


def _events(stack: Stack, clock: Clock, *events: dict[str, Any]) -> Any:
    stamped = [{"event_id": uuid.uuid4().hex, "ts": int(clock() * 1000), **e} for e in events]
    body = {"events": stamped, "consent": CONSENTED}
    status, _, answer = post(f"{stack.api_url}/events", json.dumps(body).encode())
    assert status == 202, answer
    return answer


def _show(stack: Stack, clock: Clock, unit: str, placement: str) -> Any:
    """One page view: decide, then the exposure of what it decided."""
    decision = _decide(stack, unit, placement, wait_for_rules=True)
    if decision["reason"] in ("personalized", "holdout", "global_holdout"):
        assert _events(stack, clock, {"type": "exposure", "token": decision["token"]})["accepted"]
    return decision


def test_a_capped_experience_stops_at_exactly_the_cap_and_serves_again_after_the_window(
    served: tuple[Stack, Clock],
) -> None:
    stack, clock = served
    unit = "a-capped-1"
    reasons = [_show(stack, clock, unit, "promo")["reason"] for _ in range(CAP + 2)]
    assert "frequency_capped" not in reasons[:CAP]  # every arm, the holdouts too
    assert reasons[CAP:] == ["frequency_capped", "frequency_capped"]
    capped = _decide(stack, unit, "promo")
    assert (capped["experience"], capped["variant"]) == ("capped-banner", None)
    clock.move_days(WINDOW_DAYS - 1)
    assert _decide(stack, unit, "promo")["reason"] == "frequency_capped"  # still in the window
    clock.move_days(1)
    assert _decide(stack, unit, "promo")["reason"] != "frequency_capped"  # the window passed


def test_a_dismissal_holds_from_the_next_decide(served: tuple[Stack, Clock]) -> None:
    stack, clock = served
    shown = _decide(stack, "a-closer", "offer", wait_for_rules=True)
    assert shown["reason"] != "dismissed"
    answer = _events(stack, clock, {"type": "dismissal", "token": shown["token"]})
    assert (answer["accepted"], answer["rejected"]) == (1, 0)
    assert _decide(stack, "a-closer", "offer")["reason"] == "dismissed"
    clock.move_days(7)
    assert _decide(stack, "a-closer", "offer")["reason"] != "dismissed"


def test_a_dismissal_with_another_units_token_or_an_expired_one_is_refused(
    served: tuple[Stack, Clock],
) -> None:
    stack, clock = served
    theirs = _decide(stack, "a-someone-else", "offer", wait_for_rules=True)["token"]
    answer = _events(stack, clock, {"type": "dismissal", "token": theirs, "unit_id": "a-victim"})
    assert [r["reason"] for r in answer["rejections"]] == ["unit_mismatch"]
    old = _decide(stack, "a-victim", "offer")["token"]
    clock.move_days(1.01)  # past the tokens' 24 h
    answer = _events(stack, clock, {"type": "dismissal", "token": old})
    assert [r["reason"] for r in answer["rejections"]] == ["expired_token"]
    assert _decide(stack, "a-victim", "offer")["reason"] != "dismissed"
    assert _decide(stack, "a-someone-else", "offer")["reason"] != "dismissed"


def test_an_erased_subjects_memory_is_gone(served: tuple[Stack, Clock]) -> None:
    import boto3

    from earnest_aws.settings import settings

    stack, clock = served
    unit = "a-to-erase"
    for _ in range(CAP):
        _show(stack, clock, unit, "promo")
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=stack.aws_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    table = settings().consent_table
    key = {"subject_id": {"S": unit}, "record": {"S": "memory"}}
    assert "Item" in dynamodb.get_item(TableName=table, Key=key)
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    erasure = {"action": "erase", "subject_id": unit, "event_id": "erase-1", "event_time": now}
    assert send_consent(stack, erasure)[0] == 200
    assert "Item" not in dynamodb.get_item(TableName=table, Key=key)
    assert _decide(stack, unit, "promo")["reason"] == "no_consent"  # the tombstone denies
