"""A push: authored files (experiences and saved groups) written over what is stored, each
only if it has seen every stored authored change (its lineage), all or nothing.

Per item, the base it starts from is read from its lineage (docs/experiences.md,
"Lineage"): the file's `version:` when it says one; else the newest of the stored
versions the file has seen: the one whose content it equals, the one this checkout last
pushed or pulled from this very revision of the file, and the newest whose content is in
the file's committed history (git). An authored change newer than the base makes the
item stale, and a push with one stale item writes nothing at all. The rest is written in
one transaction (earnest.experiences.store), so a race lost between reading and writing
also writes nothing; operational state is kept, and a retirement the new content
remedies is lifted after (`operations.revive_if_remedied`).

Pure: stdlib only; the store is a Protocol, the lineage comes from the caller (the CLI
reads git).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from earnest.experiences import actions as kinds
from earnest.experiences import lifecycle, operations
from earnest.experiences.history import changes
from earnest.experiences.store import (
    AUTHORED,
    ExperienceStore,
    GroupWrite,
    Write,
    experience_write,
    group_doc,
    now_iso,
)

EXPERIENCE = "experience"
SAVED_GROUP = "saved group"


def _none() -> Iterable[str]:
    return ()


@dataclass(frozen=True)
class Lineage:
    """What a file tells of where an item's content comes from.

    `declared`: the file's `version:`; `recorded`: the version this checkout last pushed or
    pulled from this revision of the file; `earlier`: the content hashes of the item in
    the file's committed revisions, newest first (read lazily: only when the rest does not
    settle it).
    """

    declared: int | None = None
    recorded: int | None = None
    earlier: Callable[[], Iterable[str]] = _none


@dataclass(frozen=True)
class Item:
    """One authored item of a push: an experience or a saved group, from `source`."""

    subject: str
    id: str
    body: dict[str, Any]
    source: str
    lineage: Lineage = field(default_factory=Lineage)


@dataclass
class Outcome:
    """What a push did: lines to say, refusals, and the versions each item now is at."""

    lines: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    versions: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.refusals


def experience_item(source: str, doc: Mapping[str, Any], lineage: Lineage) -> Item:
    declared = doc.get("version")
    if isinstance(declared, int) and not isinstance(declared, bool):
        lineage = Lineage(declared, lineage.recorded, lineage.earlier)
    return Item(EXPERIENCE, str(doc["id"]), lifecycle.authored_only(doc), source, lineage)


def group_item(source: str, name: str, ids: Sequence[str], lineage: Lineage) -> Item:
    return Item(SAVED_GROUP, name, group_doc(name, ids), source, lineage)


def base_of(
    authored: Sequence[Mapping[str, Any]], digest: str, lineage: Lineage
) -> tuple[int | None, str]:
    """The stored version an item's content starts from, and how that is known.

    `authored`: the item's authored audit entries, oldest first.
    """
    if lineage.declared is not None:
        return lineage.declared, f"your file says version {lineage.declared}"
    by_hash: dict[str, int] = {}
    for e in authored:
        if e.get("content_hash"):
            by_hash[str(e["content_hash"])] = int(e["version"])
    seen: list[tuple[int, str]] = []
    if digest in by_hash:
        seen.append((by_hash[digest], f"your file is the content of version {by_hash[digest]}"))
    if lineage.recorded is not None:
        seen.append(
            (
                lineage.recorded,
                f"this checkout last pushed or pulled version {lineage.recorded} from this "
                "revision of the file",
            )
        )
    newest = max((int(e["version"]) for e in authored), default=0)
    if max((v for v, _ in seen), default=-1) < newest:
        held = _held(lineage.earlier(), by_hash, newest)
        if held:
            seen.append((held, f"your file's committed history holds version {held}"))
    if not seen:
        return None, (
            "nothing tells which version your file started from (no `version:`, not the "
            "content of a stored version, not in this checkout's history or git's)"
        )
    return max(seen)


def _held(earlier: Iterable[str], by_hash: Mapping[str, int], newest: int) -> int:
    """The newest stored version whose content the file's history holds (0: none)."""
    held = 0
    for digest in earlier:
        held = max(held, by_hash.get(digest, 0))
        if held == newest:  # nothing later to find: stop reading history
            break
    return held


