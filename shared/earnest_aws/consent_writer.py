"""The consent table's write side: conditional per-regulation updates with their history,
erasure with tombstone and receipt, and the webhook-ids seen (replay protection).

Only consent-update imports this module; decide reads through earnest_aws.consent_store
and never pays for it. Layout: docs/architecture.md and docs/consent.md.
"""

from __future__ import annotations

import contextlib
from typing import Any

from earnest.consent.records import ERASED, ERASURE, ConsentUpdate, Outcome, Standing, order
from earnest.errors import Unavailable
from earnest_aws.aws_errors import error_code, is_condition_failure, translated
from earnest_aws.consent_store import (
    ERASED_MARKER,
    HISTORY_PREFIX,
    RECEIPT_PREFIX,
    STATE,
    ConsentStore,
    item_key,
    to_attr,
)

WEBHOOK_PREFIX = "__webhook__#"
_APPLY_ATTEMPTS = 4  # a race with another writer re-reads and decides again

# The state item is written only as it was read: `rev` counts its writes, so a writer
# that lost a race reads again and orders again (`order` decides, in the pure core).
_UNCHANGED = "attribute_not_exists(erased_at) AND rev = :rev"
_UNCHANGED_NEW = "attribute_not_exists(erased_at) AND attribute_not_exists(rev)"


WRITE_FAILED = "the consent store cannot be written"


def receipt_suffix(update: ConsentUpdate, receive_time: str, request_id: str, seq: int) -> str:
    """`<receive time>#<event id>#<request id>#<position>`: sorted by receipt, and unique
    even when one request repeats an update (a batch may)."""
    return f"{receive_time}#{update.event_id}#{request_id}#{seq:03d}"


def _history_item(
    update: ConsentUpdate,
    receive_time: str,
    request_id: str,
    seq: int,
    applied: bool,
    reason: str,
) -> dict[str, Any]:
    """Proof of consent: what was received, from whom, when, and what became of it."""
    fields = {
        "subject_id": update.subject_id,
        "record": f"{HISTORY_PREFIX}{receipt_suffix(update, receive_time, request_id, seq)}",
        "action": update.action,
        "regulation": update.regulation,
        "purposes": dict(update.purposes),
        "source": update.source,
        "event_id": update.event_id,
        "event_time": update.event_time,
        "receive_time": receive_time,
        "request_id": request_id,
        "applied": applied,
        "reason": reason,
    }
    if update.consent_string:
        fields["consent_string"] = update.consent_string
    if update.jurisdiction:
        fields["jurisdiction"] = update.jurisdiction
    return {k: to_attr(v) for k, v in fields.items()}


