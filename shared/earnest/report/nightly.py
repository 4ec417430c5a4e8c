"""One night's report, the use case: read, aggregate, build, act on the guardrails, write.

Owns the run (docs/report.md): the experiences as they stood before this date's run
(`earnest.report.guardrails.as_of` over the audit trail), the erased subjects, the
window's totals from a `Source` (`earnest.report.sources`), last night's report; then
`earnest.report.build`, each experience's guardrail `Action`s written back as operational
state with one audit entry, and the files of `earnest.report.render` written.

A guardrail action is applied or the run fails loudly: a write that raced another change
is re-read and tried again, a store that is unavailable (throttled, timed out) is retried
with backoff, both until the run's deadline; what is still not applied then is `pending` in
the report, the report is written, and the run raises `Unavailable` (Lambda's retry, the
dead-letter queue, the alarm). Idempotent: a re-run of a date reads the same experiences,
builds the same report, finds the changes already made (nothing written twice), applies
what was pending once, and overwrites the same files.

The stores are Protocols; earnest_aws.nightly_report wires DynamoDB and S3 behind them.
Pure: stdlib only (and the core). It must not import boto3, pydantic or `earnest_aws`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol, TypeVar

from earnest.errors import ConcurrentModification, Unavailable
from earnest.events.batch import LIMITS
from earnest.experiences.lifecycle import OPERATIONAL, effective
from earnest.report import guardrails
from earnest.report import render as report_render
from earnest.report.build import APPLIED, assemble
from earnest.report.guardrails import Action
from earnest.report.plan import DEFAULT_ATTRIBUTION_DAYS
from earnest.report.sources import Source
from earnest.report.summary import in_words
from earnest.report.window import DEFAULT_LOOKBACK_DAYS, Window
from earnest.timefmt import format_time

Log = Callable[[str, Mapping[str, Any]], None]
# GrowthBook's default CUPED lookback (docs/statistics.md, "CUPED").
DEFAULT_PRE_EXPOSURE_DAYS = 14
# How long a run without a deadline of its own (`earnest report`) keeps retrying a write.
DEFAULT_APPLY_SECONDS = 60.0
FIRST_WAIT_SECONDS = 0.1
LONGEST_WAIT_SECONDS = 5.0
# The order in which one audit entry names an experience's changes (the strongest first).
_ACTION_ORDER = (guardrails.RETIRE, guardrails.PAUSE_EXPERIENCE, guardrails.PAUSE_VARIANT)


def quiet(name: str, fields: Mapping[str, Any]) -> None:
    pass


def _now() -> str:
    return format_time(datetime.now(UTC))


class Stored(Protocol):
    """An experience as the store holds it: authored document, operational state, version."""

    @property
    def id(self) -> str: ...
    @property
    def doc(self) -> dict[str, Any]: ...
    @property
    def ops(self) -> dict[str, Any]: ...
    @property
    def updated_by(self) -> str: ...
    @property
    def effective(self) -> dict[str, Any]: ...


S = TypeVar("S", bound=Stored)


class ExperienceStore(Protocol[S]):
    """The experiences a run reads and the operational state it writes back."""

    def load_all(self) -> Sequence[S]: ...
    def get(self, experience_id: str) -> S | None: ...
    def audit(self, experience_id: str) -> list[dict[str, Any]]: ...
    def save_ops(
        self,
        stored: S,
        ops: Mapping[str, Any],
        actor: str,
        action: str,
        reason: str,
        evidence: Mapping[str, Any] | None = None,
        changes: Mapping[str, Any] | None = None,
        allocation_at: str | None = None,
    ) -> int:
        """Raises ConcurrentModification when another write won, Unavailable on a fault."""
        ...


class ReportFiles(Protocol):
    """Where reports are read (last night's) and written (tonight's)."""

    def read_report(self, day: date | str) -> dict[str, Any] | None: ...
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

    experiences: ExperienceStore[Any]
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


def load_experiences(store: ExperienceStore[Any], day: date) -> list[dict[str, Any]]:
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


@dataclass
class Applied:
    """What became of each experience's actions: entries {experience, actions[, version]}."""

    applied: list[dict[str, Any]] = field(default_factory=list)
    already: list[dict[str, Any]] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)


