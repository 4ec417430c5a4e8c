"""The report's two paths over the same stored files: streamed (Python) and one query (SQL).

A folder laid out as the events bucket (events/dt=…/hour=…/*.ndjson.gz, written by
tests.builders.report_events) is read by `earnest.report.sources.Streamed`, in S3's key
order, and by `Queried` on DuckDB (tests.builders.duckdb_queries); each path's totals, and
the report built from them, come back side by side.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from earnest.report import build as report_build
from earnest.report.sources import Queried, Streamed
from earnest.report.totals import Totals
from earnest.report.window import Window
from tests.builders.duckdb_queries import DuckDBQueries


class FolderEvents:
    """A day's stored objects from the folder, in key order (ReportsStore.event_objects)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def event_objects(self, day: date) -> Iterator[tuple[str, bytes]]:
        folder = self.root / "events" / f"dt={day.isoformat()}"
        for path in sorted(folder.glob("hour=*/*.ndjson.gz")):
            yield str(path.relative_to(self.root)), path.read_bytes()


def comparable(report: Mapping[str, Any]) -> dict[str, Any]:
    """A report without its `events` counters, which only the Python path counts in full
    (records, duplicates, erased, malformed: docs/report.md, "Scale"); all else is equal."""
    return {k: v for k, v in report.items() if k != "events"}


def both_totals(
    root: Path,
    docs: Sequence[Mapping[str, Any]],
    window: Window,
    erased: Collection[str] = frozenset(),
    *,
    pre_exposure_days: int = 0,
    program_attribution_days: int = 7,
) -> tuple[Totals, Totals]:
    """(Python path's totals, SQL path's totals) of the folder's events."""
    args = (window, docs, erased, program_attribution_days, pre_exposure_days)
    python = Streamed(FolderEvents(root)).totals(*args)
    sql = Queried(DuckDBQueries(root), "earnest_events").totals(*args)
    return python, sql


def both_reports(
    root: Path,
    docs: Sequence[Mapping[str, Any]],
    window: Window,
    erased: Collection[str] = frozenset(),
    *,
    pre_exposure_days: int = 0,
    global_holdout: float = 0.0,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(Python path's report, SQL path's report) of the folder's events."""
    pair = both_totals(root, docs, window, erased, pre_exposure_days=pre_exposure_days)
    return reports_of(pair, docs, window, len(erased), pre_exposure_days, global_holdout)


def reports_of(
    pair: tuple[Totals, Totals],
    docs: Sequence[Mapping[str, Any]],
    window: Window,
    erased_subjects: int = 0,
    pre_exposure_days: int = 0,
    global_holdout: float = 0.0,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The reports built from each path's totals (`both_totals`)."""

    def report(totals: Totals) -> dict[str, Any]:
        return report_build.build(
            window,
            docs,
            totals,
            None,
            global_holdout=global_holdout,
            erased_subjects=erased_subjects,
            pre_exposure_days=pre_exposure_days,
        )

    return report(pair[0]), report(pair[1])
