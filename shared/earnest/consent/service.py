"""Receiving consent: authenticate the sender, read its payload, apply each update.

The one domain function the consent-update handler calls. It knows the store only
through `ConsentRepository` (the DynamoDB adapter is earnest_aws.consent_store), so the
rules (who may write, what a payload means, how a batch is reported) are tested without
AWS. Nothing is written unless the request is authenticated and well formed; a replayed
signed message is refused before anything is applied.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from earnest.consent.cmp import auth
from earnest.consent.cmp.registry import BY_NAME
from earnest.consent.records import ConsentUpdate, Outcome, ParsedPayload
from earnest.consent.webhooks import TOLERANCE_SECONDS
from earnest.errors import EarnestError, InvalidRequest, Unauthorized
from earnest.jsonbody import read_json
from earnest.timefmt import format_time


class ConsentRepository(Protocol):
    # `seq` is the update's place in its request: with the request id it keeps two
    # receipts of one event in one request (a batch may repeat an update) apart.
    def apply(
        self, update: ConsentUpdate, receive_time: str, request_id: str, seq: int = 0
    ) -> Outcome: ...

    def erase(
        self, update: ConsentUpdate, receive_time: str, request_id: str, seq: int = 0
    ) -> Outcome: ...

    # A claim holds the body's digest until it is finished: the sender's retry of a
    # request whose answer was lost (same id and body, fresh signature) may claim it again.
    def claim_webhook(self, webhook_id: str, digest: str, expires_at: int, now: int) -> bool: ...

    def finish_webhook(self, webhook_id: str) -> None: ...

    def release_webhook(self, webhook_id: str) -> None: ...


@dataclass(frozen=True)
class ConsentConfig:
    """Everything /consent needs to know besides the store: who may write, and how each
    CMP's own purpose codes map onto Earnest's purposes."""

    credentials: auth.Credentials = field(default_factory=auth.Credentials)
    purpose_tables: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


def parse_payload(source: str, payload: Any, config: ConsentConfig, now: datetime) -> ParsedPayload:
    """The payload as the authenticated source's parser reads it (the CMP registry)."""
    return BY_NAME[source].parse(payload, config.purpose_tables.get(source), now)


def receive(
    headers: Mapping[str, str],
    body: bytes,
    request_id: str,
    config: ConsentConfig,
    repository: ConsentRepository,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The response body for one POST /consent; raises the EarnestError to answer with."""
    now = now or datetime.now(UTC)
    sender = auth.authenticate(headers, body, config.credentials, now.timestamp())
    parsed = parse_payload(sender.source, read_json(body), config, now)

    message = sender.message
    if message is not None:
        # Remembered until the signed timestamp leaves the tolerance window: after that
        # the same bytes fail the timestamp check anyway.
        expires = message.timestamp + TOLERANCE_SECONDS
        digest = hashlib.sha256(body).hexdigest()
        if not repository.claim_webhook(message.webhook_id, digest, expires, int(now.timestamp())):
            raise Unauthorized("this webhook-id was already received (replay)", field="webhook-id")
    receive_time = format_time(now)
    try:
        results = [
            _apply(item, index, repository, receive_time, request_id)
            for index, item in enumerate(parsed.items)
        ]
    except Exception:  # not stored (a store fault or a bug): the retry must get through
        if message is not None:
            repository.release_webhook(message.webhook_id)
        raise
    if message is not None:
        repository.finish_webhook(message.webhook_id)
    return _response(sender.source, parsed, results, request_id)


def _apply(
    item: ConsentUpdate | InvalidRequest,
    index: int,
    repository: ConsentRepository,
    receive_time: str,
    request_id: str,
) -> dict[str, Any]:
    if isinstance(item, EarnestError):
        return {"index": index, "applied": False, "error": item.as_dict()}
    if item.action == "erase":
        outcome = repository.erase(item, receive_time, request_id, index)
    else:
        outcome = repository.apply(item, receive_time, request_id, index)
    return {"index": index, **outcome.as_dict()}


def _response(
    source: str, parsed: ParsedPayload, results: list[dict[str, Any]], request_id: str
) -> dict[str, Any]:
    body: dict[str, Any] = {"source": source, "request_id": request_id, "results": results}
    if len(results) == 1 and not parsed.batch:
        body["applied"] = results[0]["applied"]
        body["reason"] = results[0]["reason"]
    else:
        body["summary"] = {
            "applied": sum(1 for r in results if r["applied"]),
            "not_applied": sum(1 for r in results if not r["applied"] and "error" not in r),
            "invalid": sum(1 for r in results if "error" in r),
        }
    if parsed.ignored:
        body["ignored"] = parsed.ignored
    return body
