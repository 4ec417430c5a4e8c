"""The lifecycle's changes of one stored experience: pause, resume, revive, review, rollback,
and the nightly run's guardrail actions.

Each reads the experience, decides, and writes one audited change conditional on the
version it read (earnest.experiences.store); a refusal (`Refused`) changes nothing and
says what would. The CLI (earnest_cli.experiences_cmd) and the nightly run call these and
print or log what they return. Pushes are in earnest.experiences.push.

Pure: stdlib only; the store is a Protocol.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any

from earnest.errors import ConcurrentModification, GuardrailsPending, Refused, Unavailable
from earnest.experiences import actions as kinds
from earnest.experiences import lifecycle, retirement
from earnest.experiences.actions import ALL_VARIANTS_PAUSED, NIGHTLY_REPORT, Action
from earnest.experiences.history import changes
from earnest.experiences.store import (
    AUTHORED,
    ExperienceStore,
    StoredExperience,
    now_iso,
    save,
    save_ops,
)
from earnest.timefmt import format_time

Log = Callable[[str, Mapping[str, Any]], None]
# How often the nightly run re-reads an experience whose version moved on under it.
SAVE_ATTEMPTS = 3


def _quiet(name: str, fields: Mapping[str, Any]) -> None:
    pass


def require(store: ExperienceStore, exp_id: str) -> StoredExperience:
    stored = store.get(exp_id)
    if stored is None:
        raise Refused(f"no experience {exp_id!r} is stored (earnest list shows them)")
    return stored


def _save_authored(
    store: ExperienceStore,
    stored: StoredExperience,
    body: Mapping[str, Any],
    actor: str,
    action: str,
    reason: str,
) -> int:
    changed = changes(stored.authored, body)
    return save(store, body, stored.version, actor, action, reason, changes=changed, ops=stored.ops)


def pause(store: ExperienceStore, exp_id: str, variant: str | None, reason: str, actor: str) -> str:
    """An operator's pause of the experience (variant None) or one variant; it sticks until
    resumed, whatever a push says."""
    target = f"{exp_id}/{variant}" if variant else exp_id
    stored = require(store, exp_id)
    if variant is not None and variant not in {v.get("id") for v in stored.authored["variants"]}:
        raise Refused(f"{exp_id} has no variant {variant!r}")
    found = lifecycle.get_entry(stored.ops, variant)
    if found is not None:
        return f"{target}: already {found}"
    kind = kinds.PAUSE_VARIANT if variant else kinds.PAUSE_EXPERIENCE
    e = lifecycle.entry(kinds.KINDS[kind].status, lifecycle.OPERATOR, reason, actor, now_iso(), {})
    version = save_ops(
        store, stored, lifecycle.set_entry(stored.ops, variant, e), actor, kind, reason
    )
    return f'{target}: paused -> version {version} (earnest resume {target} --reason "…" to undo)'


def resume(
    store: ExperienceStore, exp_id: str, variant: str | None, reason: str, actor: str
) -> str:
    """Serve a paused experience or variant again; resuming a variant also lifts the pause
    of the whole that its being paused caused (`all_variants_paused`)."""
    target = f"{exp_id}/{variant}" if variant else exp_id
    stored = require(store, exp_id)
    found = lifecycle.get_entry(stored.ops, variant)
    if found is None or found.get("status") != lifecycle.PAUSED:
        if found is not None:
            raise Refused(f"{exp_id} is retired: earnest revive {exp_id} --reason …")
        raise Refused(f"{target} is not paused by operations; nothing to resume")
    new_ops = lifecycle.without(stored.ops, variant)
    whole = lifecycle.get_entry(new_ops, None)
    if variant and whole and whole.get("rule") == ALL_VARIANTS_PAUSED:
        new_ops = lifecycle.without(new_ops, None)  # a variant serves again, so may the whole
    version = save_ops(
        store, stored, new_ops, actor, "resume", reason, evidence={"lifted": dict(found)}
    )
    return (
        f"{target}: serving again -> version {version} (was {lifecycle.describe(found)}); "
        "the next nightly report judges it again"
    )


def _retirement(stored: StoredExperience) -> Mapping[str, Any] | None:
    found = lifecycle.get_entry(stored.ops, None)
    return found if found is not None and found.get("status") == lifecycle.RETIRED else None


def _lift(store: ExperienceStore, stored: StoredExperience, actor: str, reason: str) -> int:
    found = _retirement(stored)
    assert found is not None
    return save_ops(
        store,
        stored,
        lifecycle.without(stored.ops, None),
        actor,
        "revive",
        reason,
        evidence={"lifted": dict(found)},
    )


def revive_if_remedied(
    store: ExperienceStore, exp_id: str, how: str, actor: str, today: date
) -> tuple[int, str] | None:
    """Lift a guardrail retirement whose causes the authored content now remedies (a review
    recorded, an owner named, a later `ends_at`): the natural way to revive. The new version
    and what to say, or None when there was nothing to lift."""
    stored = require(store, exp_id)
    found = _retirement(stored)
    if found is None or found.get("rule") not in retirement.RULES:
        return None
    if retirement.reasons(stored.authored, today):
        return None
    version = _lift(store, stored, actor, f"{found.get('rule')} remedied: {how}")
    return version, f"{exp_id} revived: {found.get('rule')} remedied ({how}) -> version {version}"


def revive(
    store: ExperienceStore, exp_id: str, reason: str, actor: str, today: date, owner: str = ""
) -> list[str]:
    """Serve a retired experience again once its causes are gone (`owner` names one)."""
    stored = require(store, exp_id)
    found = _retirement(stored)
    if found is None:
        raise Refused(f"{exp_id} is not retired by operations; nothing to revive")
    if owner:
        body = {**stored.authored, "owner": owner}
        _save_authored(store, stored, body, actor, "update", reason)
        stored = require(store, exp_id)
    broken = retirement.reasons(stored.authored, today)
    if broken:
        raise Refused(
            f"{exp_id} would be retired again tonight: "
            + "; ".join(f"{why} ({retirement.remedy(rule, exp_id)})" for rule, why in broken)
        )
    version = _lift(store, stored, actor, reason)
    return [f"{exp_id}: revived -> version {version} (was {lifecycle.describe(found)})"]


def review(store: ExperienceStore, exp_id: str, reason: str, actor: str, today: date) -> list[str]:
    """Record a review today (`last_reviewed`), and lift a retirement it remedies."""
    stored = require(store, exp_id)
    body = {**stored.authored, "last_reviewed": today.isoformat()}
    if body == stored.authored:
        lines = [f"{exp_id}: already reviewed today (version {stored.version})"]
    else:
        version = _save_authored(store, stored, body, actor, "review", reason)
        lines = [
            f"{exp_id}: reviewed {body['last_reviewed']} -> version {version}",
            "  (put the same last_reviewed in your file, or run earnest pull, before pushing)",
        ]
    revived = revive_if_remedied(store, exp_id, f"review recorded by {actor}", actor, today)
    return lines + ([f"  {revived[1]}"] if revived else [])


def rollback(store: ExperienceStore, exp_id: str, to: int, reason: str, actor: str) -> list[str]:
    """Restore the authored content of version `to` as a new version; pauses stick."""
    stored = require(store, exp_id)
    target = next((e for e in store.audit(exp_id) if e["version"] == to), None)
    if target is None or target["kind"] != AUTHORED:
        raise Refused(f"{exp_id} has no authored version {to} (earnest history)")
    if target["doc"] is None:
        raise Refused(f"version {to} was stored before content was kept per version")
    body = target["doc"]
    if body == stored.authored:
        return [f"{exp_id}: unchanged: version {stored.version} already has that content"]
    version = _save_authored(
        store, stored, body, actor, "rollback", reason or f"rollback to version {to}"
    )
    lines = [f"{exp_id}: rolled back to the content of version {to} -> version {version}"]
    return lines + [f"  {line}" for line in kinds.kept(exp_id, body, stored.ops)]


def apply_guardrails(
    store: ExperienceStore,
    day: date,
    actions: Iterable[Action],
    log: Log = _quiet,
    *,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Write the nightly report's actions for `day`: one audited write per experience,
    nothing for what is already in place. Returns (applied, already).

    A write that lost a race re-reads and decides again (SAVE_ATTEMPTS times); the store
    retries a throttled one with backoff. One that AWS throttled past the store's own
    retries, one that lost every race, and every one not begun by `deadline` (a `clock`
    time; None: no deadline) raise `GuardrailsPending` (an Unavailable: the run fails
    loudly) naming what was applied, found in place and left pending; a re-run applies
    what is pending once.
    """
    by_experience: dict[str, list[Action]] = {}
    for a in actions:
        by_experience.setdefault(a.experience, []).append(a)
    applied: list[dict[str, Any]] = []
    already: list[dict[str, Any]] = []
    order = list(by_experience.items())
    for done, (exp_id, mine) in enumerate(order):
        entry = {"experience": exp_id, "actions": [a.action for a in mine]}
        try:
            if deadline is not None and clock() >= deadline:
                raise Unavailable("the run's deadline passed before they were begun")
            version = _apply_one(store, day, exp_id, mine, entry, log)
        except (Unavailable, ConcurrentModification) as exc:
            left = [e for e, _ in order[done:]]
            pending: list[dict[str, Any]] = [
                {"experience": e, "actions": [a.action for a in by_experience[e]]} for e in left
            ]
            log("guardrails pending", {"pending": left})
            raise GuardrailsPending(
                f"guardrail actions not applied for {', '.join(left)}: "
                f"{getattr(exc, 'message', exc)}",
                applied,
                already,
                pending,
            ) from exc
        if version is None:
            already.append(entry)
        elif version:
            applied.append({**entry, "version": version})
    return applied, already


