"""The nightly report's wiring: its options from the environment, its stores on AWS.

The run itself is the core's (`earnest.report.nightly`); this builds what it reads and
writes: experiences from DynamoDB (`ExperiencesStore`), reports and events in S3
(`ReportsStore`), erased subjects from the consent table's index, and the window's totals
from the configured source (`earnest.report.sources`: events streamed from S3, or the same
aggregation as one Athena query). Used by functions/nightly_report (the schedule) and
`earnest report` (any date).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from earnest.report.nightly import Log, RunOptions, RunResult, Stores, quiet
from earnest.report.nightly import run as run_nightly
from earnest.report.sources import PYTHON, Queried, Source, Streamed
from earnest_aws.athena import AthenaQueries, AthenaSettings
from earnest_aws.experiences_store import ExperiencesStore
from earnest_aws.reports_store import ReportsStore, erased_subjects
from earnest_aws.settings import Settings, report_options

# What a Lambda run keeps of its remaining time to write the report: no guardrail write is
# begun later than this before the end (one write's throttling retries,
# earnest_aws.experiences_store.THROTTLE_SECONDS, fit in it with the report's write).
WRITE_MARGIN_SECONDS = 60.0


@dataclass(frozen=True)
class ReportOptions(RunOptions):
    """How a run reads and acts (environment: REPORT_LOOKBACK_DAYS, ...; docs/report.md)."""

    aggregation: str = PYTHON  # REPORT_AGGREGATION: python (in this function) or athena
    athena: AthenaSettings | None = None  # REPORT_ATHENA_*, read when aggregation is athena

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ReportOptions:
        options = report_options(env)  # declared in earnest_aws.settings
        athena = options.pop("athena")
        return cls(**options, athena=AthenaSettings(**athena) if athena else None)


def stores_from_settings(
    settings: Settings, options: ReportOptions | None = None, log: Log = quiet
) -> Stores:
    """The run's stores; the handler builds them once per cold start."""
    reports = ReportsStore(settings.events_bucket)
    athena = (options or ReportOptions()).athena
    source: Source = (
        Queried(AthenaQueries(athena, on_event=log), athena.events_table)
        if athena
        else Streamed(reports)
    )
    return Stores(
        ExperiencesStore(settings.experiences_table),
        reports,
        lambda: erased_subjects(settings.consent_table),
        source,
    )


def run(
    day: date,
    settings: Settings,
    options: ReportOptions | None = None,
    log: Log = quiet,
    stores: Stores | None = None,
    remaining_seconds: float | None = None,
) -> RunResult:
    """The core's run over these stores; `remaining_seconds`: the Lambda's time left (no
    guardrail write is begun in its last WRITE_MARGIN_SECONDS; None: no deadline)."""
    options = options or ReportOptions()
    deadline = (
        None
        if remaining_seconds is None
        else time.monotonic() + max(remaining_seconds - WRITE_MARGIN_SECONDS, 0.0)
    )
    log("report options", {"aggregation": options.aggregation})
    return run_nightly(
        day,
        stores or stores_from_settings(settings, options, log),
        options,
        global_holdout=settings.global_holdout,
        log=log,
        deadline=deadline,
    )
