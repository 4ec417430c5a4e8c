"""The program across its history: the global holdout's lift night by night, and per month
how many experiences were launched, kept, paused and retired, and the share of traffic
personalized by decision reason.

The lift and coverage come from the stored nightly reports (each report's `program`);
each report carries the points before it forward (`program.history.lift`), so the newest
stored report holds the whole series and reading the archive stops there
(earnest.program.inventory.fold). The monthly counts come from every experience's audit
trail (earnest.program.timeline), not from the reports, so they cover experiences no
report ever measured.

Per month, each experience that served at some moment in it (live or paused) is counted
once by where it stood at the month's end: `kept` (live), `paused`, `retired` or
`withdrawn` (back to draft), so the four add up to `active`; `launched` counts those of
them first live in that month, `variants_paused` the variant pauses made in it.

Pure: stdlib only (and the core).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from earnest.decide.reasons import PERSONALIZED
from earnest.experiences.lifecycle import LIVE, PAUSED, RETIRED
from earnest.program import timeline

HISTORY_METRIC = "conversion_rate"  # the program's lift the chart draws
KEPT, WITHDRAWN = "kept", "withdrawn"
ENDED_AS = {LIVE: KEPT, PAUSED: PAUSED, RETIRED: RETIRED, timeline.DRAFT: WITHDRAWN}
COUNTS = ("launched", KEPT, PAUSED, RETIRED, WITHDRAWN)


def point(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """One night of the program: the global holdout's lift on every metric and the
    coverage by reason (None for a report without a program)."""
    program = report.get("program")
    if not isinstance(program, Mapping) or not isinstance(program.get("global_holdout"), Mapping):
        return None
    held = program["global_holdout"]
    coverage = program.get("coverage") or {}
    arms = {a["arm"]: a for a in held.get("arms") or []}
    return {
        "date": str(report["date"]),
        "lift": {
            m: {k: lift.get(k) for k in ("relative", "relative_low", "relative_high")}
            for m, lift in (held.get("lift") or {}).items()
        },
        "verdicts": dict(held.get("verdicts") or {}),
        "units": {arm: int(a.get("units") or 0) for arm, a in arms.items()},
        "exposures": int(coverage.get("exposures") or 0),
        "coverage": {r["reason"]: r["share"] for r in coverage.get("reasons") or []},
    }


def lift_series(read: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every night's point, oldest first: each report read gives its own, and the last one
    read gives the points it carries (a report's own point wins over a carried one)."""
    found: dict[str, dict[str, Any]] = {}
    for report in read:
        own = point(report)
        if own is not None:
            found.setdefault(own["date"], own)
    if read:
        carried = ((read[-1].get("program") or {}).get("history") or {}).get("lift") or []
        for p in carried:
            if isinstance(p, Mapping) and "date" in p:
                found.setdefault(str(p["date"]), dict(p))
    return [found[d] for d in sorted(found)]


def month_counts(experiences: Sequence[timeline.Experience], today: date) -> list[dict[str, Any]]:
    """Per month, from the first audit entry's to today's: the experiences launched, and
    the active ones by where they stood at the month's end."""
    replays = [timeline.replay(e.audit) for e in experiences]
    firsts = [s[0].at for s in replays if s and s[0].at]
    if not firsts:
        return []
    out = []
    for month in timeline.months(min(firsts), today):
        row: dict[str, Any] = {"month": month, "active": 0, "variants_paused": 0}
        row.update(dict.fromkeys(COUNTS, 0))
        for states in replays:
            start, during = timeline.statuses_in(states, month)
            row["variants_paused"] += sum(
                1
                for c in timeline.changes(states)
                if c.event == timeline.VARIANT_PAUSED and timeline.month_of(c.at) == month
            )
            if start not in timeline.SERVING and not any(s in timeline.SERVING for s in during):
                continue
            row["active"] += 1
            end = during[-1] if during else start
            row[ENDED_AS.get(str(end), WITHDRAWN)] += 1
            first = timeline.first_live(states)
            row["launched"] += first is not None and timeline.month_of(first) == month
        out.append(row)
    return out


def months(
    counts: Sequence[Mapping[str, Any]], series: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The monthly counts beside each month's last nightly point (its lift and coverage:
    the report's lookback, about that month's traffic)."""
    last: dict[str, Mapping[str, Any]] = {}
    for night in series:
        last[str(night["date"])[:7]] = night
    by_month = {str(c["month"]): dict(c) for c in counts}
    out = []
    for month in sorted(set(by_month) | set(last)):
        row = by_month.get(month) or {"month": month, "active": 0, "variants_paused": 0}
        row = {**dict.fromkeys(COUNTS, 0), **row}
        p: Mapping[str, Any] | None = last.get(month)
        row["report_date"] = p["date"] if p else None
        row["coverage"] = dict(p["coverage"]) if p else {}
        row["personalized_share"] = p["coverage"].get(PERSONALIZED) if p else None
        row["lift"] = dict(p["lift"].get(HISTORY_METRIC) or {}) if p else {}
        out.append(row)
    return out


def section(
    experiences: Sequence[timeline.Experience], read: Sequence[Mapping[str, Any]], today: date
) -> dict[str, Any]:
    """report.json's `program.history`: the nightly series and the months."""
    series = lift_series(read)
    return {
        "metric": HISTORY_METRIC,
        "lift": series,
        "months": months(month_counts(experiences, today), series),
    }