def stale(history: Sequence[Mapping[str, Any]], item: Item) -> str | None:
    """Why pushing `item` over its stored history must be refused, or None when it may go."""
    authored = [e for e in history if e.get("kind") == AUTHORED]
    base, basis = base_of(authored, lifecycle.content_hash(item.body), item.lineage)
    newer = [e for e in authored if base is None or e["version"] > base]
    if not newer:
        return None
    last = newer[-1]
    fields = ", ".join(sorted(last.get("changes") or {})) or "its content"
    return (
        f"refused: {basis}; since then it was changed by {last['actor']} at {last['at']}: "
        f"{fields} (version {last['version']}). Run `earnest pull DIR` (or `earnest diff`), "
        "merge, and push again; --force pushes over it."
    )


def push(
    store: ExperienceStore,
    items: Sequence[Item],
    actor: str,
    reason: str | None,
    today: date,
    force: bool = False,
) -> Outcome:
    """Write every changed item, or nothing when any is stale (see the module's doc)."""
    out = Outcome()
    writes: list[Write | GroupWrite] = []
    updated: list[Item] = []
    at = now_iso()
    for item in items:
        planned = _plan(store, item, actor, reason or f"pushed from {item.source}", at, force, out)
        if planned is not None:
            writes.append(planned)
            updated.append(item)
    if out.refusals:
        out.lines = [f"nothing was pushed: {len(out.refusals)} refused"]
        return out
    store.transact(writes)
    for item, w in zip(updated, writes, strict=True):
        created = w.expected_version is None
        out.versions[(item.subject, item.id)] = w.version
        label = f"{SAVED_GROUP} {item.id}" if item.subject == SAVED_GROUP else item.id
        count = f" ({len(item.body['ids'])} id(s))" if item.subject == SAVED_GROUP else ""
        out.lines.append(
            f"{label}: {'created' if created else 'updated'}{count} -> version {w.version}"
        )
        if item.subject == EXPERIENCE and isinstance(w, Write):
            out.lines.extend(_after(store, item, w, actor, today, out))
    return out


def _plan(
    store: ExperienceStore,
    item: Item,
    actor: str,
    reason: str,
    at: str,
    force: bool,
    out: Outcome,
) -> Write | GroupWrite | None:
    """The write `item` needs (None: unchanged or refused, said in `out`)."""
    if item.subject == SAVED_GROUP:
        group = store.group(item.id)
        stored_body, version = (group.authored, group.version) if group else (None, None)
        history = store.group_audit(item.id) if group else []
        label, stored = f"{SAVED_GROUP} {item.id}", None
    else:
        stored = store.get(item.id)
        stored_body, version = (stored.authored, stored.version) if stored else (None, None)
        history = store.audit(item.id) if stored else []
        label = item.id
    if stored_body == item.body and version is not None:
        out.versions[(item.subject, item.id)] = version
        out.lines.append(f"{label}: unchanged (version {version})")
        if item.subject == EXPERIENCE and stored is not None:
            out.lines.extend(f"  {line}" for line in kinds.kept(item.id, item.body, stored.ops))
        return None
    if stored_body is not None and not force:
        refusal = stale(history, item)
        if refusal:
            out.refusals.append(f"{item.source}: {label}: {refusal}")
            return None
    action = "create" if stored_body is None else "update"
    diff = changes(stored_body or {}, item.body)
    if item.subject == SAVED_GROUP:
        return GroupWrite(item.id, list(item.body["ids"]), version, actor, action, reason, diff, at)
    ops = stored.ops if stored is not None else {}
    return experience_write(
        item.body, ops, version, actor, action, AUTHORED, reason, changes=diff, at=at
    )


def _after(
    store: ExperienceStore, item: Item, w: Write, actor: str, today: date, out: Outcome
) -> list[str]:
    """What follows an experience's update: a remedied retirement lifted, what was kept."""
    if w.expected_version is None:
        return []
    ops = w.ops
    lines = []
    revived = operations.revive_if_remedied(
        store, item.id, f"pushed from {item.source}", actor, today
    )
    if revived is not None:
        out.versions[(item.subject, item.id)] = revived[0]
        lines.append(f"  {revived[1]}")
        ops = lifecycle.without(ops, None)
    return lines + [f"  {line}" for line in kinds.kept(item.id, item.body, ops)]
