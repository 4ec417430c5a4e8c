"""Where the nightly report's totals come from: events streamed through the run, or one query.

Two sources behind one interface (`Source.totals`), chosen by REPORT_AGGREGATION
(docs/report.md, "Scale"):

- `Streamed` (python, the default): the window's stored objects, read one at a time from
  an `EventObjects` store (earnest_aws.reports_store.ReportsStore over S3), into
  `earnest.report.aggregation.Aggregator`; memory holds per-unit state.
- `Queried` (athena): `earnest.report.sql.render` for the window, run by a `QueryRunner`
  (earnest_aws.athena.AthenaQueries in AWS; DuckDB over the same files in the tests and
  the bench), its rows turned into the same `Totals` by `earnest.report.sql.totals_from_rows`.

Either way `earnest.report.build` gets `Totals` and builds the same report.

Pure: stdlib only (and the core). It must not import boto3 or `earnest_aws`: the stores
behind its Protocols are the adapters'.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from earnest.report import sql as report_sql
from earnest.report.aggregation import Aggregator
from earnest.report.plan import tracked
from earnest.report.totals import Totals
from earnest.report.window import Window, days_before, spans

PYTHON = "python"
ATHENA = "athena"
AGGREGATIONS = (PYTHON, ATHENA)


class Source(Protocol):
    def totals(
        self,
        window: Window,
        docs: Sequence[Mapping[str, Any]],
        erased: Collection[str],
        program_attribution_days: int,
        pre_exposure_days: int = 0,
    ) -> Totals:
        """Totals of the window's events for the tracked `docs` (each over its own span, as
        `earnest.report.window.spans` gives it), the erased subjects left out; each unit's
        conversions in the `pre_exposure_days` before its first exposure are CUPED's
        covariate (that many more partitions read before the window)."""
        ...


class EventObjects(Protocol):
    def event_objects(self, day: date) -> Iterator[tuple[str, bytes]]:
        """(key, gzip NDJSON bytes) of every stored events object of `day`, in key order."""
        ...


class QueryRunner(Protocol):
    def rows(self, query: str) -> Iterable[Mapping[str, Any]]:
        """The result set of one query, row by row, each by column name."""
        ...


@dataclass(frozen=True)
class Streamed:
    """The Python path: every stored object of the window through this function."""

    reports: EventObjects

    def totals(
        self,
        window: Window,
        docs: Sequence[Mapping[str, Any]],
        erased: Collection[str],
        program_attribution_days: int,
        pre_exposure_days: int = 0,
    ) -> Totals:
        aggregator = Aggregator(
            tracked(docs),
            erased=erased,
            program_attribution_days=program_attribution_days,
            spans=spans(window, docs),
            program_span=window.program_span().bounds(),
            pre_exposure_days=pre_exposure_days,
        )
        # The covariate's days first (their conversions only), then the window's.
        for day in [*days_before(window.start, pre_exposure_days), *window.days()]:
            aggregator.partition(day.isoformat(), pre_exposure=day < window.start)
            for _, data in self.reports.event_objects(day):
                aggregator.feed_object(data)
        return aggregator.totals()


@dataclass(frozen=True)
class Queried:
    """The SQL path: the aggregation as one query over the events table."""

    runner: QueryRunner
    events_table: str = report_sql.DEFAULT_EVENTS_TABLE

    def totals(
        self,
        window: Window,
        docs: Sequence[Mapping[str, Any]],
        erased: Collection[str],
        program_attribution_days: int,
        pre_exposure_days: int = 0,
    ) -> Totals:
        experiences = tracked(docs)
        query = report_sql.render(
            window.start.isoformat(),
            window.days()[-1].isoformat(),
            experiences,
            erased,
            events_table=self.events_table,
            program_attribution_days=program_attribution_days,
            spans=spans(window, docs),
            program_span=window.program_span().bounds(),
            pre_exposure_days=pre_exposure_days,
        )
        return report_sql.totals_from_rows(self.runner.rows(query), experiences)
