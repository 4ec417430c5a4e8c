"""One night's report, the use case: read, aggregate, build, act on the guardrails, write.

Owns the run (docs/report.md): the experiences as they stood before this date's run
(`earnest.report.guardrails.as_of` over the audit trail), the erased subjects, the
window's totals from a `Source` (`earnest.report.sources`), last night's report; then
`earnest.report.build`, each experience's guardrail `Action`s written back as operational
state with one audit entry, and the files of `earnest.report.render` written.

A guardrail action is applied or the run fails loudly: the lifecycle applies them
(`earnest.experiences.operations.apply_guardrails`: a write that raced another change is
re-read and tried again, and the store retries a throttled write with backoff), and no
experience's write is begun past the run's deadline; what is not applied is `pending` in
the report, the report is written, and the run raises `GuardrailsPending`, an
`Unavailable` (Lambda's retry, the dead-letter queue, the alarm). Idempotent: a re-run of
a date reads the same experiences, builds the same report, finds the changes already made
(nothing written twice), applies what was pending once, and overwrites the same files.

The stores are Protocols; earnest_aws.nightly_report wires DynamoDB and S3 behind them.
Pure: stdlib only (and the core). It must not import boto3, pydantic or `earnest_aws`.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from earnest.errors import GuardrailsPending
from earnest.events.batch import LIMITS
from earnest.experiences.lifecycle import effective
from earnest.experiences.operations import apply_guardrails
from earnest.experiences.store import OPERATIONAL, ExperienceStore
from earnest.report import guardrails
from earnest.report import render as report_render
from earnest.report.build import APPLIED, assemble
from earnest.report.plan import DEFAULT_ATTRIBUTION_DAYS
from earnest.report.sources import Source
from earnest.report.summary import in_words
from earnest.report.window import DEFAULT_LOOKBACK_DAYS, Window

Log = Callable[[str, Mapping[str, Any]], None]
# GrowthBook's default CUPED lookback (docs/statistics.md, "CUPED").
DEFAULT_PRE_EXPOSURE_DAYS = 14


def quiet(name: str, fields: Mapping[str, Any]) -> None:
    pass


class ReportFiles(Protocol):
    """Where reports are read (last night's) and written (tonight's)."""

    def read_report(self, day: date | str) -> dict[str, Any] | None: ...
    def report_dates(self) -> list[date]: ...
    def write(self, day: date, files: Mapping[str, tuple[bytes, str]]) -> list[str]: ...


@dataclass(frozen=True)
class RunOptions:
    """How a run reads and acts (the adapter reads them from the environment)."""

    lookback_days: int = DEFAULT_LOOKBACK_DAYS
    program_attribution_days: int = DEFAULT_ATTRIBUTION_DAYS
    # How late (in days) and how early (in seconds) /events accepts an event's time: the
    # partitions after the day and before a span's start that may hold its events.
    late_days: int = math.ceil(LIMITS.max_age_seconds / 86_400)
    early_seconds: int = LIMITS.max_future_seconds
    apply_guardrails: bool = True
    write: bool = True
    false_discovery_rate: bool = False  # REPORT_FDR=bh: Benjamini-Hochberg across the program
    # REPORT_PRE_EXPOSURE_DAYS: the days before each unit's first exposure whose conversions
    # are CUPED's covariate; that many more partitions are read before the window (0: none).
    pre_exposure_days: int = DEFAULT_PRE_EXPOSURE_DAYS


@dataclass(frozen=True)
class Stores:
    """What a run reads and writes."""

    experiences: ExperienceStore  # earnest.experiences.store
    reports: ReportFiles
    erased: Callable[[], set[str]]
    source: Source  # where the window's totals come from (REPORT_AGGREGATION)


@dataclass
class RunResult:
    report: dict[str, Any]
    files: dict[str, tuple[bytes, str]]
    keys: list[str] = field(default_factory=list)
    applied: list[dict[str, Any]] = field(default_factory=list)  # written tonight
    already: list[dict[str, Any]] = field(default_factory=list)  # found already in place
    pending: list[dict[str, Any]] = field(default_factory=list)  # not applied by the deadline

    def summary(self) -> dict[str, Any]:
        return {
            "date": self.report["date"],
            **self.report["summary"],
            "applied": [a["experience"] for a in self.applied],
            "already_applied": [a["experience"] for a in self.already],
            "pending": [a["experience"] for a in self.pending],
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


def load_experiences(store: ExperienceStore, day: date) -> list[dict[str, Any]]:
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


def _inventory(report: dict[str, Any], stores: Stores, day: date) -> None:
    """The program view in tonight's report: every experience as the store holds it now
    (tonight's guardrails included), measured by tonight's report or the stored ones before
    it, and the program's history (earnest.program.inventory)."""
    from earnest.experiences.retirement import end_of
    from earnest.program import inventory, timeline

    reports = itertools.chain([report], inventory.stored_reports(stores.reports, before=day))
    report["inventory"], report["program"]["history"] = inventory.sections(
        timeline.read(stores.experiences), reports, day, end_of(day)
    )


def run(
    day: date,
    stores: Stores,
    options: RunOptions,
    *,
    global_holdout: float,
    log: Log = quiet,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> RunResult:
    """The report of `day`, its guardrails applied and its files written.

    Raises GuardrailsPending (an Unavailable), after writing the report that says what is
    pending, when a guardrail action could not be applied (the store still throttled, every
    race lost, or `deadline`, a `clock` time, passed first), so the run fails where an
    operator sees it.
    """
    docs = load_experiences(stores.experiences, day)
    window = Window(day, options.lookback_days, options.late_days, options.early_seconds)
    window = window.reading(docs)
    erased = stores.erased()
    totals = stores.source.totals(
        window, docs, erased, options.program_attribution_days, options.pre_exposure_days
    )
    log("events aggregated", totals.counters)
    built = assemble(
        window,
        docs,
        totals,
        stores.reports.read_report(day - timedelta(days=1)),
        global_holdout=global_holdout,
        program_attribution_days=options.program_attribution_days,
        erased_subjects=len(erased),
        false_discovery_rate=options.false_discovery_rate,
        pre_exposure_days=options.pre_exposure_days,
    )
    report = built.report
    result = RunResult(report, {})
    failed: GuardrailsPending | None = None
    if options.apply_guardrails:
        try:
            result.applied, result.already = apply_guardrails(
                stores.experiences, day, built.actions, log, deadline=deadline, clock=clock
            )
        except GuardrailsPending as exc:
            failed = exc
            result.applied, result.already, result.pending = exc.applied, exc.already, exc.pending
        in_place = {e["experience"] for e in [*result.applied, *result.already]}
        for listed in report["guardrails"]:
            if listed["experience"] in in_place:
                listed["status"] = APPLIED
        if result.pending:
            pending = {e["experience"] for e in result.pending}
            report["summary"]["in_words"] = in_words(
                day, report["experiences"], built.actions, pending
            )
    _inventory(report, stores, day)
    result.files = report_render.render(report)
    if options.write:
        result.keys = stores.reports.write(day, result.files)
    if failed is not None:
        raise failed  # the report that says pending is written: now fail loudly
    return result
