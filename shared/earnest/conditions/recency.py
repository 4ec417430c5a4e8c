"""Recency in audiences: `$withinDays` and `$olderThanDays`, and the request's time they read.

A time-stamped attribute is ISO 8601 with a zone (`2026-03-01T12:00:00Z`,
`2026-03-01T13:00:00.250+01:00`) or epoch milliseconds (a finite number). Text is read by
one strict grammar and plain integer arithmetic, not `datetime.fromisoformat` (which takes
forms JavaScript's `Date.parse` does not, and the reverse): the edge's JS twin
(clients/edge-worker/src/engine/conditions.js) reads the same texts to the same
milliseconds. Anything else (no zone, a date alone, a bad day, a boolean, a list, null) is
not a time: neither operator matches it.

The request's time is decide's clock when it decides (`at_time`, which `Engine.decide` and
`explain` enter); outside one, the wall clock. A time up to `FUTURE_SKEW_MS` ahead of it
counts as now (the site's clock may run a little fast); further ahead it matches neither
operator. Stdlib only: on decide's hot path.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

DAY_MS = 86_400_000
MAX_DAYS = 36_500  # a hundred years: past any window an audience means
FUTURE_SKEW_MS = 300_000  # as far ahead as an event's ts may be (events.Limits)
MAX_EPOCH_MS = 8.64e15  # the range of a JavaScript Date
RECENCY_OPERATORS = frozenset({"$withinDays", "$olderThanDays"})

_NOW_MS: ContextVar[int | None] = ContextVar("earnest_request_time_ms", default=None)

# Date, time to the minute, optional seconds and fraction, then Z or an offset. ASCII
# digits only ([0-9], not \d, which in Python takes any script's digits).
_ISO = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2})"
    r"(?::([0-9]{2})(?:[.,]([0-9]{1,9}))?)?"
    r"(?:[Zz]|([+-])([0-9]{2}):?([0-9]{2}))"
)
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@contextmanager
def at_time(now_ms: int) -> Iterator[None]:
    """Evaluate recency against `now_ms` (epoch milliseconds) inside the block."""
    token = _NOW_MS.set(now_ms)
    try:
        yield
    finally:
        _NOW_MS.reset(token)


def request_time_ms() -> int:
    now = _NOW_MS.get()
    return int(time.time() * 1000) if now is None else now


def reads_time(condition: Any) -> bool:
    """Whether a condition uses a recency operator anywhere (then decide sets the time)."""
    if isinstance(condition, Mapping):
        return any(k in RECENCY_OPERATORS or reads_time(v) for k, v in condition.items())
    if isinstance(condition, list):
        return any(reads_time(v) for v in condition)
    return False


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    return era * 146_097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719_468


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _from_text(text: str) -> int | None:
    found = _ISO.fullmatch(text) if len(text) <= 40 else None
    if found is None:
        return None
    y, mo, d, h, mi, s, frac, sign, oh, om = found.groups()
    year, month, day = int(y), int(mo), int(d)
    if not 1 <= month <= 12:
        return None
    days_in_month = 29 if month == 2 and _leap(year) else _MONTH_DAYS[month - 1]
    hour, minute, second = int(h), int(mi), int(s or 0)
    if not (1 <= day <= days_in_month and hour <= 23 and minute <= 59 and second <= 59):
        return None
    offset = 0
    if sign is not None:
        if int(oh) > 23 or int(om) > 59:
            return None
        offset = (int(oh) * 60 + int(om)) * 60_000 * (1 if sign == "+" else -1)
    ms = int((frac or "").ljust(3, "0")[:3])
    days = _days_from_civil(year, month, day)
    return ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + ms - offset


def time_ms(value: Any) -> float | None:
    """A time-stamped attribute as epoch milliseconds, or None when it is not a time."""
    if type(value) is str:
        return _from_text(value)
    if (type(value) is int or type(value) is float) and -MAX_EPOCH_MS <= value <= MAX_EPOCH_MS:
        return value  # also refuses nan and the infinities
    return None


def days_argument(arg: Any) -> float | None:
    """An operator's number of days, or None when it is not one (validate names it)."""
    if isinstance(arg, bool) or not isinstance(arg, int | float):
        return None
    if not math.isfinite(arg) or not 0 <= arg <= MAX_DAYS:
        return None
    return float(arg)


def recency_test(op: str, arg: Any) -> Callable[[Any], bool]:
    """The test of one attribute value against `{op: arg}`; never matches a bad argument."""
    days = days_argument(arg)
    if days is None:
        return lambda _actual: False
    span = days * DAY_MS
    within = op == "$withinDays"

    def test(actual: Any) -> bool:
        at = time_ms(actual)
        if at is None:
            return False
        age = request_time_ms() - at
        if age < -FUTURE_SKEW_MS:
            return False
        return age <= span if within else age > span

    return test
