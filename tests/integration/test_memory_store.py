"""Units' memory in the consent table, against moto built from template.yaml: decide's one
read of consent and memory, record-exposure's conditional write, and erasure."""

from __future__ import annotations

from typing import Any

from earnest.consent.records import ConsentUpdate
from earnest.memory import DAY_MS, MAX_WINDOW_DAYS, Memory, Remembered, remember
from earnest_aws.clients import client
from earnest_aws.consent_store import ConsentStore
from earnest_aws.consent_writer import ConsentWriter
from earnest_aws.memory_store import MemoryStore

NOW_MS = 1_795_000_000_000


def counting(x: int, experience: str = "hero") -> Any:
    def change(memory: Memory) -> Memory | None:
        return remember(memory, [Remembered(f"e-{x}", experience, NOW_MS)], [], NOW_MS)

    return change


def calls(dynamodb: Any) -> list[str]:
    made: list[str] = []
    dynamodb.meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: made.append(model.name)
    )
    return made


def grant(table: str, subject: str) -> None:
    purposes = {"M": {"personalization": {"S": "granted"}, "measurement": {"S": "granted"}}}
    item = {
        "subject_id": {"S": subject},
        "record": {"S": "state"},
        "r_default": {"M": {"purposes": purposes}},
    }
    client("dynamodb").put_item(TableName=table, Item=item)


def test_decide_reads_consent_and_memory_in_one_batch_get(aws: Any) -> None:
    grant(aws.consent_table, "a-1")
    dynamodb = client("dynamodb")
    MemoryStore(aws.consent_table, dynamodb).update("a-1", None, counting(1), NOW_MS)
    made = calls(dynamodb)
    purposes, memory = ConsentStore(aws.consent_table, dynamodb).purposes_and_memory(
        ["a-1", "u-1"], "a-1"
    )
    assert made == ["BatchGetItem"]
    assert purposes == {"personalization": "granted", "measurement": "granted"}
    assert memory is not None and memory.exposures_within("hero", NOW_MS, 1) == 1


def test_no_memory_reads_as_none_beside_no_consent(aws: Any) -> None:
    assert ConsentStore(aws.consent_table).purposes_and_memory(["a-9"], "a-9") == (None, None)


def test_the_item_expires_after_the_longest_window_and_carries_its_revision(aws: Any) -> None:
    store = MemoryStore(aws.consent_table, client("dynamodb"))
    assert store.update("a-1", None, counting(1), NOW_MS)
    item = client("dynamodb").get_item(
        TableName=aws.consent_table, Key={"subject_id": {"S": "a-1"}, "record": {"S": "memory"}}
    )["Item"]
    assert int(item["expires_at"]["N"]) == (NOW_MS + MAX_WINDOW_DAYS * DAY_MS) // 1000
    assert item["rev"] == {"N": "1"}


def test_two_writers_from_the_same_read_both_count(aws: Any) -> None:
    """The second loses the conditional put, re-reads, and counts on top of the first."""
    store = MemoryStore(aws.consent_table, client("dynamodb"))
    reader = ConsentStore(aws.consent_table)
    _, read = reader.consent_and_memory([], ["a-1"])
    assert store.update("a-1", read.get("a-1"), counting(1), NOW_MS)
    assert store.update("a-1", read.get("a-1"), counting(2), NOW_MS)  # stale: no memory yet
    _, after = reader.consent_and_memory([], ["a-1"])
    memory, rev = after["a-1"]
    assert memory.exposures_within("hero", NOW_MS, 1) == 2 and rev == 2


def test_erasure_deletes_the_memory_and_no_late_write_brings_it_back(aws: Any) -> None:
    grant(aws.consent_table, "a-1")
    dynamodb = client("dynamodb")
    store = MemoryStore(aws.consent_table, dynamodb)
    store.update("a-1", None, counting(1), NOW_MS)
    _, read = ConsentStore(aws.consent_table).consent_and_memory(["a-1"], ["a-1"])
    erase = ConsentUpdate("a-1", "ev-1", "2026-11-18T11:00:00.000Z", "test", action="erase")
    ConsentWriter(aws.consent_table, dynamodb).erase(erase, "2026-11-18T11:00:01.000Z", "req-1")
    assert ConsentStore(aws.consent_table).purposes_and_memory(["a-1"], "a-1")[1] is None
    # An /events request that read the memory before the erasure writes nothing after it.
    assert not store.update("a-1", read.get("a-1"), counting(2), NOW_MS)
    assert not store.update("a-1", None, counting(3), NOW_MS)
    assert ConsentStore(aws.consent_table).purposes_and_memory(["a-1"], "a-1")[1] is None