def apply_actions(
    store: ExperienceStore[Any],
    day: date,
    actions: Iterable[Action],
    log: Log = quiet,
    *,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], str] = _now,
) -> Applied:
    """Write each experience's changes once, with one audit entry; skip what is in place.

    A lost race is re-read and tried again; an unavailable store (throttled, timed out) is
    retried with waits doubling from FIRST_WAIT_SECONDS to LONGEST_WAIT_SECONDS; both until
    `deadline` (`clock` time; None: DEFAULT_APPLY_SECONDS from now). What is not written
    by then is `pending`.
    """
    by_experience: dict[str, list[Action]] = {}
    for a in actions:
        by_experience.setdefault(a.experience, []).append(a)
    until = clock() + DEFAULT_APPLY_SECONDS if deadline is None else deadline
    out = Applied()
    for exp_id, mine in by_experience.items():
        entry = {"experience": exp_id, "actions": [a.action for a in mine]}
        wait = FIRST_WAIT_SECONDS
        attempt = 0
        while True:
            try:
                outcome = _apply_one(store, day, exp_id, mine, now())
            except ConcurrentModification:
                log("guardrail raced another change; re-reading", {**entry, "attempt": attempt})
            except Unavailable as exc:
                log(
                    "guardrail not written; retrying",
                    {**entry, "attempt": attempt, "error": exc.code, "message": exc.message},
                )
            else:
                if outcome is None:
                    out.already.append(entry)
                    log("guardrail already applied", entry)
                else:
                    out.applied.append({**entry, "version": outcome})
                    log("guardrail applied", {**entry, "version": outcome})
                break
            attempt += 1
            left = until - clock()
            if left <= 0:
                out.pending.append(entry)
                log("guardrail pending: not applied by the run's deadline", entry)
                break
            sleep(min(wait, left))
            wait = min(wait * 2, LONGEST_WAIT_SECONDS)
    return out


def _apply_one(
    store: ExperienceStore[Any], day: date, exp_id: str, mine: Sequence[Action], at: str
) -> int | None:
    """One attempt: the new version, or None when the changes are already in place."""
    current = store.get(exp_id)
    if current is None:
        raise Unavailable(f"experience {exp_id!r} cannot be found to apply its guardrails")
    new_ops = guardrails.record(current.ops, current.effective, mine, at)
    if new_ops == current.ops:
        return None
    kinds = {a.action for a in mine}
    return store.save_ops(
        current,
        new_ops,
        allocation_at=min(at, format_time(guardrails.end_of(day))),
        actor=guardrails.ACTOR,
        action=next(k for k in _ACTION_ORDER if k in kinds),
        reason="; ".join(a.reason for a in mine),
        evidence={
            "report_date": day.isoformat(),
            "report": f"reports/dt={day.isoformat()}/report.json",
            "actions": [a.as_dict() for a in mine],
        },
        changes=guardrails.changes(current.ops, new_ops),
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
    sleep: Callable[[float], None] = time.sleep,
) -> RunResult:
    """The report of `day`, its guardrails applied and its files written.

    Raises Unavailable, after writing the report, when a guardrail action is still
    pending at `deadline` (a `clock` time), so the run fails where an operator sees it.
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
    if options.apply_guardrails:
        outcome = apply_actions(
            stores.experiences,
            day,
            built.actions,
            log,
            deadline=deadline,
            clock=clock,
            sleep=sleep,
        )
        result.applied, result.already, result.pending = (
            outcome.applied,
            outcome.already,
            outcome.pending,
        )
        in_place = {e["experience"] for e in [*outcome.applied, *outcome.already]}
        for listed in report["guardrails"]:
            if listed["experience"] in in_place:
                listed["status"] = APPLIED
        if outcome.pending:
            pending = {e["experience"] for e in outcome.pending}
            report["summary"]["in_words"] = in_words(
                day, report["experiences"], built.actions, pending
            )
    result.files = report_render.render(report)
    if options.write:
        result.keys = stores.reports.write(day, result.files)
    if result.pending:
        names = ", ".join(e["experience"] for e in result.pending)
        raise Unavailable(
            f"the guardrail actions of {names} were not applied by the run's deadline "
            "(the report says pending); a re-run applies them once"
        )
    return result
