"""One run of the nightly report: read, aggregate, build, act on the guardrails, write.

The I/O around the pure core (docs/report.md): experiences from DynamoDB as they stood
before this date's run (`earnest.report.guardrails.as_of` over the audit trail), erased subjects
from the consent table, the window's totals from the configured source
(earnest_aws.report_sources: events from S3 through `earnest.report.aggregation.Aggregator`,
or the same aggregation as one Athena query), last night's report.json; then `earnest.report.build`,
each guardrail change written back as operational state with `ExperiencesStore.save_ops`
(one audit entry per experience changed; the authored document is never touched), and
the files of `earnest.report.render` written to S3.

Idempotent: a re-run of a date reads the same experiences, builds the same report, finds
its changes already made (nothing written twice) and overwrites the same files.
Used by functions/nightly_report (the schedule) and `earnest report` (any date).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from earnest.events.batch import LIMITS
from earnest.experiences.lifecycle import effective
from earnest.experiences.operations import apply_guardrails
from earnest.report import build as report_build
from earnest.report import guardrails
from earnest.report import render as report_render
from earnest_aws.athena import AthenaQueries, AthenaSettings
from earnest_aws.experiences_store import OPERATIONAL, ExperiencesStore
from earnest_aws.report_sources import PYTHON, Queried, Source, Streamed
from earnest_aws.reports_store import ReportsStore, erased_subjects
from earnest_aws.settings import Settings, report_options

Log = Callable[[str, Mapping[str, Any]], None]
# GrowthBook's default CUPED lookback (docs/statistics.md, "CUPED").
DEFAULT_PRE_EXPOSURE_DAYS = 14


def _quiet(name: str, fields: Mapping[str, Any]) -> None:
    pass


@dataclass(frozen=True)
class ReportOptions:
    """How a run reads and acts (environment: REPORT_LOOKBACK_DAYS, ...; docs/report.md)."""

    lookback_days: int = report_build.DEFAULT_LOOKBACK_DAYS
    program_attribution_days: int = report_build.DEFAULT_ATTRIBUTION_DAYS
    # How late (in days) and how early (in seconds) /events accepts an event's time: the
    # partitions after the day and before a span's start that may hold its events.
    late_days: int = math.ceil(LIMITS.max_age_seconds / 86_400)
    early_seconds: int = LIMITS.max_future_seconds
    apply_guardrails: bool = True
    write: bool = True
    false_discovery_rate: bool = False  # REPORT_FDR=bh: Benjamini-Hochberg across the program
    aggregation: str = PYTHON  # REPORT_AGGREGATION: python (in this function) or athena
    athena: AthenaSettings | None = None  # REPORT_ATHENA_*, read when aggregation is athena
    # REPORT_PRE_EXPOSURE_DAYS: the days before each unit's first exposure whose conversions
    # are CUPED's covariate; that many more partitions are read before the window (0: none).
    pre_exposure_days: int = DEFAULT_PRE_EXPOSURE_DAYS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ReportOptions:
        options = report_options(env)  # declared in earnest_aws.settings
        athena = options.pop("athena")
        return cls(**options, athena=AthenaSettings(**athena) if athena else None)


@dataclass(frozen=True)
class ReportStores:
    """What a run reads and writes; the handler builds them once per cold start."""

    experiences: ExperiencesStore
    reports: ReportsStore
    erased: Callable[[], set[str]]
    source: Source  # where the window's totals come from (REPORT_AGGREGATION)

    @classmethod
    def from_settings(
        cls, settings: Settings, options: ReportOptions | None = None, log: Log = _quiet
    ) -> ReportStores:
        reports = ReportsStore(settings.events_bucket)
        athena = (options or ReportOptions()).athena
        source: Source = (
            Queried(AthenaQueries(athena, on_event=log), athena.events_table)
            if athena
            else Streamed(reports)
        )
        return cls(
            ExperiencesStore(settings.experiences_table),
            reports,
            lambda: erased_subjects(settings.consent_table),
            source,
        )


@dataclass
class RunResult:
    report: dict[str, Any]
    files: dict[str, tuple[bytes, str]]
    keys: list[str] = field(default_factory=list)
    applied: list[dict[str, Any]] = field(default_factory=list)  # written tonight
    already: list[dict[str, Any]] = field(default_factory=list)  # found already in place

    def summary(self) -> dict[str, Any]:
        return {
            "date": self.report["date"],
            **self.report["summary"],
            "applied": [a["experience"] for a in self.applied],
            "already_applied": [a["experience"] for a in self.already],
            "keys": self.keys,
        }


def report_date(event: Mapping[str, Any] | None, now: datetime | None = None) -> date:
    """The date an invocation reports: its `date`, else the day before the schedule fired.

    EventBridge's scheduled event carries `time`; reading the date from it (not from the
    clock) makes a retried invocation report the same day.
    """
    event = event or {}
    raw = event.get("date")
    if raw:
        return date.fromisoformat(str(raw))
    fired = event.get("time")
    moment = (
        datetime.fromisoformat(str(fired).replace("Z", "+00:00"))
        if fired
        else (now or datetime.now(UTC))
    )
    return (moment.astimezone(UTC) - timedelta(days=1)).date()


def load_experiences(store: ExperiencesStore, day: date) -> list[dict[str, Any]]:
    """Every experience as served before the report of `day` changed it.

    The report only ever writes operational state, so only that is walked back
    (`guardrails.as_of` over the operational audit entries); the authored part is as stored.
    """
    docs = []
    for stored in store.load_all():
        ops = stored.ops
        if ops and stored.updated_by == guardrails.ACTOR:  # only then can the newest be ours
            trail = [e for e in store.audit(stored.id) if e["kind"] == OPERATIONAL]
            ops = guardrails.as_of(ops, trail, day)
        docs.append(effective(stored.doc, ops))
    return docs


def apply_actions(
    store: ExperiencesStore,
    day: date,
    actions: list[guardrails.Action] | list[dict[str, Any]],
    log: Log = _quiet,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Write each experience's changes once, with one audit entry; skip what is in place
    (earnest.experiences.operations.apply_guardrails). What could not be written (throttled
    past the store's deadline, or losing every race) raises earnest.errors.GuardrailsPending,
    naming what was applied and what is pending: the run fails loudly."""
    made = [
        a if isinstance(a, guardrails.Action) else guardrails.Action.from_dict(a) for a in actions
    ]
    return apply_guardrails(store, day, made, log)


