"""What the lifecycle reads and writes, as records and one store Protocol.

A stored experience keeps the authored document apart from its operational state
(earnest.experiences.lifecycle); a saved group is authored state too. Every change is a
`Write` (or `GroupWrite`): conditional on the version its writer read, with its audit
entry. The write constructors here are where a write keeps or restarts the allocation
(`experience_write`), so every writer (push, pause, the nightly run) restarts it the same
way. The store (earnest_aws.experiences_store on DynamoDB) only writes what it is given,
all of a call's writes or none.

Pure: stdlib only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from earnest.experiences.lifecycle import (
    ALLOCATION,
    authored_only,
    content_hash,
    effective,
    with_allocation,
)
from earnest.timefmt import format_time

AUTHORED = "authored"  # audit entry kinds: a change of the file, or of operational state
OPERATIONAL = "operational"


def now_iso() -> str:
    return format_time(datetime.now(UTC))


@dataclass(frozen=True)
class StoredExperience:
    doc: dict[str, Any]  # as authored (with `version`)
    version: int
    updated_at: str
    updated_by: str
    ops: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.doc.get("id"))

    @property
    def authored(self) -> dict[str, Any]:
        return authored_only(self.doc)

    @property
    def effective(self) -> dict[str, Any]:
        return effective(self.doc, self.ops)


@dataclass(frozen=True)
class StoredGroup:
    name: str
    ids: list[str]
    version: int  # 0: written before saved groups had versions

    @property
    def authored(self) -> dict[str, Any]:
        return group_doc(self.name, self.ids)


def group_doc(name: str, ids: Sequence[str]) -> dict[str, Any]:
    """A saved group as authored content (what its versions and lineage are hashed over)."""
    return {"name": name, "ids": list(ids)}


@dataclass(frozen=True)
class Write:
    """One conditional write of an experience (authored part and operational state) with its
    audit entry. `expected_version` None: a new experience."""

    authored: dict[str, Any]
    ops: dict[str, Any]
    expected_version: int | None
    actor: str
    action: str
    kind: str
    reason: str
    evidence: dict[str, Any]
    changes: dict[str, Any]
    at: str

    @property
    def id(self) -> str:
        return str(self.authored["id"])

    @property
    def version(self) -> int:
        return (self.expected_version or 0) + 1

    @property
    def served(self) -> dict[str, Any]:
        return effective(self.authored, self.ops)

    @property
    def content_hash(self) -> str:
        return content_hash(self.authored)


@dataclass(frozen=True)
class GroupWrite:
    """One conditional write of a saved group with its audit entry (always authored)."""

    name: str
    ids: list[str]
    expected_version: int | None
    actor: str
    action: str
    reason: str
    changes: dict[str, Any]
    at: str

    @property
    def version(self) -> int:
        return (self.expected_version or 0) + 1

    @property
    def content_hash(self) -> str:
        return content_hash(group_doc(self.name, self.ids))


def experience_write(
    authored: Mapping[str, Any],
    ops: Mapping[str, Any],
    expected_version: int | None,
    actor: str,
    action: str,
    kind: str,
    reason: str = "",
    evidence: Mapping[str, Any] | None = None,
    changes: Mapping[str, Any] | None = None,
    at: str | None = None,
    allocation_at: str | None = None,
) -> Write:
    """The write of `authored` with `ops`, keeping the allocation's start or restarting it
    (at `allocation_at`, else now) when who gets what changed.

    The audit records a restart: an operational entry among its changes (so
    `history.as_of` walks a nightly restart back), an authored one in its evidence (its
    changes are the file's fields).
    """
    at = at or now_iso()
    doc = authored_only(authored)
    before = ops.get(ALLOCATION)
    new_ops = with_allocation(doc, ops, allocation_at or at)
    changes, evidence = dict(changes or {}), dict(evidence or {})
    if new_ops.get(ALLOCATION) != before:
        restart = {ALLOCATION: {"from": before, "to": new_ops[ALLOCATION]}}
        (changes if kind == OPERATIONAL else evidence).update(restart)
    return Write(doc, new_ops, expected_version, actor, action, kind, reason, evidence, changes, at)


class ExperienceStore(Protocol):
    """Where experiences and saved groups live (earnest_aws.experiences_store)."""

    def get(self, experience_id: str) -> StoredExperience | None: ...

    def load_all(self) -> list[StoredExperience]: ...

    def audit(self, experience_id: str) -> list[dict[str, Any]]:
        """Every change of an experience, oldest first (`doc`: the authored content)."""
        ...

    def group(self, name: str) -> StoredGroup | None: ...

    def groups(self) -> dict[str, list[str]]: ...

    def group_audit(self, name: str) -> list[dict[str, Any]]: ...

    def transact(self, writes: Sequence[Write | GroupWrite]) -> None:
        """All of `writes` or none; ConcurrentModification when one's version moved on,
        Throttled when AWS kept refusing for capacity past the store's deadline."""
        ...


def save(
    store: ExperienceStore,
    doc: Mapping[str, Any],
    expected_version: int | None,
    actor: str,
    action: str,
    reason: str = "",
    evidence: Mapping[str, Any] | None = None,
    changes: Mapping[str, Any] | None = None,
    ops: Mapping[str, Any] | None = None,
) -> int:
    """Write the authored `doc` (keeping `ops`, the operational state the writer read) if
    the stored version is still `expected_version` (None: new); the new version."""
    w = experience_write(
        doc, ops or {}, expected_version, actor, action, AUTHORED, reason, evidence, changes
    )
    store.transact([w])
    return w.version


def save_ops(
    store: ExperienceStore,
    stored: StoredExperience,
    ops: Mapping[str, Any],
    actor: str,
    action: str,
    reason: str,
    evidence: Mapping[str, Any] | None = None,
    changes: Mapping[str, Any] | None = None,
    allocation_at: str | None = None,
) -> int:
    """Write only the operational state, over the version `stored` was read at (`changes`:
    the audit's, by default what differs between the two states)."""
    from earnest.experiences.history import changes as differences

    w = experience_write(
        stored.authored,
        ops,
        stored.version,
        actor,
        action,
        OPERATIONAL,
        reason,
        evidence,
        differences(stored.ops, ops) if changes is None else changes,
        allocation_at=allocation_at,
    )
    store.transact([w])
    return w.version
