"""The inventory: every experience ever pushed, and whether it earns its place.

One row per stored experience (live, paused, retired or draft): its owner, default and
holdout, days since launch, units exposed and the latest verdict and lift against its
holdout (from the newest stored nightly report that measured it), when each pause or
retirement happened and why (its audit trail, earnest.program.timeline), its review status,
and a standing that says what to do: `harming` (a serving variant loses to its default or
harms a guardrail metric), `costing` (live, nothing beating the default, past its plan's
horizon), `paused`, `learning`, `earning` (a serving variant beats the default), `draft`,
`retired`. Rows are sorted so the ones to act on come first.

The nightly report carries the rows forward (report.json `inventory`), so reading the
newest stored report gives every experience's last measurement: `fold` reads stored
reports newest first and stops at the first that carries them.

Pure: stdlib only (and the core); the stores are Protocols, every date the caller's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Protocol

from earnest.experiences import retirement
from earnest.experiences.lifecycle import ALLOCATION, LIVE, PAUSED, RETIRED, get_entry
from earnest.experiences.store import StoredExperience
from earnest.program import history, timeline

SCHEMA = "earnest.inventory/1"
HARMING = "harming"
COSTING = "costing"
LEARNING = "learning"
EARNING = "earning"
DRAFT = "draft"
# Most urgent first: the order rows are sorted in.
STANDINGS = (HARMING, COSTING, PAUSED, LEARNING, EARNING, DRAFT, RETIRED)
RANK = {s: i for i, s in enumerate(STANDINGS)}
BEATS = "beats_default"
LOSES = "loses_to_default"
# The verdicts a night reaches once it has the data; before (needs_more_data, or none
# under SRM) a variant keeps the verdict it had before its allocation restarted.
DECISIVE = frozenset({BEATS, LOSES, "inconclusive"})
EARLIER = ("verdict", "relative", "sequential_low", "sequential_high")
# Review status: overdue, due within retirement.REVIEW_NOTICE_DAYS, ok, or unknown.
OVERDUE, DUE_SOON, REVIEW_OK, UNKNOWN = "overdue", "due_soon", "ok", "unknown"
# The table's and the CSV's columns (one row per experience; variants joined).
COLUMNS = (
    "id",
    "standing",
    "why",
    "status",
    "placement",
    "owner",
    "default",
    "holdout",
    "launched_at",
    "days_live",
    "units",
    "measured_on",
    "verdicts",
    "review_due",
    "review",
    "changes",
)


def _judged(variant: Mapping[str, Any], metric: Any) -> Mapping[str, Any]:
    """The lift the verdict read: CUPED's when there is one (earnest.report.lifts.judged_lift;
    the report imports this package, so not the other way round). A stored report of an
    older shape may lack it: no lift then."""
    adjusted = variant.get("lift_adjusted") or {}
    found = adjusted.get(metric) or (variant.get("lift") or {}).get(metric)
    return found if isinstance(found, Mapping) else {}


def measure(day: str, exp: Mapping[str, Any]) -> dict[str, Any]:
    """What a report's experience section says of it: units, verdicts and lifts."""
    variants = []
    for v in exp.get("variants") or []:
        lift = _judged(v, exp.get("metric"))
        variants.append(
            {
                "variant": v.get("variant"),
                "paused": bool(v.get("paused")),
                "verdict": v.get("verdict"),
                "harm": list(v.get("guardrail_harm") or []),
                "metric": exp.get("metric"),
                "relative": lift.get("relative"),
                "relative_low": lift.get("relative_low"),
                "relative_high": lift.get("relative_high"),
                "sequential_low": lift.get("sequential_ratio_low"),
                "sequential_high": lift.get("sequential_ratio_high"),
            }
        )
    forecast = exp.get("at_current_traffic") or {}
    return {
        "date": day,
        "units": sum(int(a.get("units") or 0) for a in exp.get("arms") or []),
        "analysis_days": (exp.get("analysis") or {}).get("days"),
        "days_to_detect": forecast.get("days_to_detect"),
        "variants": variants,
    }


def carried(report: Mapping[str, Any]) -> bool:
    """Whether a stored report carries the inventory forward (older ones do not)."""
    return isinstance(report.get("inventory"), Mapping)


def fold(
    reports: Iterable[Mapping[str, Any]],
) -> tuple[dict[str, dict[str, Any]], list[Mapping[str, Any]]]:
    """Each experience's newest measurement, and the reports read, from `reports` newest
    first; stops after the first report that carries the inventory forward."""
    found: dict[str, dict[str, Any]] = {}
    read: list[Mapping[str, Any]] = []
    for report in reports:
        read.append(report)
        for exp in report.get("experiences") or []:
            if isinstance(exp, Mapping) and "id" in exp:
                _keep(found, str(exp["id"]), measure(str(report.get("date")), exp))
        if carried(report):
            for row in report["inventory"].get("experiences") or []:
                if isinstance(row, Mapping) and isinstance(row.get("measured"), Mapping):
                    _keep(found, str(row["id"]), dict(row["measured"]))
            break
    return found, read


