"""A guardrail's write under a throttled table, against moto: applied once, or the run fails
loudly as Throttled; never "raced another change" and never dropped in silence.

The throttling is DynamoDB's own response to a cancelled transaction (HTTP 400,
TransactionCanceledException, reasons per item), injected under botocore's parser
(tests/builders/throttling.py).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from earnest.errors import ConcurrentModification, Throttled, Unavailable
from earnest.experiences.actions import PAUSE_VARIANT, Action
from earnest_aws.clients import client
from earnest_aws.experiences_store import ExperiencesStore
from earnest_aws.nightly_report import apply_actions
from tests.builders.experiences import two_variants
from tests.builders.throttling import CancelledForCapacity

DAY = date(2026, 11, 20)
LOSER = Action(
    "mixed",
    PAUSE_VARIANT,
    "loses_to_default",
    "b",
    "loses_to_default: variant b loses to the default in the report of 2026-11-20",
    {"report_date": DAY.isoformat(), "relative_lift": -0.6},
)


class Clock:
    """The store's clock and sleep: time passes only when the store waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(aws: Any, clock: Clock) -> ExperiencesStore:
    s = ExperiencesStore(
        aws.experiences_table, throttle_seconds=5.0, sleep=clock.sleep, clock=lambda: clock.now
    )
    s.save(two_variants("mixed", "pdp-recs"), None, actor="alice", action="create")
    return s


def serving(store: ExperiencesStore) -> list[str]:
    doc = next(d for d in store.load_rules().experiences if d["id"] == "mixed")
    return [v["id"] for v in doc["variants"] if not v.get("paused")]


def test_a_throttled_guardrail_write_is_retried_with_backoff_and_applied_once(
    store: ExperiencesStore, clock: Clock
) -> None:
    # Given DynamoDB cancels the first two transactions for throttling
    throttled = CancelledForCapacity(client("dynamodb"), failures=2)
    logged: list[str] = []
    # When the nightly run applies a pause
    applied, already = apply_actions(store, DAY, [LOSER], lambda name, _: logged.append(name))
    # Then it lands on the third attempt, after waits that grow, and once
    assert throttled.attempts == 3
    assert [a["experience"] for a in applied] == ["mixed"] and already == []
    assert len(clock.waits) == 2 and clock.waits[1] > clock.waits[0] > 0
    assert serving(store) == ["a"]
    assert [e["action"] for e in store.audit("mixed")] == ["create", "pause_variant"]
    # and nothing says it raced another change
    assert logged == ["guardrail applied"]


def test_throttled_past_the_deadline_the_run_fails_loudly_and_a_rerun_applies_once(
    store: ExperiencesStore, clock: Clock
) -> None:
    # Given DynamoDB keeps throttling
    throttled = CancelledForCapacity(client("dynamodb"))
    logged: list[str] = []
    # When the nightly run applies a pause, it fails with the typed error, naming why
    with pytest.raises(Throttled) as failed:
        apply_actions(store, DAY, [LOSER], lambda name, _: logged.append(name))
    assert isinstance(failed.value, Unavailable)  # what every caller already retries
    assert "experience 'mixed'" in failed.value.message
    assert "ThrottlingError" in failed.value.message and "5 s" in failed.value.message
    assert not isinstance(failed.value, ConcurrentModification)
    # having retried with backoff up to the deadline, and nothing logged as a race
    assert throttled.attempts > 3 and clock.now == pytest.approx(5.0)
    assert clock.waits == sorted(clock.waits[:-1]) + clock.waits[-1:]  # growing, then the rest
    assert "guardrail raced another change; re-reading" not in logged
    # and nothing was written: the variant still serves
    assert serving(store) == ["a", "b"]
    assert len(store.audit("mixed")) == 1
    # When the table recovers and the run is retried, the pause is applied once
    throttled.heal()
    applied, _ = apply_actions(store, DAY, [LOSER])
    assert len(applied) == 1 and serving(store) == ["a"]
    _, already = apply_actions(store, DAY, [LOSER])
    assert len(already) == 1 and len(store.audit("mixed")) == 2


@pytest.mark.parametrize("code", ["TransactionConflict", "ProvisionedThroughputExceeded"])
def test_a_transaction_conflict_or_exceeded_throughput_is_retried_too(
    store: ExperiencesStore, code: str
) -> None:
    reason = {"Code": code, "Message": f"{code} on the item"}
    throttled = CancelledForCapacity(client("dynamodb"), failures=1, reason=reason)
    applied, _ = apply_actions(store, DAY, [LOSER])
    assert throttled.attempts == 2 and len(applied) == 1


def test_a_lost_race_is_still_a_concurrent_modification(store: ExperiencesStore) -> None:
    # Given a writer that read version 1 while someone else wrote version 2
    stale = store.get("mixed")
    assert stale is not None
    store.save({**stale.authored, "priority": 3}, 1, actor="bob", action="update")
    # When it writes over version 1, DynamoDB's ConditionalCheckFailed is a lost race
    with pytest.raises(ConcurrentModification, match="experience 'mixed' changed since version 1"):
        store.save_ops(stale, {}, actor="x", action="resume", reason="x")
