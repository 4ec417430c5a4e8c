"""A unit's memory: how often it was shown each experience per day, and what it dismissed.

What frequency caps and dismissals read (docs/decide.md, "Memory"). record-exposure writes
it (earnest.events.service, through a `MemoryStore`); decide reads it in the same read as
consent and the engine applies it per candidate. Kept bounded whatever a visitor does:
days older than `MAX_WINDOW_DAYS` are dropped, at most `MAX_EXPERIENCES` experiences are
remembered (the least recently seen go first), a day's count saturates at `MAX_COUNT`, and
the digests of the last `MAX_SEEN` events counted make a retried request count once.
Stored as compact JSON (`to_json`): well under DynamoDB's 400 KB item at every bound.
Pure: stdlib and orjson, read on decide's hot path.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

DAY_MS = 86_400_000
MAX_WINDOW_DAYS = 90  # the longest frequency_cap.per_days and dismiss_for_days
MAX_EXPOSURES = 1_000  # the largest frequency_cap.max_exposures
MAX_EXPERIENCES = 64
MAX_COUNT = 10_000
MAX_SEEN = 128


class Remembered(NamedTuple):
    """One event memory keeps: an exposure or a dismissal of an experience, at a time."""

    event_id: str
    experience: str
    at_ms: int


@dataclass(frozen=True, slots=True)
class Memory:
    # experience -> UTC day (days since 1970-01-01) -> exposures that day
    exposures: Mapping[str, Mapping[int, int]] = field(default_factory=dict)
    # experience -> when the unit last dismissed it (epoch ms)
    dismissed: Mapping[str, int] = field(default_factory=dict)
    seen: tuple[str, ...] = ()  # digests of the last events counted, oldest first

    def exposures_within(self, experience: str, now_ms: int, days: int) -> int:
        """Exposures on the last `days` UTC days, today included."""
        by_day = self.exposures.get(experience)
        if not by_day:
            return 0
        today = now_ms // DAY_MS
        return sum(n for day, n in by_day.items() if today - days < day <= today)

    def dismissed_within(self, experience: str, now_ms: int, days: int) -> bool:
        at = self.dismissed.get(experience)
        return at is not None and now_ms - at < days * DAY_MS


EMPTY = Memory()


def _digest(event_id: str) -> str:
    return hashlib.blake2b(event_id.encode(), digest_size=8).hexdigest()


def remember(
    memory: Memory,
    exposures: Iterable[Remembered],
    dismissals: Iterable[Remembered],
    now_ms: int,
) -> Memory | None:
    """Memory with these events counted (each event id once), pruned to its bounds; None
    when nothing new was counted (the caller writes nothing)."""
    seen = list(memory.seen)
    known = set(seen)
    counts = {e: dict(days) for e, days in memory.exposures.items()}
    dismissed = dict(memory.dismissed)
    changed = False
    for kind, events in ((0, exposures), (1, dismissals)):
        for event in events:
            digest = _digest(f"{kind}:{event.event_id}")
            if digest in known:
                continue
            known.add(digest)
            seen.append(digest)
            changed = True
            if kind == 0:
                by_day = counts.setdefault(event.experience, {})
                day = event.at_ms // DAY_MS
                by_day[day] = min(MAX_COUNT, by_day.get(day, 0) + 1)
            else:
                dismissed[event.experience] = max(event.at_ms, dismissed.get(event.experience, 0))
    if not changed:
        return None
    return _pruned(counts, dismissed, tuple(seen[-MAX_SEEN:]), now_ms)


def _pruned(
    counts: dict[str, dict[int, int]], dismissed: dict[str, int], seen: tuple[str, ...], now_ms: int
) -> Memory:
    oldest_day = now_ms // DAY_MS - MAX_WINDOW_DAYS
    counts = {
        e: kept
        for e, days in counts.items()
        if (kept := {d: n for d, n in days.items() if d > oldest_day})
    }
    dismissed = {e: at for e, at in dismissed.items() if now_ms - at < MAX_WINDOW_DAYS * DAY_MS}
    last: dict[str, int] = {e: max(days) * DAY_MS for e, days in counts.items()}
    for e, at in dismissed.items():
        last[e] = max(last.get(e, at), at)
    if len(last) > MAX_EXPERIENCES:
        keep = set(sorted(last, key=lambda e: (-last[e], e))[:MAX_EXPERIENCES])
        counts = {e: v for e, v in counts.items() if e in keep}
        dismissed = {e: v for e, v in dismissed.items() if e in keep}
    return Memory(counts, dismissed, seen)


def to_json(memory: Memory) -> str:
    """`{"x": {experience: {day: n}}, "d": {experience: ms}, "s": [digest, …]}`."""
    doc: dict[str, Any] = {
        "x": {e: {str(d): n for d, n in days.items()} for e, days in memory.exposures.items()},
        "d": dict(memory.dismissed),
        "s": list(memory.seen),
    }
    return orjson.dumps(doc).decode()


def from_json(text: str) -> Memory:
    """Stored memory; anything unreadable reads as empty (memory only ever suppresses)."""
    try:
        doc = orjson.loads(text)
        exposures = {
            str(e): {int(d): int(n) for d, n in days.items()} for e, days in doc["x"].items()
        }
        dismissed = {str(e): int(at) for e, at in doc["d"].items()}
        seen = tuple(str(s) for s in doc["s"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return EMPTY
    return Memory(exposures, dismissed, seen)