def _apply_one(
    store: ExperienceStore,
    day: date,
    exp_id: str,
    mine: list[Action],
    entry: Mapping[str, Any],
    log: Log,
) -> int | None:
    """The new version of one experience's guardrail write; None when already in place, 0
    when the experience is gone. Raises what the store raised once races are exhausted."""
    attempt = 0
    while True:
        current = store.get(exp_id)
        if current is None:
            return 0
        new_ops = kinds.record(current.ops, current.effective, mine, now_iso())
        if new_ops == current.ops:
            log("guardrail already applied", entry)
            return None
        try:
            version = save_ops(
                store,
                current,
                new_ops,
                NIGHTLY_REPORT,
                kinds.audit_action(mine),
                "; ".join(a.reason for a in mine),
                evidence={
                    "report_date": day.isoformat(),
                    "report": f"reports/dt={day.isoformat()}/report.json",
                    "actions": [a.as_dict() for a in mine],
                },
                allocation_at=min(now_iso(), format_time(retirement.end_of(day))),
            )
        except ConcurrentModification:
            attempt += 1
            if attempt == SAVE_ATTEMPTS:
                raise
            log("guardrail raced another change; re-reading", {**entry, "attempt": attempt})
            continue
        log("guardrail applied", {**entry, "version": version})
        return version
