"""The experiences table: experiences and saved groups, with versions and an audit trail.

Every write of an experience is conditional on the version its writer read and goes in
one transaction with its audit entry, so a push that raced another is refused, never
merged, and no change is ever made without a record of who, what, why and when.
Layout: docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from earnest.errors import ConcurrentModification, Unavailable
from earnest_aws.clients import client

CURRENT = "current"


@dataclass(frozen=True)
class StoredExperience:
    doc: dict[str, Any]
    version: int
    updated_at: str
    updated_by: str


@dataclass(frozen=True)
class Rules:
    experiences: list[dict[str, Any]]
    saved_groups: dict[str, list[str]]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _scan(table: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    ddb = client("dynamodb")
    start: dict[str, Any] | None = None
    while True:
        page = ddb.scan(
            TableName=table, **kwargs, **({"ExclusiveStartKey": start} if start else {})
        )
        yield from page.get("Items", [])
        start = page.get("LastEvaluatedKey")
        if not start:
            return


class ExperiencesStore:
    def __init__(self, table: str) -> None:
        self.table = table

    def _current_items(self) -> Iterator[dict[str, Any]]:
        return _scan(
            self.table,
            FilterExpression="sk = :c",
            ExpressionAttributeValues={":c": {"S": CURRENT}},
        )

    def load_rules(self) -> Rules:
        """Every experience (any status: placements stay known) and every saved group.

        Raises Unavailable when the table cannot be read, so the caller keeps its last rules.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        experiences: list[dict[str, Any]] = []
        groups: dict[str, list[str]] = {}
        try:
            for item in self._current_items():
                pk = item["pk"]["S"]
                if pk.startswith("exp#"):
                    experiences.append(orjson.loads(item["doc"]["S"]))
                elif pk.startswith("group#"):
                    groups[pk[6:]] = [v["S"] for v in item.get("ids", {}).get("L", [])]
        except (BotoCoreError, ClientError) as exc:
            raise Unavailable(f"experiences table unreadable: {type(exc).__name__}") from exc
        return Rules(experiences, groups)

    def load_all(self) -> list[StoredExperience]:
        out = []
        for item in self._current_items():
            if item["pk"]["S"].startswith("exp#"):
                out.append(
                    StoredExperience(
                        doc=orjson.loads(item["doc"]["S"]),
                        version=int(item["version"]["N"]),
                        updated_at=item.get("updated_at", {}).get("S", ""),
                        updated_by=item.get("updated_by", {}).get("S", ""),
                    )
                )
        return sorted(out, key=lambda s: str(s.doc.get("id")))

    def get(self, experience_id: str) -> StoredExperience | None:
        item = (
            client("dynamodb")
            .get_item(
                TableName=self.table,
                Key={"pk": {"S": f"exp#{experience_id}"}, "sk": {"S": CURRENT}},
                ConsistentRead=True,
            )
            .get("Item")
        )
        if not item:
            return None
        return StoredExperience(
            orjson.loads(item["doc"]["S"]),
            int(item["version"]["N"]),
            item.get("updated_at", {}).get("S", ""),
            item.get("updated_by", {}).get("S", ""),
        )

    def save(
        self,
        doc: Mapping[str, Any],
        expected_version: int | None,
        actor: str,
        action: str,
        reason: str = "",
        evidence: Mapping[str, Any] | None = None,
        changes: Mapping[str, Any] | None = None,
    ) -> int:
        """Write `doc` if the stored version is still `expected_version` (None: new).

        Returns the new version; raises ConcurrentModification when someone else won.
        """
        from botocore.exceptions import ClientError

        version = (expected_version or 0) + 1
        exp_id = str(doc["id"])
        at = now_iso()
        stored = {**doc, "version": version}
        current: dict[str, Any] = {
            "TableName": self.table,
            "Item": {
                "pk": {"S": f"exp#{exp_id}"},
                "sk": {"S": CURRENT},
                "doc": {"S": orjson.dumps(stored, option=orjson.OPT_SORT_KEYS).decode()},
                "status": {"S": str(doc.get("status", ""))},
                "placement": {"S": str(doc.get("placement", ""))},
                "owner": {"S": str(doc.get("owner", ""))},
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
        audit = {
            "TableName": self.table,
            "Item": {
                "pk": {"S": f"exp#{exp_id}"},
                "sk": {"S": f"audit#{at}#{version:08d}"},
                "actor": {"S": actor},
                "action": {"S": action},
                "reason": {"S": reason},
                "changes": {"S": orjson.dumps(changes or {}).decode()},
                "evidence": {"S": orjson.dumps(evidence or {}).decode()},
                "version": {"N": str(version)},
                "at": {"S": at},
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        try:
            client("dynamodb").transact_write_items(
                TransactItems=[{"Put": current}, {"Put": audit}]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] in (
                "TransactionCanceledException",
                "ConditionalCheckFailedException",
            ):
                raise ConcurrentModification(
                    f"experience {exp_id!r} changed since version {expected_version}: "
                    "re-read it and apply your change again",
                    field="version",
                ) from None
            raise
        return version

    def audit(self, experience_id: str) -> list[dict[str, Any]]:
        items = (
            client("dynamodb")
            .query(
                TableName=self.table,
                KeyConditionExpression="pk = :p AND begins_with(sk, :a)",
                ExpressionAttributeValues={
                    ":p": {"S": f"exp#{experience_id}"},
                    ":a": {"S": "audit#"},
                },
            )
            .get("Items", [])
        )
        return [
            {
                "at": i["at"]["S"],
                "actor": i["actor"]["S"],
                "action": i["action"]["S"],
                "reason": i.get("reason", {}).get("S", ""),
                "version": int(i["version"]["N"]),
                "changes": orjson.loads(i["changes"]["S"]),
                "evidence": orjson.loads(i["evidence"]["S"]),
            }
            for i in items
        ]

    def save_group(self, name: str, ids: list[str], actor: str) -> None:
        client("dynamodb").put_item(
            TableName=self.table,
            Item={
                "pk": {"S": f"group#{name}"},
                "sk": {"S": CURRENT},
                "ids": {"L": [{"S": i} for i in ids]},
                "updated_at": {"S": now_iso()},
                "updated_by": {"S": actor},
            },
        )
