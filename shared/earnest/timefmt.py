"""How Earnest writes a moment: ISO 8601 UTC with milliseconds (`2026-11-22T10:15:30.123Z`).

One format for every stored and answered time (events, consent history, receipts). Pure
and tiny; `format_ms` is on /events' per-event path, so it caches each second's head.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


def format_ms(ms: int) -> str:
    """Epoch milliseconds in Earnest's format."""
    seconds, millis = divmod(ms, 1000)
    head = _SECONDS.get(seconds)
    if head is None:
        if len(_SECONDS) > 4096:  # a batch's events share a few seconds; keep it small
            _SECONDS.clear()
        t = time.gmtime(seconds)
        head = _SECONDS[seconds] = (
            f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}."
        )
    return head + _MILLIS[millis]


_SECONDS: dict[int, str] = {}
_MILLIS = tuple(f"{m:03d}Z" for m in range(1000))


def format_time(moment: datetime) -> str:
    """A datetime (with a zone) in Earnest's format; microseconds are cut, not rounded."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_ms(text: str) -> int:
    """A time in Earnest's format back to epoch milliseconds."""
    return (datetime.fromisoformat(text.replace("Z", "+00:00")) - _EPOCH) // timedelta(
        milliseconds=1
    )
