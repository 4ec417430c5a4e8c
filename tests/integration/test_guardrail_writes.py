"""A guardrail's write under a throttled table, against moto: applied once, or the run fails
loudly (GuardrailsPending, caused by Throttled); never "raced another change", never dropped
in silence.

The throttling is DynamoDB's own response to a cancelled transaction (HTTP 400,
TransactionCanceledException, reasons per item), injected under botocore's parser
(tests/builders/throttling.py).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from earnest.errors import ConcurrentModification, GuardrailsPending, Throttled, Unavailable
from earnest.experiences.actions import PAUSE_VARIANT, Action
from earnest.experiences.operations import apply_guardrails
from earnest_aws.clients import client
from earnest_aws.experiences_store import ExperiencesStore
from tests.builders.experiences import two_variants
from tests.builders.faults import Clock
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


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(aws: Any, clock: Clock) -> ExperiencesStore:
    s = ExperiencesStore(
        aws.experiences_table, throttle_seconds=5.0, sleep=clock.sleep, clock=clock
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
    applied, already = apply_guardrails(store, DAY, [LOSER], lambda name, _: logged.append(name))
    # Then it lands on the third attempt, after waits that grow, and once
    assert throttled.attempts == 3
    assert [a["experience"] for a in applied] == ["mixed"] and already == []
    assert len(clock.sleeps) == 2 and clock.sleeps[1] > clock.sleeps[0] > 0
    assert serving(store) == ["a"]
    assert [e["action"] for e in store.audit("mixed")] == ["create", "pause_variant"]
    # and nothing says it raced another change
    assert logged == ["guardrail applied"]


def test_throttled_past_the_deadline_the_run_fails_loudly_and_a_rerun_applies_once(
    store: ExperiencesStore, clock: Clock
) -> None:
    # Given two experiences to act on, and DynamoDB throttling every write after the first
    store.save(two_variants("other", "home-hero"), None, actor="alice", action="create")
    first = Action.from_dict({**LOSER.as_dict(), "experience": "first"})
    store.save(two_variants("first", "footer"), None, actor="alice", action="create")
    throttled = CancelledForCapacity(client("dynamodb"), through=1)  # the first write goes
    logged: list[str] = []
    # When the nightly run applies its pauses, it fails with the typed error, naming why
    with pytest.raises(GuardrailsPending) as failed:
        apply_guardrails(store, DAY, [first, LOSER], lambda name, _: logged.append(name))
    pending = failed.value
    assert isinstance(pending, Unavailable)  # what the handler lets fail: retry, DLQ, alarm
    assert isinstance(pending.__cause__, Throttled)
    assert not isinstance(pending.__cause__, ConcurrentModification)
    assert "guardrail actions not applied for mixed" in pending.message
    assert "ThrottlingError" in pending.message and "after 5 s of retries" in pending.message
    # saying what was applied and what is pending
    assert [a["experience"] for a in pending.applied] == ["first"]
    assert pending.pending == [{"experience": "mixed", "actions": ["pause_variant"]}]
    # having retried with backoff up to the deadline, and nothing logged as a race
    assert throttled.attempts > 3 and clock.now == pytest.approx(5.0)
    assert clock.sleeps == sorted(clock.sleeps[:-1]) + clock.sleeps[-1:]  # growing, then the rest
    assert "guardrail raced another change; re-reading" not in logged
    # and nothing of the pending one was written: the variant still serves
    assert serving(store) == ["a", "b"]
    assert len(store.audit("mixed")) == 1
    # When the table recovers and the run is retried, the pending pause is applied once
    throttled.heal()
    applied, already = apply_guardrails(store, DAY, [first, LOSER])
    assert [a["experience"] for a in applied] == ["mixed"] and len(already) == 1
    assert serving(store) == ["a"]
    _, already = apply_guardrails(store, DAY, [first, LOSER])
    assert len(already) == 2 and len(store.audit("mixed")) == 2


@pytest.mark.parametrize("code", ["TransactionConflict", "ProvisionedThroughputExceeded"])
def test_a_transaction_conflict_or_exceeded_throughput_is_retried_too(
    store: ExperiencesStore, code: str
) -> None:
    reason = {"Code": code, "Message": f"{code} on the item"}
    throttled = CancelledForCapacity(client("dynamodb"), failures=1, reason=reason)
    applied, _ = apply_guardrails(store, DAY, [LOSER])
    assert throttled.attempts == 2 and len(applied) == 1


def test_a_lost_race_is_still_a_concurrent_modification(store: ExperiencesStore) -> None:
    # Given a writer that read version 1 while someone else wrote version 2
    stale = store.get("mixed")
    assert stale is not None
    store.save({**stale.authored, "priority": 3}, 1, actor="bob", action="update")
    # When it writes over version 1, DynamoDB's ConditionalCheckFailed is a lost race
    with pytest.raises(ConcurrentModification, match="experience 'mixed' changed since version 1"):
        store.save_ops(stale, {}, actor="x", action="resume", reason="x")


def test_a_guardrail_that_loses_every_race_is_pending_not_dropped(store: ExperiencesStore) -> None:
    # Given every write of the experience loses its condition (other writers, each time)
    lost = {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}
    raced = CancelledForCapacity(client("dynamodb"), reason=lost)
    logged: list[str] = []
    # When the nightly run applies a pause, it re-reads and retries, then fails loudly
    with pytest.raises(GuardrailsPending) as failed:
        apply_guardrails(store, DAY, [LOSER], lambda name, _: logged.append(name))
    assert isinstance(failed.value.__cause__, ConcurrentModification)
    assert failed.value.pending == [{"experience": "mixed", "actions": ["pause_variant"]}]
    assert raced.attempts == 3 and logged.count("guardrail raced another change; re-reading") == 2
