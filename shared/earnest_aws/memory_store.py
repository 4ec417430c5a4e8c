"""Units' memory in the consent table: record-exposure's write of exposures and dismissals.

One item per unit, `subject_id = <unit>`, `record = memory`, beside the unit's consent:
`memory` (compact JSON, earnest.memory), `rev` (N, the writer's condition) and
`expires_at` (the table's TTL: `MAX_WINDOW_DAYS` after the last write, when nothing in it
can cap or dismiss any more). Sharing the consent table's key is what makes the promises
cheap: decide reads it in the BatchGetItem that reads consent, and an erasure, which
deletes every item of the subject but its tombstone, deletes it too. Each write is one
transaction: the put, conditional on the revision read, and a check that the unit has not
been erased since its consent was read, so an erasure is never undone by a late exposure.
Reads are in earnest_aws.consent_store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from earnest.errors import Unavailable
from earnest.memory import DAY_MS, EMPTY, MAX_WINDOW_DAYS, Memory, to_json
from earnest_aws.aws_errors import CONDITION_FAILED, cancellation_reasons, translated
from earnest_aws.consent_store import MEMORY, STATE, item_key, stored_memory

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_ATTEMPTS = 3  # a unit's own events racing each other: rare, and each retry re-reads
WRITE_FAILED = "the unit's memory cannot be written"


class MemoryStore:
    def __init__(self, table_name: str, dynamodb: DynamoDBClient) -> None:
        self.table = table_name
        self.dynamodb = dynamodb

    def update(
        self,
        unit: str,
        read: tuple[Memory, int] | None,
        change: Callable[[Memory], Memory | None],
        now_ms: int,
    ) -> bool:
        """Write `change(memory)` for the unit, from what was `read` (memory, revision), re-
        reading and retrying on a lost race. False when nothing was written: nothing new, or
        the unit was erased. Raises Unavailable when the table cannot be written."""
        memory, rev = read or (EMPTY, 0)
        for _ in range(_ATTEMPTS):
            changed = change(memory)
            if changed is None:
                return False
            outcome = self._put(unit, changed, rev, now_ms)
            if outcome != "conflict":
                return outcome == "written"
            memory, rev = self._get(unit)
        raise Unavailable("the unit's memory is changing too fast; retry")

    def _put(self, unit: str, memory: Memory, rev: int, now_ms: int) -> str:
        expires_at = (now_ms + MAX_WINDOW_DAYS * DAY_MS) // 1000
        item = {
            **item_key(unit, MEMORY),
            MEMORY: {"S": to_json(memory)},
            "rev": {"N": str(rev + 1)},
            "expires_at": {"N": str(expires_at)},
        }
        condition: dict[str, Any] = (
            {
                "ConditionExpression": "rev = :rev",
                "ExpressionAttributeValues": {":rev": {"N": str(rev)}},
            }
            if rev
            else {"ConditionExpression": "attribute_not_exists(rev)"}
        )
        items: list[dict[str, Any]] = [
            {
                "ConditionCheck": {
                    "TableName": self.table,
                    "Key": item_key(unit, STATE),
                    "ConditionExpression": "attribute_not_exists(erased_at)",
                }
            },
            {"Put": {"TableName": self.table, "Item": item, **condition}},
        ]
        with translated(WRITE_FAILED):
            try:
                self.dynamodb.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
            except Exception as exc:
                reasons = cancellation_reasons(exc)
                if reasons[:1] == [CONDITION_FAILED]:
                    return "erased"
                if reasons[1:2] == [CONDITION_FAILED]:
                    return "conflict"
                raise
        return "written"

    def _get(self, unit: str) -> tuple[Memory, int]:
        with translated("the unit's memory cannot be read"):
            response = self.dynamodb.get_item(
                TableName=self.table, Key=item_key(unit, MEMORY), ConsistentRead=True
            )
        item = response.get("Item")
        return stored_memory(item) if item else (EMPTY, 0)
