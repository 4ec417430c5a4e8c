"""The experiences table: experiences and saved groups, with versions and an audit trail.

The DynamoDB side of `earnest.experiences.store.ExperienceStore`. Each experience item
keeps the authored document (`doc`, the owner's file) apart from its operational state
(`ops`: pauses and retirements by the guardrails or an operator, see
earnest.experiences.lifecycle); decide serves the two combined. A saved group is an item
of its own with a version. Every write is conditional on the version its writer read and
goes in one transaction with its audit entry (a push's writes all in one), so a write
that raced another is refused, never merged, and no change is made without a record of
who, what, why and when. What to write (the allocation's restart included) is decided by
the core; this module only writes it. A transaction cancelled for throttling is retried
with backoff for up to `throttle_seconds`, then fails as `Throttled` (never as "someone
else changed it"). Items written before `ops` (or group versions) existed read as having
none. Layout: docs/architecture.md.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from earnest.errors import ConcurrentModification, Throttled
from earnest.experiences import store
from earnest.experiences.store import (
    AUTHORED,
    OPERATIONAL,
    GroupWrite,
    StoredExperience,
    StoredGroup,
    Write,
    group_doc,
    now_iso,
)
from earnest_aws.aws_errors import cancellation_reasons, is_condition_failure, translated
from earnest_aws.clients import client

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = [
    "AUTHORED",
    "OPERATIONAL",
    "ExperiencesStore",
    "Rules",
    "StoredExperience",
    "StoredGroup",
    "now_iso",
]

CURRENT = "current"
# A transaction holds at most 100 items: 50 writes with their audit entries.
MAX_WRITES_PER_TRANSACTION = 50
# How long a write keeps retrying a throttled transaction before it fails as Throttled.
THROTTLE_SECONDS = 20.0


@dataclass(frozen=True)
class Rules:
    experiences: list[dict[str, Any]]
    saved_groups: dict[str, list[str]]


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _stored(item: Mapping[str, Any]) -> StoredExperience:
    return StoredExperience(
        doc=orjson.loads(item["doc"]["S"]),
        version=int(item["version"]["N"]),
        updated_at=item.get("updated_at", {}).get("S", ""),
        updated_by=item.get("updated_by", {}).get("S", ""),
        ops=orjson.loads(item["ops"]["S"]) if "ops" in item else {},
    )


def _group(item: Mapping[str, Any]) -> StoredGroup:
    return StoredGroup(
        name=item["pk"]["S"][len("group#") :],
        ids=[v["S"] for v in item.get("ids", {}).get("L", [])],
        version=int(item.get("version", {}).get("N", "0")),
    )


def _condition(expected_version: int | None) -> dict[str, Any]:
    if expected_version is None:
        return {"ConditionExpression": "attribute_not_exists(pk)"}
    if expected_version == 0:  # a saved group written before groups had versions
        return {"ConditionExpression": "attribute_not_exists(version)"}
    return {
        "ConditionExpression": "version = :v",
        "ExpressionAttributeValues": {":v": {"N": str(expected_version)}},
    }


def _audit_item(
    pk: str, w: Write | GroupWrite, kind: str, evidence: Mapping[str, Any], doc: Any
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": {"S": pk},
        "sk": {"S": f"audit#{w.at}#{w.version:08d}"},
        "actor": {"S": w.actor},
        "action": {"S": w.action},
        "kind": {"S": kind},
        "reason": {"S": w.reason},
        "changes": {"S": orjson.dumps(w.changes).decode()},
        "evidence": {"S": orjson.dumps(dict(evidence)).decode()},
        "content_hash": {"S": w.content_hash},
        "version": {"N": str(w.version)},
        "at": {"S": w.at},
    }
    if doc is not None:  # the content of every authored version, for rollback and lineage
        item["doc"] = {"S": _json(doc)}
    return item


def _items(w: Write | GroupWrite, table: str) -> list[dict[str, Any]]:
    """The transaction items of one write: the current item, conditional, and its audit."""
    if isinstance(w, GroupWrite):
        pk = f"group#{w.name}"
        current = {
            "pk": {"S": pk},
            "sk": {"S": CURRENT},
            "ids": {"L": [{"S": i} for i in w.ids]},
            "content_hash": {"S": w.content_hash},
            "version": {"N": str(w.version)},
            "updated_at": {"S": w.at},
            "updated_by": {"S": w.actor},
        }
        audit = _audit_item(pk, w, AUTHORED, {}, group_doc(w.name, w.ids))
    else:
        pk = f"exp#{w.id}"
        served = w.served
        current = {
            "pk": {"S": pk},
            "sk": {"S": CURRENT},
            "doc": {"S": _json({**w.authored, "version": w.version})},
            "ops": {"S": _json(w.ops)},
            "content_hash": {"S": w.content_hash},
            "status": {"S": str(served.get("status", ""))},
            "placement": {"S": str(w.authored.get("placement", ""))},
            "owner": {"S": str(w.authored.get("owner", ""))},
            "version": {"N": str(w.version)},
            "updated_at": {"S": w.at},
            "updated_by": {"S": w.actor},
        }
        doc = w.authored if w.kind == AUTHORED else None
        audit = _audit_item(pk, w, w.kind, w.evidence, doc)
    return [
        {"Put": {"TableName": table, "Item": current, **_condition(w.expected_version)}},
        {
            "Put": {
                "TableName": table,
                "Item": audit,
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
    ]


def _name(w: Write | GroupWrite) -> str:
    return f"saved group {w.name!r}" if isinstance(w, GroupWrite) else f"experience {w.id!r}"


class ExperiencesStore:
    def __init__(
        self,
        table: str,
        dynamodb: DynamoDBClient | None = None,
        *,
        throttle_seconds: float = THROTTLE_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.table = table
        self._dynamodb = dynamodb
        self.throttle_seconds = throttle_seconds
        self._sleep = sleep
        self._clock = clock

    @property
    def _ddb(self) -> DynamoDBClient:
        if self._dynamodb is None:
            self._dynamodb = client("dynamodb")
        return self._dynamodb

    def _current_items(self) -> Iterator[dict[str, Any]]:
        start: dict[str, Any] | None = None
        while True:
            page = self._ddb.scan(
                TableName=self.table,
                FilterExpression="sk = :c",
                ExpressionAttributeValues={":c": {"S": CURRENT}},
                **({"ExclusiveStartKey": start} if start else {}),  # type: ignore[arg-type]
            )
            yield from page.get("Items", [])
            start = page.get("LastEvaluatedKey")
            if not start:
                return

    def load_rules(self) -> Rules:
        """Every experience as served (authored + operational, any status: placements stay
        known) and every saved group. Raises Unavailable when the table cannot be read, so
        the caller keeps its last rules."""
        experiences: list[dict[str, Any]] = []
        groups: dict[str, list[str]] = {}
        with translated("experiences table unreadable"):
            for item in self._current_items():
                pk = item["pk"]["S"]
                if pk.startswith("exp#"):
                    experiences.append(_stored(item).effective)
                elif pk.startswith("group#"):
                    groups[pk[6:]] = [v["S"] for v in item.get("ids", {}).get("L", [])]
        return Rules(experiences, groups)

    def load_all(self) -> list[StoredExperience]:
        with translated("experiences table unreadable"):
            out = [_stored(i) for i in self._current_items() if i["pk"]["S"].startswith("exp#")]
        return sorted(out, key=lambda s: s.id)

    def get(self, experience_id: str) -> StoredExperience | None:
        with translated(f"could not read experience {experience_id!r}"):
            item = self._ddb.get_item(
                TableName=self.table,
                Key={"pk": {"S": f"exp#{experience_id}"}, "sk": {"S": CURRENT}},
                ConsistentRead=True,
            ).get("Item")
        return _stored(item) if item else None

    # One authored write and one operational write (earnest.experiences.store), as methods.
    save = store.save
    save_ops = store.save_ops

    def transact(self, writes: Sequence[Write | GroupWrite]) -> None:
        """All of `writes`, each conditional on its version, with their audit entries, in one
        transaction (several past MAX_WRITES_PER_TRANSACTION, each checked the same way).

        Raises ConcurrentModification naming the write whose version moved on (nothing of
        that transaction is written), Throttled when AWS refused for capacity longer than
        `throttle_seconds`, Unavailable for any other AWS fault.
        """
        for start in range(0, len(writes), MAX_WRITES_PER_TRANSACTION):
            chunk = writes[start : start + MAX_WRITES_PER_TRANSACTION]
            self._transact_chunk(chunk, [item for w in chunk for item in _items(w, self.table)])
        self._publish()

    def _transact_chunk(self, writes: Sequence[Write | GroupWrite], items: list[Any]) -> None:
        what = "could not write " + ", ".join(_name(w) for w in writes)
        deadline = self._clock() + self.throttle_seconds
        delay = 0.05
        while True:
            try:
                with translated(what):
                    try:
                        self._ddb.transact_write_items(TransactItems=items)
                    except Exception as exc:
                        if is_condition_failure(exc):
                            raise _lost_race(writes, cancellation_reasons(exc)) from None
                        raise
                return
            except Throttled as exc:
                remaining = deadline - self._clock()
                if remaining <= 0:
                    raise Throttled(
                        f"{exc.message}: still throttled after {self.throttle_seconds:g} s of "
                        "retries; nothing of it was written, and running it again writes it once"
                    ) from exc
                # exponential backoff with jitter on top (writers spread out, never sooner)
                self._sleep(min(remaining, delay * (1 + random.random() / 2)))
                delay = min(delay * 2, 2.0)

    def _publish(self) -> None:
        """The one hook every write passes: the edge's rules bundle follows the table."""
        from earnest_aws.edge_bundle import publish  # lazily: decide only reads the table

        publish(lambda: self.load_rules().experiences)

    def audit(self, experience_id: str) -> list[dict[str, Any]]:
        """Every change of an experience, oldest first (`doc`: the authored content then)."""
        return self._audit(f"exp#{experience_id}", repr(experience_id))

    def _audit(self, pk: str, what: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        start: dict[str, Any] | None = None
        with translated(f"could not read the history of {what}"):
            while True:
                page = self._ddb.query(
                    TableName=self.table,
                    KeyConditionExpression="pk = :p AND begins_with(sk, :a)",
                    ExpressionAttributeValues={":p": {"S": pk}, ":a": {"S": "audit#"}},
                    **({"ExclusiveStartKey": start} if start else {}),  # type: ignore[arg-type]
                )
                items.extend(page.get("Items", []))
                start = page.get("LastEvaluatedKey")
                if not start:
                    break
        entries = [
            {
                "at": i["at"]["S"],
                "actor": i["actor"]["S"],
                "action": i["action"]["S"],
                # entries written before kinds existed: pushes were the only authored writes
                "kind": i.get("kind", {}).get("S")
                or (AUTHORED if i["action"]["S"] in ("create", "update") else OPERATIONAL),
                "reason": i.get("reason", {}).get("S", ""),
                "version": int(i["version"]["N"]),
                "changes": orjson.loads(i["changes"]["S"]),
                "evidence": orjson.loads(i["evidence"]["S"]),
                "content_hash": i.get("content_hash", {}).get("S"),
                "doc": orjson.loads(i["doc"]["S"]) if "doc" in i else None,
            }
            for i in items
        ]
        return sorted(entries, key=lambda e: e["version"])

    def groups(self) -> dict[str, list[str]]:
        return self.load_rules().saved_groups

    def group(self, name: str) -> StoredGroup | None:
        with translated(f"could not read saved group {name!r}"):
            item = self._ddb.get_item(
                TableName=self.table,
                Key={"pk": {"S": f"group#{name}"}, "sk": {"S": CURRENT}},
                ConsistentRead=True,
            ).get("Item")
        return _group(item) if item else None

    def group_audit(self, name: str) -> list[dict[str, Any]]:
        """Every change of a saved group, oldest first (`doc`: its ids then)."""
        return self._audit(f"group#{name}", f"saved group {name!r}")


def _lost_race(writes: Sequence[Write | GroupWrite], reasons: list[str]) -> ConcurrentModification:
    """The refusal of a transaction whose condition failed, naming the write that lost (each
    write is two items, its current item first)."""
    lost = [
        w for i, w in enumerate(writes) if "ConditionalCheckFailed" in reasons[2 * i : 2 * i + 2]
    ]
    w = (lost or list(writes))[0]
    since = "it was created" if w.expected_version is None else f"version {w.expected_version}"
    return ConcurrentModification(
        f"{_name(w)} changed since {since}: re-read it and apply your change again",
        field="version",
    )
