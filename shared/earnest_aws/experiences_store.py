"""The experiences table: experiences and saved groups, with versions and an audit trail.

Each experience item keeps the authored document (`doc`, the owner's file) apart from its
operational state (`ops`: pauses and retirements by the guardrails or an operator, see
earnest.experiences.lifecycle); decide serves the two combined. Every write is conditional
on the version its writer read and goes in one transaction with its audit entry, so a
write that raced another is refused, never merged, and no change is made without a record
of who, what, why and when. Items written before `ops` existed read as having none.
Layout: docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from earnest.errors import ConcurrentModification
from earnest.experiences.lifecycle import (
    ALLOCATION,
    AUTHORED,
    OPERATIONAL,
    authored_only,
    content_hash,
    effective,
    with_allocation,
)
from earnest.timefmt import format_time
from earnest_aws.aws_errors import is_condition_failure, translated
from earnest_aws.clients import client

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CURRENT = "current"


@dataclass(frozen=True)
class StoredExperience:
    doc: dict[str, Any]  # as authored (with `version`)
    version: int
    updated_at: str
    updated_by: str
    ops: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.doc.get("id"))

    @property
    def authored(self) -> dict[str, Any]:
        return authored_only(self.doc)

    @property
    def effective(self) -> dict[str, Any]:
        return effective(self.doc, self.ops)


@dataclass(frozen=True)
class Rules:
    experiences: list[dict[str, Any]]
    saved_groups: dict[str, list[str]]


def now_iso() -> str:
    return format_time(datetime.now(UTC))


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


class ExperiencesStore:
    def __init__(self, table: str, dynamodb: DynamoDBClient | None = None) -> None:
        self.table = table
        self._dynamodb = dynamodb

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

    def save(
        self,
        doc: Mapping[str, Any],
        expected_version: int | None,
        actor: str,
        action: str,
        reason: str = "",
        evidence: Mapping[str, Any] | None = None,
        changes: Mapping[str, Any] | None = None,
        ops: Mapping[str, Any] | None = None,
    ) -> int:
        """Write the authored `doc` (keeping `ops`, the operational state the writer read)
        if the stored version is still `expected_version` (None: new).

        Returns the new version; raises ConcurrentModification when someone else won.
        """
        return self._write(
            authored_only(doc),
            ops or {},
            expected_version,
            actor,
            action,
            AUTHORED,
            reason,
            evidence,
            changes,
        )

    def save_ops(
        self,
        stored: StoredExperience,
        ops: Mapping[str, Any],
        actor: str,
        action: str,
        reason: str,
        evidence: Mapping[str, Any] | None = None,
        changes: Mapping[str, Any] | None = None,
        allocation_at: str | None = None,
    ) -> int:
        """Write only the operational state, over the version `stored` was read at.

        `allocation_at`: when an allocation this write restarts starts, if not now (the
        nightly report's changes start at the end of the day it reported, or now if earlier).
        """
        return self._write(
            stored.authored,
            ops,
            stored.version,
            actor,
            action,
            OPERATIONAL,
            reason,
            evidence,
            changes,
            allocation_at,
        )

    def _write(
        self,
        authored: dict[str, Any],
        ops: Mapping[str, Any],
        expected_version: int | None,
        actor: str,
        action: str,
        kind: str,
        reason: str,
        evidence: Mapping[str, Any] | None,
        changes: Mapping[str, Any] | None,
        allocation_at: str | None = None,
    ) -> int:
        version = (expected_version or 0) + 1
        exp_id = str(authored["id"])
        at = now_iso()
        # Every write keeps the allocation's start, or restarts it when who gets what changed.
        # The audit records a restart: an operational entry among its changes (so
        # `guardrails.as_of` walks a nightly restart back), an authored one in its evidence
        # (its changes are the file's fields).
        before = ops.get(ALLOCATION)
        ops = with_allocation(authored, ops, allocation_at or at)
        if ops.get(ALLOCATION) != before:
            restart = {ALLOCATION: {"from": before, "to": ops[ALLOCATION]}}
            if kind == OPERATIONAL:
                changes = {**(changes or {}), **restart}
            else:
                evidence = {**(evidence or {}), **restart}
        served = effective(authored, ops)
        digest = content_hash(authored)
        current: dict[str, Any] = {
            "TableName": self.table,
            "Item": {
                "pk": {"S": f"exp#{exp_id}"},
                "sk": {"S": CURRENT},
                "doc": {"S": _json({**authored, "version": version})},
                "ops": {"S": _json(dict(ops))},
                "content_hash": {"S": digest},
                "status": {"S": str(served.get("status", ""))},
                "placement": {"S": str(authored.get("placement", ""))},
                "owner": {"S": str(authored.get("owner", ""))},
                "version": {"N": str(version)},
                "updated_at": {"S": at},
                "updated_by": {"S": actor},
            },
        }
        if expected_version is None:
            current["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            current["ConditionExpression"] = "version = :v"
            current["ExpressionAttributeValues"] = {":v": {"N": str(expected_version)}}
        audit_item: dict[str, Any] = {
            "pk": {"S": f"exp#{exp_id}"},
            "sk": {"S": f"audit#{at}#{version:08d}"},
            "actor": {"S": actor},
            "action": {"S": action},
            "kind": {"S": kind},
            "reason": {"S": reason},
            "changes": {"S": orjson.dumps(changes or {}).decode()},
            "evidence": {"S": orjson.dumps(evidence or {}).decode()},
            "content_hash": {"S": digest},
            "version": {"N": str(version)},
            "at": {"S": at},
        }
        if kind == AUTHORED:  # the content of every authored version, for rollback
            audit_item["doc"] = {"S": _json(authored)}
        audit: dict[str, Any] = {
            "TableName": self.table,
            "Item": audit_item,
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        with translated(f"could not write experience {exp_id!r}"):
            try:
                puts: list[Any] = [{"Put": current}, {"Put": audit}]
                self._ddb.transact_write_items(TransactItems=puts)
            except Exception as exc:
                if is_condition_failure(exc):
                    raise ConcurrentModification(
                        f"experience {exp_id!r} changed since version {expected_version}: "
                        "re-read it and apply your change again",
                        field="version",
                    ) from None
                raise
        return version

    def audit(self, experience_id: str) -> list[dict[str, Any]]:
        """Every change of an experience, oldest first (`doc`: the authored content then)."""
        items: list[dict[str, Any]] = []
        start: dict[str, Any] | None = None
        with translated(f"could not read the history of {experience_id!r}"):
            while True:
                page = self._ddb.query(
                    TableName=self.table,
                    KeyConditionExpression="pk = :p AND begins_with(sk, :a)",
                    ExpressionAttributeValues={
                        ":p": {"S": f"exp#{experience_id}"},
                        ":a": {"S": "audit#"},
                    },
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

    def save_group(self, name: str, ids: list[str], actor: str) -> None:
        with translated(f"could not write saved group {name!r}"):
            self._ddb.put_item(
                TableName=self.table,
                Item={
                    "pk": {"S": f"group#{name}"},
                    "sk": {"S": CURRENT},
                    "ids": {"L": [{"S": i} for i in ids]},
                    "updated_at": {"S": now_iso()},
                    "updated_by": {"S": actor},
                },
            )

    def groups(self) -> dict[str, list[str]]:
        return self.load_rules().saved_groups