class ConsentWriter(ConsentStore):
    """The write side: conditional per-regulation updates with their history, erasure with
    tombstone and receipt, and the webhook-ids seen (replay protection).

    Implements earnest.consent.service.ConsentRepository.
    """

    def apply(
        self, update: ConsentUpdate, receive_time: str, request_id: str, seq: int = 0
    ) -> Outcome:
        """Apply one update if it outranks what is stored for its regulation (`order`).

        Either way the receipt goes in the history, in the same transaction as the
        decision it records, unless the subject is erased (nothing is kept for them).
        """
        attribute = f"r_{update.regulation}"
        new = Standing.of(update, self._first_receipt(update, receive_time))
        for _ in range(_APPLY_ATTEMPTS):
            state = self._get_state(update.subject_id)
            if state is not None and "erased_at" in state:
                return Outcome(update, False, ERASED)
            raw = (state or {}).get(attribute)
            previous = Standing.stored(raw, (state or {}).get("updated_at")) if raw else None
            reason, keep = order(previous, new)
            history = {
                "Put": {
                    "TableName": self.table,
                    "Item": _history_item(
                        update, receive_time, request_id, seq, keep is not None, reason
                    ),
                }
            }
            if keep is not None:
                guard = self._state_update(update.subject_id, attribute, keep, state, receive_time)
            else:  # still only if the subject was not erased in between
                guard = {
                    "ConditionCheck": {
                        "TableName": self.table,
                        "Key": item_key(update.subject_id, STATE),
                        "ConditionExpression": "attribute_not_exists(erased_at)",
                    }
                }
            if self._transact([guard, history]):
                return Outcome(update, keep is not None, reason)
            # Another writer got there first: read again and decide again.
        raise Unavailable("the consent record is changing too fast; retry")

    def _state_update(
        self,
        subject_id: str,
        attribute: str,
        standing: Standing,
        state: dict[str, Any] | None,
        receive_time: str,
    ) -> dict[str, Any]:
        """Store one regulation's standing, on condition the item is as it was read."""
        rev = (state or {}).get("rev")
        values: dict[str, Any] = {
            ":v": to_attr(standing.as_dict()),
            ":next": {"N": str((rev or 0) + 1)},
            ":now": {"S": receive_time},
        }
        if rev is not None:
            values[":rev"] = {"N": str(rev)}
        return {
            "Update": {
                "TableName": self.table,
                "Key": item_key(subject_id, STATE),
                "UpdateExpression": "SET #r = :v, updated_at = :now, rev = :next",
                "ConditionExpression": _UNCHANGED if rev is not None else _UNCHANGED_NEW,
                "ExpressionAttributeNames": {"#r": attribute},
                "ExpressionAttributeValues": values,
            }
        }

    def _first_receipt(self, update: ConsentUpdate, receive_time: str) -> str:
        """When this event was first received. Only a future-stamped update is ordered by
        its receipt, so only its retry needs the history read (rare: a fast clock)."""
        if update.event_time <= receive_time:
            return receive_time
        earlier = [
            str(entry["receive_time"]["S"])
            for entry in self._query(update.subject_id, HISTORY_PREFIX)
            if entry.get("event_id", {}).get("S") == update.event_id
            and entry.get("regulation", {}).get("S") == update.regulation
        ]
        return min([receive_time, *earlier])

    def _transact(self, items: list[dict[str, Any]]) -> bool:
        """Write the items in one transaction; False when a condition lost a race."""
        with translated(WRITE_FAILED):
            try:
                self.dynamodb.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
            except Exception as exc:
                # A timeout has a `response` too: None.
                reasons = (getattr(exc, "response", None) or {}).get("CancellationReasons") or []
                if is_condition_failure(exc) and any(
                    r.get("Code") == "ConditionalCheckFailed" for r in reasons
                ):
                    return False
                raise
        return True

    def erase(
        self, update: ConsentUpdate, receive_time: str, request_id: str, seq: int = 0
    ) -> Outcome:
        """Delete the subject's state and history; keep a tombstone and a receipt.

        The tombstone goes first: from then on every update is refused (and writes no
        history), so the deletion that follows cannot miss a late arrival.
        """
        tombstone = {
            **item_key(update.subject_id, STATE),
            "erased_at": {"S": receive_time},
            "erased_marker": {"S": ERASED_MARKER},
            "erasure_event_id": {"S": update.event_id},
        }
        with translated(WRITE_FAILED):
            try:
                self.dynamodb.put_item(
                    TableName=self.table,
                    Item=tombstone,
                    ConditionExpression="attribute_not_exists(erased_at)",
                )
            except Exception as exc:  # already erased: keep the first erasure's time
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
        deleted = self._delete_all_but_tombstone(update.subject_id)
        suffix = receipt_suffix(update, receive_time, request_id, seq)
        receipt = {
            "subject_id": update.subject_id,
            "record": f"{RECEIPT_PREFIX}{suffix}",
            "event_id": update.event_id,
            "event_time": update.event_time,
            "source": update.source,
            "receive_time": receive_time,
            "request_id": request_id,
            "deleted_items": deleted,
        }
        with translated(WRITE_FAILED):
            self.dynamodb.put_item(
                TableName=self.table, Item={k: to_attr(v) for k, v in receipt.items()}
            )
        return Outcome(update, True, ERASURE)

    def _delete_all_but_tombstone(self, subject_id: str) -> int:
        keys = [
            item_key(subject_id, item["record"]["S"])
            for item in self._query(subject_id, projection="subject_id, #rec")
            if item["record"]["S"] != STATE and not item["record"]["S"].startswith(RECEIPT_PREFIX)
        ]
        for start in range(0, len(keys), 25):
            pending: dict[str, Any] = {
                self.table: [{"DeleteRequest": {"Key": k}} for k in keys[start : start + 25]]
            }
            for _ in range(5):
                with translated(WRITE_FAILED):
                    response = self.dynamodb.batch_write_item(RequestItems=pending)
                pending = dict(response.get("UnprocessedItems") or {})
                if not pending:
                    break
            else:
                raise Unavailable("the consent store is throttling deletes; retry the erasure")
        return len(keys)

    # ------------------------------------------------------------ replay protection

    def claim_webhook(self, webhook_id: str, digest: str, expires_at: int, now: int) -> bool:
        """True the first time a webhook-id is seen while it can still verify, or again for
        the same body while that claim is unfinished; False after.

        The second case is the sender's retry of a request whose claim was written but whose
        answer was lost (a timeout): its records may not be stored, so it must get through.
        One item per id, spread over partitions (not one hot `__webhooks__` key); DynamoDB's
        TTL removes it eventually, and the condition ignores an expired one that lingers.
        """
        with translated(WRITE_FAILED):
            try:
                self.dynamodb.put_item(
                    TableName=self.table,
                    Item={
                        **item_key(f"{WEBHOOK_PREFIX}{webhook_id}", "webhook"),
                        "expires_at": {"N": str(expires_at)},
                        "digest": {"S": digest},
                    },
                    ConditionExpression="attribute_not_exists(subject_id) OR expires_at < :now"
                    " OR (digest = :digest AND attribute_not_exists(finished))",
                    ExpressionAttributeValues={":now": {"N": str(now)}, ":digest": {"S": digest}},
                )
            except Exception as exc:
                if is_condition_failure(exc):
                    return False
                raise
        return True

    def finish_webhook(self, webhook_id: str) -> None:
        """Mark a claim done: from now on even the same body under its id is a replay."""
        # Best effort: an unfinished claim only lets the same body through again, and
        # applying the same update twice stores the same state.
        with contextlib.suppress(Unavailable), translated(WRITE_FAILED):
            self.dynamodb.update_item(
                TableName=self.table,
                Key=item_key(f"{WEBHOOK_PREFIX}{webhook_id}", "webhook"),
                UpdateExpression="SET finished = :yes",
                ExpressionAttributeValues={":yes": {"BOOL": True}},
            )

    def release_webhook(self, webhook_id: str) -> None:
        """Forget a claimed id whose processing failed, so the sender's retry gets through."""
        # Best effort: a claim that stays expires with its timestamp anyway.
        with contextlib.suppress(Unavailable), translated(WRITE_FAILED):
            self.dynamodb.delete_item(
                TableName=self.table, Key=item_key(f"{WEBHOOK_PREFIX}{webhook_id}", "webhook")
            )
