"""Dismissals and the units' memory at /events: authenticated by the decision's token,
refused per event, counted only where consent allows personalization, each event once."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
import pytest

from earnest.errors import Unavailable
from earnest.events.service import receive
from earnest.memory import DAY_MS, EMPTY, Memory
from tests.builders.events import (
    NOW,
    NOW_MS,
    SIGNER,
    Bucket,
    conversion,
    dismissal,
    exposure,
    token,
)

GRANTED = {"personalization": "granted", "measurement": "granted"}
MEASURE_ONLY = {"personalization": "denied", "measurement": "granted"}


class Store:
    """Consent and memory in one table, as the consent table keeps them; counts reads."""

    def __init__(self, stored: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self.stored = dict(stored or {})
        self.memory: dict[str, tuple[Memory, int]] = {}
        self.reads: list[tuple[list[str], list[str]]] = []
        self.writes = 0
        self.fail_writes = False

    def purposes_by_subject(self, subject_ids: Sequence[str]) -> Mapping[str, Mapping[str, str]]:
        self.reads.append((list(subject_ids), []))
        return {s: self.stored[s] for s in subject_ids if s in self.stored}

    def consent_and_memory(
        self, subject_ids: Sequence[str], units: Sequence[str]
    ) -> tuple[Mapping[str, Mapping[str, str]], Mapping[str, tuple[Memory, int]]]:
        self.reads.append((list(subject_ids), list(units)))
        stored = {s: self.stored[s] for s in subject_ids if s in self.stored}
        return stored, {u: self.memory[u] for u in units if u in self.memory}

    def update(
        self,
        unit: str,
        read: tuple[Memory, int] | None,
        change: Callable[[Memory], Memory | None],
        now_ms: int,
    ) -> bool:
        if self.fail_writes:
            raise Unavailable("the unit's memory cannot be written")
        memory, rev = read or (EMPTY, 0)
        changed = change(memory)
        if changed is None:
            return False
        self.writes += 1
        self.memory[unit] = (changed, rev + 1)
        return True

    def of(self, unit: str = "a-1") -> Memory:
        return self.memory.get(unit, (EMPTY, 0))[0]


def post(
    events: list[Any], store: Store, bucket: Bucket | None = None, **kw: Any
) -> dict[str, Any]:
    kw.setdefault("regime", "opt_in")
    kw.setdefault("idempotency_key", None)
    return receive(
        orjson.dumps({"events": events}),
        "req-1",
        SIGNER,
        store,
        bucket if bucket is not None else Bucket(),
        now=NOW,
        memory=store,
        **kw,
    )


def test_exposures_are_counted_per_experience_per_day_with_one_read_and_one_write() -> None:
    store = Store({"a-1": GRANTED})
    post(
        [exposure("e-1"), exposure("e-2", token=token(issued_at=int(NOW) - 5)), conversion()], store
    )
    assert store.reads == [(["a-1"], ["a-1"])]  # consent and memory in the same read
    assert store.writes == 1
    assert store.of().exposures_within("hero", NOW_MS, 1) == 2


def test_every_arm_is_counted_and_a_default_for_any_other_reason_is_not() -> None:
    store = Store({"a-1": GRANTED})
    holdout = token(variant=None, reason="holdout", issued_at=int(NOW) - 1)
    outside = token(variant=None, reason="not_in_audience", issued_at=int(NOW) - 2)
    post([exposure("e-1", token=holdout), exposure("e-2", token=outside)], store)
    assert store.of().exposures_within("hero", NOW_MS, 1) == 1


def test_a_dismissal_is_the_tokens_unit_and_experience_and_is_stored_as_an_event() -> None:
    store, bucket = Store({"a-1": GRANTED}), Bucket()
    answer = post([dismissal()], store, bucket)
    assert (answer["accepted"], answer["rejected"]) == (1, 0)
    assert store.of().dismissed == {"hero": NOW_MS - 1_000}
    (record,) = bucket.records()
    assert (record["type"], record["name"], record["unit_id"], record["experience"]) == (
        "conversion",
        "dismissal",
        "a-1",
        "hero",
    )


def test_a_dismissal_naming_another_unit_or_with_a_bad_token_is_refused_alone() -> None:
    store = Store({"a-1": GRANTED, "a-2": GRANTED})
    expired = token(issued_at=int(NOW) - 2 * 86_400)
    forged = token()[:-4] + "AAAA"
    answer = post(
        [
            dismissal("d-1", unit_id="a-2"),  # a-1's token, posted for a-2
            dismissal("d-2", token=expired),
            dismissal("d-3", token=forged),
            dismissal("d-4", token=None),
            dismissal("d-5", unit_id="a-1"),
        ],
        store,
    )
    reasons = [(r["index"], r["reason"]) for r in answer["rejections"]]
    assert reasons == [
        (0, "unit_mismatch"),
        (1, "expired_token"),
        (2, "tampered_token"),
        (3, "missing_field"),
    ]
    assert answer["accepted"] == 1
    assert "a-2" not in store.memory and store.of().dismissed == {"hero": NOW_MS - 1_000}


def test_memory_is_kept_only_where_consent_allows_personalization() -> None:
    store, bucket = Store({"a-1": MEASURE_ONLY}), Bucket()
    answer = post([exposure(), dismissal()], store, bucket)
    assert answer["stored"] == 2 and len(bucket.records()) == 2  # measured
    assert store.writes == 0 and store.memory == {}  # not remembered


def test_a_carried_grant_under_opt_in_is_enough_and_a_carried_denial_wins() -> None:
    body = {"events": [exposure()], "consent": {"purposes": {"personalization": "granted"}}}
    store = Store()
    receive(orjson.dumps(body), "r", SIGNER, store, Bucket(), now=NOW, memory=store)
    assert store.of().exposures_within("hero", NOW_MS, 1) == 1
    denied = Store({"a-1": GRANTED})
    body["consent"] = {"purposes": {"personalization": "denied"}}
    receive(orjson.dumps(body), "r", SIGNER, denied, Bucket(), now=NOW, memory=denied)
    assert denied.memory == {}


def test_a_retried_request_counts_nothing_twice() -> None:
    store = Store({"a-1": GRANTED})
    events = [exposure("e-1"), exposure("e-2", token=token(issued_at=int(NOW) - 3))]
    post(events, store, idempotency_key="k-1")
    post(events, store, idempotency_key="k-1")
    assert store.of().exposures_within("hero", NOW_MS, 1) == 2 and store.writes == 1


def test_a_memory_write_that_fails_acknowledges_nothing() -> None:
    store = Store({"a-1": GRANTED})
    store.fail_writes = True
    with pytest.raises(Unavailable):
        post([exposure()], store)


def test_conversions_alone_read_no_memory() -> None:
    store = Store({"a-1": GRANTED})
    post([conversion()], store)
    assert store.reads == [(["a-1"], [])] and store.writes == 0


def test_exposures_are_counted_on_the_day_they_were_shown() -> None:
    store = Store({"a-1": GRANTED})
    yesterday = NOW_MS - DAY_MS
    post([exposure(ts=yesterday)], store)
    assert store.of().exposures == {"hero": {yesterday // DAY_MS: 1}}


def test_only_the_experiences_that_read_memory_have_their_exposures_counted() -> None:
    store = Store({"a-1": GRANTED})
    asked: list[int] = []

    def remembering() -> frozenset[str]:
        asked.append(1)
        return frozenset({"capped"})

    capped = token(experience="capped", issued_at=int(NOW) - 1)
    post([exposure("e-1"), exposure("e-2", token=capped)], store, remembering=remembering)
    assert store.of().exposures == {"capped": {NOW_MS // DAY_MS: 1}}  # not "hero"'s
    post([exposure("e-3")], store, remembering=remembering)  # only hero: nothing to write
    assert store.writes == 1
    post([conversion(), dismissal()], store, remembering=remembering)  # no exposure: not asked
    assert len(asked) == 2 and store.of().dismissed == {"hero": NOW_MS - 1_000}


def test_without_rules_every_experiences_exposures_are_counted() -> None:
    store = Store({"a-1": GRANTED})
    post([exposure("e-1")], store, remembering=lambda: None)
    assert store.of().exposures_within("hero", NOW_MS, 1) == 1
