"""An experience's life read back from its audit trail: when it went live, was paused,
resumed, retired or revived, by whom and why, and how long it served.

The audit trail (earnest.experiences.store) holds every change: an authored entry carries
the document as it was written (or, on entries older than that, its field changes), an
operational one the changes of the operational state (earnest.experiences.lifecycle).
Replaying it in version order gives the effective document after every change, so the
served status and the paused variants at each moment, whoever made them: an owner's file,
an operator or the nightly report's guardrails.

Pure: stdlib only (and the core); every date is the caller's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from earnest.experiences.lifecycle import LIVE, PAUSED, RETIRED, effective, get_entry
from earnest.experiences.store import AUTHORED, ExperienceStore, StoredExperience

DRAFT = "draft"
SERVING = frozenset({LIVE, PAUSED})  # a paused experience is still in the program

# What a change did, from the status before to the status after.
LAUNCHED = "launched"
RELAUNCHED = "relaunched"  # live again after the owner took it back to draft
RESUMED = "resumed"
REVIVED = "revived"
WITHDRAWN = "withdrawn"  # the owner's file took it back to draft
VARIANT_PAUSED = "variant_paused"
VARIANT_RESUMED = "variant_resumed"
BY_OWNER = "authored"  # the rule of a change the owner's file made


@dataclass(frozen=True)
class State:
    """The effective experience right after one audit entry."""

    at: str  # ISO time of the entry
    status: str
    paused: frozenset[str]  # variants not serving
    entry: Mapping[str, Any]
    ops: Mapping[str, Any]


@dataclass(frozen=True)
class Change:
    """One change of what an experience serves, with who, when and why."""

    at: str
    event: str  # launched, paused, resumed, retired, revived, withdrawn, variant_paused, ...
    status: str  # the status after it
    variant: str | None
    actor: str
    rule: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "event": self.event,
            "status": self.status,
            "variant": self.variant,
            "actor": self.actor,
            "rule": self.rule,
            "reason": self.reason,
        }


def moment(text: str) -> datetime:
    """A stored ISO time (`…Z`) as an aware datetime."""
    got = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return got if got.tzinfo else got.replace(tzinfo=UTC)


def replay(audit: Sequence[Mapping[str, Any]]) -> list[State]:
    """The effective status and paused variants after each entry, oldest first."""
    doc: dict[str, Any] = {}
    ops: dict[str, Any] = {}
    out: list[State] = []
    ordered = sorted(audit, key=lambda e: (int(e.get("version") or 0), str(e.get("at") or "")))
    for entry in ordered:
        changed = entry.get("changes") or {}
        if entry.get("kind") == AUTHORED and isinstance(entry.get("doc"), Mapping):
            doc = dict(entry["doc"])
        else:
            target = doc if entry.get("kind") == AUTHORED else ops
            for key, change in changed.items():
                if not isinstance(change, Mapping):
                    continue
                if change.get("to") is None:
                    target.pop(key, None)
                else:
                    target[key] = change["to"]
        served = effective(doc, ops)
        paused = frozenset(
            str(v.get("id"))
            for v in served.get("variants") or []
            if isinstance(v, Mapping) and v.get("paused")
        )
        out.append(State(str(entry.get("at") or ""), str(served.get("status")), paused, entry, ops))
        ops = dict(ops)
    return out


def _event(before: str | None, after: str, launched: bool) -> str | None:
    if before == after:
        return None
    if after == LIVE:
        if not launched:
            return LAUNCHED
        return {PAUSED: RESUMED, RETIRED: REVIVED}.get(str(before), RELAUNCHED)
    if after in (PAUSED, RETIRED):
        return after
    if after == DRAFT and before is not None:
        return WITHDRAWN
    return None


def changes(states: Sequence[State]) -> list[Change]:
    """What each entry changed in what is served: the experience's status, then its
    variants', oldest first. An entry that changed neither (a review, new content) is none."""
    out: list[Change] = []
    status: str | None = None
    paused: frozenset[str] = frozenset()
    launched = False
    for s in states:
        who = str(s.entry.get("actor") or "")
        why = str(s.entry.get("reason") or "")
        event = _event(status, s.status, launched)
        if event is not None:
            decided = get_entry(s.ops, None)
            rule = str(decided.get("rule")) if decided and event in (PAUSED, RETIRED) else BY_OWNER
            if event in (RESUMED, REVIVED) and s.entry.get("kind") != AUTHORED:
                rule = str(s.entry.get("action") or BY_OWNER)
            out.append(Change(s.at, event, s.status, None, who, rule, why))
            launched = launched or s.status == LIVE
        for v in sorted(s.paused - paused):
            entry = get_entry(s.ops, v)
            rule = str(entry.get("rule")) if entry else BY_OWNER
            out.append(Change(s.at, VARIANT_PAUSED, s.status, v, who, rule, why))
        for v in sorted(paused - s.paused):
            out.append(Change(s.at, VARIANT_RESUMED, s.status, v, who, BY_OWNER, why))
        status, paused = s.status, s.paused
    return out


def days_live(states: Sequence[State], until: datetime) -> float:
    """Days the experience served as live, up to `until` (each span from one entry to the
    next)."""
    total = timedelta()
    for s, nxt in zip(states, [*states[1:], None], strict=True):
        if s.status != LIVE or not s.at:
            continue
        start = moment(s.at)
        end = min(moment(nxt.at), until) if nxt is not None and nxt.at else until
        if end > start:
            total += end - start
    return round(total.total_seconds() / 86_400, 1)


def first_live(states: Sequence[State]) -> str | None:
    return next((s.at for s in states if s.status == LIVE), None)


def month_of(text: str) -> str:
    return text[:7]


def months(first: str, last: date) -> list[str]:
    """Every month `YYYY-MM` from the one of `first` (an ISO time) to the one of `last`."""
    year, month = int(first[:4]), int(first[5:7])
    out = []
    while (year, month) <= (last.year, last.month):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def statuses_in(states: Sequence[State], month: str) -> tuple[str | None, list[str]]:
    """The status at the start of `month` (None before the first entry) and the statuses
    entries in it left the experience in, in order."""
    before = [s.status for s in states if month_of(s.at) < month]
    during = [s.status for s in states if month_of(s.at) == month]
    return (before[-1] if before else None), during


@dataclass(frozen=True)
class Experience:
    """A stored experience with its audit trail, as the inventory and the history read it."""

    stored: StoredExperience
    audit: list[dict[str, Any]]


def read(store: ExperienceStore) -> list[Experience]:
    """Every stored experience and its audit trail (one query each)."""
    return [Experience(s, store.audit(s.id)) for s in store.load_all()]