def _keep(found: dict[str, dict[str, Any]], exp_id: str, older: dict[str, Any]) -> None:
    """The newest measurement of `exp_id`; an older one gives each variant still without
    a verdict (a restarted allocation's first nights) the last verdict it had (`earlier`)."""
    newer = found.setdefault(exp_id, older)
    if newer is older:
        return
    olds = {v.get("variant"): v for v in older.get("variants") or []}
    for v in newer.get("variants") or []:
        o = olds.get(v.get("variant"))
        if v.get("verdict") in DECISIVE or v.get("earlier") or o is None:
            continue
        if o.get("verdict") in DECISIVE:
            v["earlier"] = {"date": older.get("date"), **{k: o.get(k) for k in EARLIER}}
        elif isinstance(o.get("earlier"), Mapping):
            v["earlier"] = dict(o["earlier"])


def verdict_of(v: Mapping[str, Any]) -> str | None:
    """A variant's verdict, or the one it had before its allocation restarted."""
    if v.get("verdict") in DECISIVE:
        return str(v["verdict"])
    earlier = v.get("earlier")
    return str(earlier.get("verdict")) if isinstance(earlier, Mapping) else v.get("verdict")


def review_status(doc: Mapping[str, Any], today: date) -> tuple[str | None, str]:
    due = retirement.review_due(doc)
    if due is None:
        return None, UNKNOWN
    if due < today:
        return due.isoformat(), OVERDUE
    if (due - today).days <= retirement.REVIEW_NOTICE_DAYS:
        return due.isoformat(), DUE_SOON
    return due.isoformat(), REVIEW_OK


def horizon(doc: Mapping[str, Any], measured: Mapping[str, Any] | None) -> float:
    """Days the plan gives an experience to reach a verdict: the forecast's days to detect
    its effect at its traffic when the report made one, else its review cadence."""
    forecast = (measured or {}).get("days_to_detect")
    if isinstance(forecast, int | float) and forecast > 0:
        return float(forecast)
    return float(doc.get("review_every_days") or 0)


_NOT_LIVE = {
    RETIRED: (RETIRED, "retired"),
    PAUSED: (PAUSED, "paused: resume it or retire it"),
}


def standing(
    status: str, doc: Mapping[str, Any], measured: Mapping[str, Any] | None, days: float
) -> tuple[str, str]:
    """(standing, why in a few words) of one experience."""
    if status != LIVE:
        return _NOT_LIVE.get(status, (DRAFT, "not launched"))
    serving = [v for v in (measured or {}).get("variants") or [] if not v.get("paused")]
    harming = [str(v.get("variant")) for v in serving if verdict_of(v) == LOSES or v.get("harm")]
    if harming:
        return HARMING, f"{', '.join(harming)} worse than the default: pause it"
    beating = [v for v in serving if verdict_of(v) == BEATS]
    if beating:
        names = ", ".join(str(v.get("variant")) for v in beating)
        if all(v.get("verdict") == BEATS for v in beating):
            return EARNING, f"{names} beats the default"
        return EARNING, f"{names} beat the default before its allocation restarted"
    analysed = (measured or {}).get("analysis_days")
    days = float(analysed) if isinstance(analysed, int | float) else days
    limit = horizon(doc, measured)
    if days > limit:
        return COSTING, f"no verdict after {days:g} days (horizon {limit:g}): retire or rethink"
    return LEARNING, f"no verdict yet ({days:g} of {limit:g} days)"


def sort_key(row: Mapping[str, Any]) -> tuple[int, int, str, str]:
    """Most urgent standing first; within one, reviews overdue or due first, then by id."""
    review = {OVERDUE: 0, DUE_SOON: 1}.get(str(row.get("review")), 2)
    return (RANK[row["standing"]], review, str(row.get("review_due") or "9999"), str(row["id"]))


def ordered(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=sort_key)


def _launched_at(states: Sequence[timeline.State]) -> str | None:
    """The start of its first allocation (a backfill or the demo may date it earlier than
    the push that made it live), else its first live entry."""
    starts = [
        str(s.ops[ALLOCATION]["started_at"])
        for s in states
        if isinstance(s.ops.get(ALLOCATION), Mapping) and s.ops[ALLOCATION].get("started_at")
    ]
    first = timeline.first_live(states)
    return min([*starts, *([first] if first else [])], default=None)


def _days(launched: str | None, states: Sequence[timeline.State], until: datetime) -> float:
    """Days from launch to its retirement or withdrawal, or to `until`."""
    if launched is None:
        return 0.0
    end = until
    last = states[-1] if states else None
    if last is not None and last.status not in (LIVE, PAUSED) and last.at:
        end = min(until, timeline.moment(last.at))
    return max(round((end - timeline.moment(launched)).total_seconds() / 86_400, 1), 0.0)


