"""One run of the nightly report: read, aggregate, build, act on the guardrails, write.

The I/O around the pure core (docs/report.md): experiences from DynamoDB as they stood
before this date's run (`earnest.report.guardrails.as_of` over the audit trail), erased subjects
from the consent table, events from S3 partition by partition into
`earnest.report.aggregation.Aggregator`, last night's report.json; then `earnest.report.build`,
each guardrail change written back with `ExperiencesStore.save` (one audit entry per
experience changed), and the files of `earnest.report.render` written to S3.

Idempotent: a re-run of a date reads the same experiences, builds the same report, finds
its changes already made (nothing written twice) and overwrites the same files.
Used by functions/nightly_report (the schedule) and `earnest report` (any date).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from earnest.errors import ConcurrentModification
from earnest.report import build as report_build
from earnest.report import guardrails
from earnest.report import render as report_render
from earnest.report.aggregation import Aggregator, Totals
from earnest_aws.experiences_store import ExperiencesStore
from earnest_aws.reports_store import ReportsStore, erased_subjects
from earnest_aws.settings import ConfigError, Settings

Log = Callable[[str, Mapping[str, Any]], None]
_SAVE_ATTEMPTS = 3


def _quiet(name: str, fields: Mapping[str, Any]) -> None:
    pass


def _int_env(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw))
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be within [{lo}, {hi}], got {value}")
    return value


def _fdr_env(env: Mapping[str, str]) -> bool:
    raw = env.get("REPORT_FDR", "off")
    if raw not in ("off", "bh"):
        raise ConfigError(f"REPORT_FDR must be off or bh, got {raw!r}")
    return raw == "bh"


@dataclass(frozen=True)
class ReportOptions:
    """How a run reads and acts (environment: REPORT_LOOKBACK_DAYS, ...; docs/report.md)."""

    lookback_days: int = report_build.DEFAULT_LOOKBACK_DAYS
    program_attribution_days: int = report_build.DEFAULT_ATTRIBUTION_DAYS
    apply_guardrails: bool = True
    write: bool = True
    false_discovery_rate: bool = False  # REPORT_FDR=bh: Benjamini-Hochberg across the program

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ReportOptions:
        env = os.environ if env is None else env
        return cls(
            lookback_days=_int_env(env, "REPORT_LOOKBACK_DAYS", cls.lookback_days, 1, 400),
            program_attribution_days=_int_env(
                env, "REPORT_PROGRAM_ATTRIBUTION_DAYS", cls.program_attribution_days, 1, 90
            ),
            false_discovery_rate=_fdr_env(env),
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
    """Every experience as it stood before the report of `day` changed it."""
    docs = []
    for stored in store.load_all():
        if stored.updated_by == guardrails.ACTOR:  # only then can the newest change be ours
            docs.append(guardrails.as_of(stored.doc, store.audit(str(stored.doc["id"])), day))
        else:
            docs.append({k: v for k, v in stored.doc.items() if k != "version"})
    return docs


def aggregate(
    reports: ReportsStore,
    window: report_build.Window,
    docs: list[dict[str, Any]],
    erased: set[str],
    program_attribution_days: int,
) -> Totals:
    aggregator = Aggregator(
        report_build.tracked(docs),
        erased=erased,
        program_attribution_days=program_attribution_days,
    )
    for day in window.days():
        aggregator.partition(day.isoformat())
        for _, data in reports.event_objects(day):
            aggregator.feed_object(data)
    return aggregator.totals()


def apply_actions(
    store: ExperiencesStore,
    day: date,
    actions: list[dict[str, Any]],
    log: Log = _quiet,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Write each experience's changes once, with one audit entry; skip what is in place."""
    by_experience: dict[str, list[guardrails.Action]] = {}
    for a in actions:
        by_experience.setdefault(a["experience"], []).append(
            guardrails.Action(
                a["experience"], a["action"], a["rule"], a["variant"], a["reason"], a["evidence"]
            )
        )
    applied: list[dict[str, Any]] = []
    already: list[dict[str, Any]] = []
    for exp_id, mine in by_experience.items():
        for attempt in range(_SAVE_ATTEMPTS):
            current = store.get(exp_id)
            if current is None:
                break
            old = {k: v for k, v in current.doc.items() if k != "version"}
            new = guardrails.apply(old, mine)
            entry = {"experience": exp_id, "actions": [a.action for a in mine]}
            if new == old:
                already.append(entry)
                log("guardrail already applied", entry)
                break
            kinds = {a.action for a in mine}
            action = next(
                k
                for k in (guardrails.RETIRE, guardrails.PAUSE_EXPERIENCE, guardrails.PAUSE_VARIANT)
                if k in kinds
            )
            try:
                version = store.save(
                    new,
                    current.version,
                    actor=guardrails.ACTOR,
                    action=action,
                    reason="; ".join(a.reason for a in mine),
                    evidence={
                        "report_date": day.isoformat(),
                        "report": f"reports/dt={day.isoformat()}/report.json",
                        "actions": [a.as_dict() for a in mine],
                    },
                    changes=guardrails.changes(old, new),
                )
            except ConcurrentModification:
                log("guardrail raced another change; re-reading", {**entry, "attempt": attempt})
                continue
            applied.append({**entry, "version": version})
            log("guardrail applied", {**entry, "version": version})
            break
    return applied, already


def run(
    day: date,
    settings: Settings,
    options: ReportOptions | None = None,
    log: Log = _quiet,
) -> RunResult:
    options = options or ReportOptions()
    experiences = ExperiencesStore(settings.experiences_table)
    reports = ReportsStore(settings.events_bucket)
    window = report_build.Window(day, options.lookback_days)

    docs = load_experiences(experiences, day)
    erased = erased_subjects(settings.consent_table)
    totals = aggregate(reports, window, docs, erased, options.program_attribution_days)
    log("events aggregated", totals.counters)
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
    )
    result = RunResult(report, report_render.render(report))
    if options.apply_guardrails:
        result.applied, result.already = apply_actions(experiences, day, report["guardrails"], log)
    if options.write:
        result.keys = reports.write(day, result.files)
    return result
