"""The time a night's report reads: each experience's analysed span and the partitions read.

Owns `Window` (the report's day, its lookback and how late and early events may be
stamped: which partitions a night reads) and `Span` (the event times one analysis counts:
an experience's current allocation, or the program's lookback); docs/report.md, "Which
events a night reads".

Pure: stdlib only (and the core). It must not import boto3, pydantic or `earnest_aws`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from earnest.report.guardrails import end_of, ends_at
from earnest.report.plan import tracked
from earnest.timefmt import format_time

DEFAULT_LOOKBACK_DAYS = 28  # the program's window, and experiences without an allocation
MAX_ANALYSIS_DAYS = 400  # the longest allocation a report analyses (docs/report.md)


@dataclass(frozen=True, slots=True)
class Span:
    """The event times one analysis counts, `start` (inclusive) to `end` (exclusive).

    `allocation_started_at`: the start of the experience's current allocation when its
    operational state records one (the analysis starts there, at most MAX_ANALYSIS_DAYS
    back); None for the program and for an experience stored before allocations were
    recorded, which are analysed over the lookback.
    """

    start: datetime
    end: datetime
    allocation_started_at: str | None = None

    @property
    def days(self) -> float:
        """Its length in days, at least one (the traffic forecast divides by it)."""
        return max((self.end - self.start) / timedelta(days=1), 1.0)

    def bounds(self) -> tuple[str, str]:
        """Start and end in the stored time format, as the aggregation compares them."""
        return format_time(self.start), format_time(self.end)

    def as_dict(self) -> dict[str, Any]:
        start, end = self.bounds()
        return {
            "allocation_started_at": self.allocation_started_at,
            "events_from": start,
            "events_before": end,
            "days": round((self.end - self.start) / timedelta(days=1), 3),
        }


@dataclass(frozen=True, slots=True)
class Window:
    """What a report reads: events stamped up to the end of `day`, in which partitions.

    Each experience is analysed from the start of its current allocation (`span`), the
    program over the last `lookback_days`; events are filed by arrival day, so the
    partitions read run from the earliest start (an experience's less `early_seconds`, how
    far ahead of its arrival an event may be stamped) to `late_days` after `day` (how late
    an event may arrive), and a re-run once those have passed counts the same events.
    """

    day: date
    lookback_days: int = DEFAULT_LOOKBACK_DAYS
    late_days: int = 0
    early_seconds: int = 0
    reads_from: date | None = None  # the first partition (None: the program's start)

    def __post_init__(self) -> None:
        if self.lookback_days < 1:
            raise ValueError("lookback_days must be at least 1")

    @property
    def end(self) -> datetime:
        return end_of(self.day)

    def program_span(self) -> Span:
        return Span(self.end - timedelta(days=self.lookback_days), self.end)

    def span(self, doc: Mapping[str, Any]) -> Span:
        """The events an experience's analysis counts: its current allocation, up to the
        end of `day` or its `ends_at`, at most MAX_ANALYSIS_DAYS."""
        started = _time(doc.get("allocation_started_at"))
        end = min(self.end, ends_at(doc) or self.end)
        earliest = self.end - timedelta(days=MAX_ANALYSIS_DAYS)
        start = max(started, earliest) if started else self.program_span().start
        return Span(min(start, end), end, format_time(started) if started else None)

    def reading(self, docs: Sequence[Mapping[str, Any]]) -> Window:
        """This window, reading every partition that the spans of `docs` need."""
        active = tracked(docs)
        early = timedelta(seconds=self.early_seconds)
        starts = [self.span(d).start - early for d in docs if str(d.get("id")) in active]
        first = min([*starts, self.program_span().start]).date()
        return replace(self, reads_from=first)

    @property
    def start(self) -> date:
        return self.reads_from or self.program_span().start.date()

    def days(self) -> list[date]:
        count = (self.day - self.start).days + 1 + self.late_days
        return [self.start + timedelta(days=i) for i in range(count)]

    def as_dict(self) -> dict[str, Any]:
        last = self.day + timedelta(days=self.late_days)
        return {
            "start": self.start.isoformat(),
            "end": self.day.isoformat(),
            "lookback_days": self.lookback_days,
            "late_days": self.late_days,
            "events_before": format_time(self.end),
            "last_partition": last.isoformat(),
            "partitions": f"events/dt={self.start.isoformat()}/ .. events/dt={last.isoformat()}/",
        }


def _time(value: Any) -> datetime | None:
    """An ISO time with a zone from a document, or None when missing or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def spans(window: Window, docs: Sequence[Mapping[str, Any]]) -> dict[str, tuple[str, str]]:
    """Each tracked experience's analysed event times, as the aggregation takes them."""
    by_id = {str(d.get("id")): d for d in docs}
    return {exp_id: window.span(by_id[exp_id]).bounds() for exp_id in tracked(docs)}


def days_before(start: date, days: int) -> list[date]:
    """The `days` days before `start`, oldest first: the partitions read for CUPED's covariate.

    A separate list from `Window.days()`, so whichever days a night analyses, the
    covariate's extra days are the N before the first of them.
    """
    return [start - timedelta(days=days - i) for i in range(days)]
