"""Review and retirement: when an experience must stop serving whatever its numbers say.

The rules (SPEC 7, docs/experiences.md "Lifecycle"): an experience that is unowned, overdue
for review or past its `ends_at` is retired by the nightly report; each rule has its
remedy, and a retirement whose causes are remedied is lifted (earnest.experiences.
operations, "revive"). `notices` is what `validate` and `push` say ahead of the night that
would retire one: a review overdue, or due within `REVIEW_NOTICE_DAYS`.

Pure: stdlib only; every date is the caller's (no clock read here).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

UNOWNED = "unowned"
REVIEW_OVERDUE = "review_overdue"
ENDED = "ended"
RULES = frozenset({UNOWNED, REVIEW_OVERDUE, ENDED})
# How far ahead validate and push warn of a review falling due.
REVIEW_NOTICE_DAYS = 7


def remedy(rule: str, exp_id: str) -> str:
    """What lifts a retirement for `rule`, as a person does it."""
    return {
        UNOWNED: f'name an owner: earnest revive {exp_id} --owner EMAIL --reason "…"',
        REVIEW_OVERDUE: f"record a review: earnest review {exp_id}",
        ENDED: "push a later ends_at",
    }[rule]


def end_of(day: date) -> datetime:
    """The first instant after `day` (UTC): a report for `day` sees everything before it."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)


def review_due(doc: Mapping[str, Any]) -> date | None:
    """The day after which the experience is overdue for review; None when it cannot tell."""
    try:
        last = date.fromisoformat(str(doc["last_reviewed"])[:10])
        return last + timedelta(days=int(doc["review_every_days"]))
    except (KeyError, TypeError, ValueError, OverflowError):
        return None


def ends_at(doc: Mapping[str, Any]) -> datetime | None:
    raw = doc.get("ends_at")
    if raw in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(raw).replace("z", "Z"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def reasons(doc: Mapping[str, Any], day: date) -> list[tuple[str, str]]:
    """Why `doc` must be retired as of the end of `day`: [(rule, reason)], empty if not."""
    out: list[tuple[str, str]] = []
    if not str(doc.get("owner") or "").strip():
        out.append((UNOWNED, "no owner: every experience needs a named person"))
    due = review_due(doc)
    if due is None:
        out.append((REVIEW_OVERDUE, "no review date: last_reviewed/review_every_days missing"))
    elif due < day:
        out.append((REVIEW_OVERDUE, f"review was due {due.isoformat()}"))
    end = ends_at(doc)
    if end is not None and end < end_of(day):
        out.append((ENDED, f"past ends_at {end.isoformat().replace('+00:00', 'Z')}"))
    return out


def notices(doc: Mapping[str, Any], today: date) -> list[str]:
    """What a person should hear before a night retires `doc` for its review: overdue, or
    due within REVIEW_NOTICE_DAYS. Only for an experience that serves (live or paused)."""
    if doc.get("status") not in ("live", "paused"):
        return []
    due = review_due(doc)
    exp_id = str(doc.get("id"))
    if due is None:
        return []  # the launch checks name a missing or invalid review date
    fix = (
        f"`earnest review {exp_id}` records one today (then put its last_reviewed in "
        "your file, or `earnest pull`)"
    )
    if due < today:
        return [
            f"{exp_id}: review overdue since {due.isoformat()}: the next nightly report "
            f"retires it; {fix}"
        ]
    days = (due - today).days
    if days <= REVIEW_NOTICE_DAYS:
        when = "today" if days == 0 else f"in {days} day(s)"
        return [
            f"{exp_id}: review due {due.isoformat()} ({when}); past it the nightly report "
            f"retires it; {fix}"
        ]
    return []