def now_paused(
    measured: Mapping[str, Any] | None, served: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The measurement with each variant's `paused` as it is served now: a variant paused
    since the report measured it (tonight's guardrail) no longer serves."""
    if measured is None:
        return None
    paused = {str(v.get("id")): bool(v.get("paused")) for v in served.get("variants") or []}
    variants = [
        {**v, "paused": paused.get(str(v.get("variant")), bool(v.get("paused")))}
        for v in measured.get("variants") or []
    ]
    return {**measured, "variants": variants}


def row(
    stored: StoredExperience,
    audit: Sequence[Mapping[str, Any]],
    measured: Mapping[str, Any] | None,
    today: date,
    until: datetime,
) -> dict[str, Any]:
    """One experience's inventory row."""
    served = stored.effective
    measured = now_paused(measured, served)
    states = timeline.replay(audit)
    status = str(served.get("status"))
    launched = _launched_at(states)
    days = _days(launched, states, until)
    due, review = review_status(stored.authored, today)
    kind, why = standing(status, served, measured, days)
    decided = get_entry(stored.ops, None)
    if kind in (PAUSED, RETIRED) and decided is not None:
        why = f"{decided.get('status')} ({decided.get('rule')}): {decided.get('reason')}"
    return {
        "id": stored.id,
        "standing": kind,
        "why": why,
        "status": status,
        "placement": served.get("placement"),
        "owner": served.get("owner") or None,
        "default": served.get("default"),
        "holdout": served.get("holdout"),
        "launched_at": launched,
        "days_live": days,
        "units": (measured or {}).get("units"),
        "measured_on": (measured or {}).get("date"),
        "measured": dict(measured) if measured else None,
        "review_due": due,
        "review": review,
        "changes": [
            c.as_dict()
            for c in timeline.changes(states)
            if c.event not in (timeline.LAUNCHED, timeline.RELAUNCHED)
        ],
    }


def rows(
    experiences: Sequence[timeline.Experience],
    measured: Mapping[str, Mapping[str, Any]],
    today: date,
    until: datetime,
) -> list[dict[str, Any]]:
    """Every experience's row, the ones to act on first."""
    return ordered(
        row(e.stored, e.audit, measured.get(e.stored.id), today, until) for e in experiences
    )


def counts(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """How many experiences stand where (every standing, 0 included)."""
    return {s: sum(1 for r in rows if r["standing"] == s) for s in STANDINGS}


def verdicts_text(r: Mapping[str, Any]) -> str:
    """`popular beats_default +12.0 % [+3.1 %, +21.0 %]; …`: the interval the verdict read."""
    parts = []
    for v in (r.get("measured") or {}).get("variants") or []:
        lift = "" if v.get("relative") is None else f" {v['relative'] * 100:+.1f} %"
        low, high = v.get("sequential_low"), v.get("sequential_high")
        interval = (
            "" if low is None or high is None else f" [{low * 100:+.1f} %, {high * 100:+.1f} %]"
        )
        paused = " (paused)" if v.get("paused") else ""
        earlier = v.get("earlier")
        before = (
            f" (before its allocation restarted: {earlier.get('verdict')}, report of "
            f"{earlier.get('date')})"
            if isinstance(earlier, Mapping)
            else ""
        )
        parts.append(
            f"{v.get('variant')}{paused} {v.get('verdict') or 'no verdict'}{lift}{interval}{before}"
        )
    return "; ".join(parts)


def changes_text(r: Mapping[str, Any]) -> str:
    """`2026-12-03 variant_paused bundles (loses_to_default by nightly-report): …`."""
    return "; ".join(
        f"{str(c['at'])[:10]} {c['event']}{' ' + c['variant'] if c['variant'] else ''} "
        f"({c['rule']} by {c['actor']}): {c['reason']}"
        for c in r.get("changes") or []
    )


def flat(r: Mapping[str, Any]) -> dict[str, Any]:
    """A row as the CSV and the table show it: one cell per column."""
    out = {c: r.get(c) for c in COLUMNS}
    out["verdicts"] = verdicts_text(r)
    out["changes"] = changes_text(r)
    default = r.get("default")
    out["default"] = default if isinstance(default, str) else _compact(default)
    return out


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


class ReportArchive(Protocol):
    """The stored nightly reports (earnest_aws.reports_store.ReportsStore)."""

    def report_dates(self) -> list[date]: ...
    def read_report(self, day: date | str) -> dict[str, Any] | None: ...


def stored_reports(archive: ReportArchive, before: date | None = None) -> Iterator[dict[str, Any]]:
    """The stored reports newest first (only those dated before `before`), read lazily."""
    for day in sorted(archive.report_dates(), reverse=True):
        if before is None or day < before:
            found = archive.read_report(day)
            if found is not None:
                yield found


def sections(
    experiences: Sequence[timeline.Experience],
    reports: Iterable[Mapping[str, Any]],
    today: date,
    until: datetime,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """report.json's `inventory` and `program.history`, from the experiences and their audit
    trails and the stored reports newest first (read up to the first that carries them)."""
    measured, read = fold(reports)
    listed = rows(experiences, measured, today, until)
    inventory = {"schema": SCHEMA, "counts": counts(listed), "experiences": listed}
    return inventory, history.section(experiences, read, today)