def run(
    day: date,
    settings: Settings,
    options: ReportOptions | None = None,
    log: Log = _quiet,
    stores: ReportStores | None = None,
) -> RunResult:
    options = options or ReportOptions()
    stores = stores or ReportStores.from_settings(settings, options, log)
    experiences, reports = stores.experiences, stores.reports
    docs = load_experiences(experiences, day)
    window = report_build.Window(
        day, options.lookback_days, options.late_days, options.early_seconds
    ).reading(docs)
    erased = stores.erased()
    totals = stores.source.totals(
        window, docs, erased, options.program_attribution_days, options.pre_exposure_days
    )
    log("events aggregated", {"aggregation": options.aggregation, **totals.counters})
    previous = reports.read_report(day - timedelta(days=1))
    report = report_build.build(
        window,
        docs,
        totals,
        previous,
        global_holdout=settings.global_holdout,
        program_attribution_days=options.program_attribution_days,
        erased_subjects=len(erased),
        false_discovery_rate=options.false_discovery_rate,
        pre_exposure_days=options.pre_exposure_days,
    )
    result = RunResult(report, report_render.render(report))
    if options.apply_guardrails:
        result.applied, result.already = apply_actions(experiences, day, report["guardrails"], log)
    if options.write:
        result.keys = reports.write(day, result.files)
    return result
