"""The consent table: each subject's state per regulation, its history, tombstones, receipts.

The read side: the one place that turns a stored `state` item into purposes (decide calls
`purposes_for` on every request), and state and history for `earnest consent show`. Writes
live in earnest_aws.consent_writer, which decide never imports. Layout:
docs/architecture.md and docs/consent.md. Items are read with the low-level botocore
client, so they are DynamoDB JSON; the few shapes read on decide's hot path are unpacked
by hand rather than through boto3's TypeDeserializer, which would pull boto3 onto decide's
cold start.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from earnest.consent.purposes import ALL_DENIED, VALUES, most_restrictive
from earnest.errors import Unavailable
from earnest.memory import EMPTY, Memory, from_json
from earnest_aws.aws_errors import translated
from earnest_aws.clients import client

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

STATE = "state"
MEMORY = "memory"  # a unit's memory (earnest.memory): caps and dismissals
HISTORY_PREFIX = "history#"
RECEIPT_PREFIX = "erasure-receipt#"
REGULATION_PREFIX = "r_"
# A tombstone's key in the sparse `erased` index, which the nightly report reads.
ERASED_INDEX = "erased"
ERASED_MARKER = "1"
# BatchGetItem may hand back keys it did not get to; it never does for two small items in
# practice, but a throttled table can, so retry briefly before failing closed.
_BATCH_ATTEMPTS = 3
MAX_BATCH_KEYS = 100  # BatchGetItem's limit per call


def state_purposes(item: Mapping[str, Any]) -> dict[str, str]:
    """A `state` item (DynamoDB JSON) as purposes: every regulation's, most restrictive first.

    A tombstone (`erased_at`) is every purpose denied, whatever else the item holds. A value
    that is not `granted`/`denied` is ignored (unknown), never read as a grant.
    """
    if "erased_at" in item:
        return dict(ALL_DENIED)
    maps: list[dict[str, str]] = []
    for name, value in item.items():
        if not name.startswith(REGULATION_PREFIX):
            continue
        purposes = value.get("M", {}).get("purposes", {}).get("M", {})
        maps.append(
            {
                purpose: raw["S"]
                for purpose, raw in purposes.items()
                if isinstance(raw, Mapping) and raw.get("S") in VALUES
            }
        )
    return most_restrictive(*maps)


# Words the history used before issue 9's one word per idea, and the words now.
OLD_HISTORY_WORDS = (("why", "reason"), ("regime", "regulation"))


class ConsentStore:
    """Reads one consent table: decide's purposes, and state and history for people."""

    def __init__(self, table_name: str, dynamodb: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.dynamodb: DynamoDBClient = dynamodb or client("dynamodb")

    def purposes_for(self, subject_ids: Sequence[str]) -> dict[str, str] | None:
        """The combined stored consent of every id (one strongly consistent BatchGetItem).

        None when no id has a record. Strongly consistent because a withdrawal must hold
        on the very next decision, not a replication lag later. Raises Unavailable when the
        store cannot be read; the caller fails closed.
        """
        ids = list(dict.fromkeys(s for s in subject_ids if s))
        if not ids:
            return None
        items = self._batch_get_states(ids)
        if not items:
            return None
        return most_restrictive(*(state_purposes(item) for item in items))

    def purposes_and_memory(
        self, subject_ids: Sequence[str], unit: str
    ) -> tuple[dict[str, str] | None, Memory | None]:
        """`purposes_for`, and the unit's memory (None: nothing remembered), read in the same
        strongly consistent BatchGetItem: decide's one round trip when memory can matter."""
        ids = list(dict.fromkeys(s for s in subject_ids if s))
        items = self._batch_get([*(item_key(s, STATE) for s in ids), item_key(unit, MEMORY)])
        states = [i for i in items if i["record"]["S"] == STATE]
        memory = next((stored_memory(i)[0] for i in items if i["record"]["S"] == MEMORY), None)
        purposes = most_restrictive(*(state_purposes(i) for i in states)) if states else None
        return purposes, memory

    def consent_and_memory(
        self, subject_ids: Sequence[str], units: Sequence[str]
    ) -> tuple[dict[str, dict[str, str]], dict[str, tuple[Memory, int]]]:
        """`purposes_by_subject`, and each unit's memory with its revision (absent: none),
        in the same reads: record-exposure's one read per request."""
        keys = [item_key(s, STATE) for s in dict.fromkeys(s for s in subject_ids if s)]
        keys += [item_key(u, MEMORY) for u in dict.fromkeys(units)]
        purposes: dict[str, dict[str, str]] = {}
        memories: dict[str, tuple[Memory, int]] = {}
        for start in range(0, len(keys), MAX_BATCH_KEYS):
            for item in self._batch_get(keys[start : start + MAX_BATCH_KEYS]):
                if item["record"]["S"] == MEMORY:
                    memories[item["subject_id"]["S"]] = stored_memory(item)
                else:
                    purposes[item["subject_id"]["S"]] = state_purposes(item)
        return purposes, memories

    def purposes_by_subject(self, subject_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """Each id's own stored consent, for record-exposure's batches; ids with no record
        are absent.

        One read per request whatever the batch: strongly consistent BatchGetItem over the
        distinct ids, in calls of 100 keys. Raises Unavailable when any part cannot be
        read, so the caller acknowledges nothing rather than guessing.
        """
        ids = list(dict.fromkeys(s for s in subject_ids if s))
        out: dict[str, dict[str, str]] = {}
        for start in range(0, len(ids), MAX_BATCH_KEYS):
            for item in self._batch_get_states(ids[start : start + MAX_BATCH_KEYS]):
                out[item["subject_id"]["S"]] = state_purposes(item)
        return out

    def _batch_get_states(self, ids: list[str]) -> list[dict[str, Any]]:
        return self._batch_get([item_key(s, STATE) for s in ids])

    def _batch_get(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        request: dict[str, Any] = {self.table: {"Keys": keys, "ConsistentRead": True}}
        items: list[dict[str, Any]] = []
        with translated("the consent store cannot be read"):
            for _ in range(_BATCH_ATTEMPTS):
                response = self.dynamodb.batch_get_item(RequestItems=request)
                items.extend(response.get("Responses", {}).get(self.table, []))
                request = dict(response.get("UnprocessedKeys") or {})
                if not request:
                    return items
        raise Unavailable("the consent store is throttling reads")

    # ------------------------------------------------------------ reading for people
    # `earnest consent show` and the writer read through these.

    def state(self, subject_id: str) -> dict[str, Any] | None:
        """The stored state as plain values (regulations, tombstone), or None."""
        return self._get_state(subject_id)

    def history(self, subject_id: str) -> list[dict[str, Any]]:
        """Every change received for the subject, oldest receipt first.

        Entries written under the old words (`why`, `regime`) read as `reason`, `regulation`.
        """
        entries = [from_item(i) for i in self._query(subject_id, HISTORY_PREFIX)]
        for entry in entries:
            for old, new in OLD_HISTORY_WORDS:
                if old in entry:
                    entry.setdefault(new, entry.pop(old))
        return entries

    def receipts(self, subject_id: str) -> list[dict[str, Any]]:
        return [from_item(i) for i in self._query(subject_id, RECEIPT_PREFIX)]

    def _get_state(self, subject_id: str) -> dict[str, Any] | None:
        with translated("the consent store cannot be read"):
            response = self.dynamodb.get_item(
                TableName=self.table, Key=item_key(subject_id, STATE), ConsistentRead=True
            )
        item = response.get("Item")
        return from_item(item) if item else None

    def _query(
        self, subject_id: str, prefix: str = "", projection: str = ""
    ) -> list[dict[str, Any]]:
        expression = "subject_id = :s" + (" AND begins_with(#rec, :p)" if prefix else "")
        values: dict[str, Any] = {":s": {"S": subject_id}}
        if prefix:
            values[":p"] = {"S": prefix}
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": expression,
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
        }
        if prefix or projection:
            kwargs["ExpressionAttributeNames"] = {"#rec": "record"}
        if projection:
            kwargs["ProjectionExpression"] = projection
        items: list[dict[str, Any]] = []
        with translated("the consent store cannot be read"):
            while True:
                page = self.dynamodb.query(**kwargs)
                items.extend(page.get("Items", []))
                if not page.get("LastEvaluatedKey"):
                    return items
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def stored_memory(item: Mapping[str, Any]) -> tuple[Memory, int]:
    """A memory item (DynamoDB JSON) as the memory and its revision (the writer's condition)."""
    text = item.get(MEMORY, {}).get("S")
    rev = item.get("rev", {}).get("N", "0")
    return (from_json(text) if isinstance(text, str) else EMPTY), int(rev)


def to_attr(value: Any) -> dict[str, Any]:
    """A Python value as DynamoDB JSON (strings, booleans, integers, maps, lists, None)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, Mapping):
        return {"M": {str(k): to_attr(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [to_attr(v) for v in value]}
    raise TypeError(f"cannot store {type(value).__name__}")


def from_attr(attr: Mapping[str, Any]) -> Any:
    (kind, value), *_ = attr.items()
    if kind == "M":
        return {k: from_attr(v) for k, v in value.items()}
    if kind == "L":
        return [from_attr(v) for v in value]
    if kind == "N":
        return int(value) if value.lstrip("-").isdigit() else float(value)
    if kind == "NULL":
        return None
    return value


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: from_attr(v) for k, v in item.items()}


def item_key(subject_id: str, record: str) -> dict[str, Any]:
    return {"subject_id": {"S": subject_id}, "record": {"S": record}}
