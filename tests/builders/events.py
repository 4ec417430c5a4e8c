"""Builders for events: a token signer, a fixed clock, exposures, conversions and dismissals,
and a bucket in memory."""

from __future__ import annotations

from typing import Any

from earnest.errors import Unavailable
from earnest.events.objects import read_events
from earnest.tokens import TokenSigner

KEY = ("k1", b"events-test-secret-0001")
SIGNER = TokenSigner([KEY], ttl_seconds=86_400)
NOW = 1_795_000_000.0  # 2026-11-18T11:06:40Z
NOW_MS = int(NOW * 1000)


def token(unit: str = "a-1", issued_at: int = int(NOW) - 10, **kw: Any) -> str:
    fields = {
        "experience": "hero",
        "variant": "b",
        "reason": "personalized",
        "rules_version": "rv1",
    }
    fields.update(kw)
    return SIGNER.sign(unit, issued_at=issued_at, **fields)


def exposure(event_id: str = "e-1", **changes: Any) -> dict[str, Any]:
    event = {"type": "exposure", "event_id": event_id, "token": token(), "ts": NOW_MS - 1_000}
    event.update(changes)
    return {k: v for k, v in event.items() if v is not None}


def conversion(event_id: str = "c-1", **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "conversion",
        "event_id": event_id,
        "unit_id": "a-1",
        "name": "purchase",
        "value": 59.9,
        "currency": "EUR",
        "ts": NOW_MS - 1_000,
    }
    event.update(changes)
    return {k: v for k, v in event.items() if v is not None}


def dismissal(event_id: str = "d-1", **changes: Any) -> dict[str, Any]:
    """A dismissal of what the decision of `token()` showed (unit a-1, experience hero)."""
    event = {"type": "dismissal", "event_id": event_id, "token": token(), "ts": NOW_MS - 1_000}
    event.update(changes)
    return {k: v for k, v in event.items() if v is not None}


class Bucket:
    """Objects by key, written only if absent (as the conditional PUT); can fail."""

    def __init__(self, fail: bool = False) -> None:
        self.objects: dict[str, bytes] = {}
        self.puts = 0
        self.fail = fail

    def put(self, key: str, body: bytes) -> bool:
        self.puts += 1
        if self.fail:
            raise Unavailable("bucket down")
        if key in self.objects:
            return False
        self.objects[key] = body
        return True

    def records(self) -> list[dict[str, Any]]:
        return [r for data in self.objects.values() for r in read_events(data)]
