"""A push's concurrency rule (earnest.experiences.push): the base an item starts from comes
from its lineage, and an item whose lineage misses a stored authored change is stale."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from earnest.experiences import push
from earnest.experiences.lifecycle import content_hash
from tests.builders.experiences import experience


def history(n: int) -> list[dict[str, Any]]:
    """n authored versions of one experience, version k with priority k."""
    return [
        {
            "kind": "authored",
            "version": k,
            "actor": f"author-{k}",
            "at": f"2026-11-0{k}T00:00:00.000Z",
            "changes": {"priority": {"from": k - 1, "to": k}},
            "content_hash": content_hash(experience(priority=k)),
        }
        for k in range(1, n + 1)
    ]


def item(lineage: push.Lineage, **changes: Any) -> push.Item:
    return push.experience_item("recs.yaml", experience(**changes), lineage)


def hashes(*versions: int) -> push.Lineage:
    return push.Lineage(earlier=lambda: [content_hash(experience(priority=k)) for k in versions])


def test_an_edit_of_an_older_version_is_stale_naming_who_changed_what() -> None:
    refusal = push.stale(history(3), item(hashes(2, 1), description="an edit"))
    assert refusal is not None
    assert refusal.startswith("refused: your file's committed history holds version 2; ")
    assert "changed by author-3 at 2026-11-03T00:00:00.000Z: priority (version 3)" in refusal


def test_an_edit_whose_lineage_holds_the_newest_version_may_go() -> None:
    assert push.stale(history(3), item(hashes(3, 2), description="an edit")) is None
    assert push.stale(history(3), item(push.Lineage(recorded=3), description="x")) is None


def test_what_the_file_says_wins_and_no_lineage_at_all_is_refused() -> None:
    assert push.stale(history(3), item(hashes(3), version=2)) is not None  # it says 2
    assert push.stale(history(3), item(hashes(), version=3)) is None
    refusal = push.stale(history(3), item(push.Lineage(), description="x"))
    assert refusal is not None and "nothing tells which version your file started from" in refusal


def test_git_is_read_only_when_the_rest_does_not_settle_it() -> None:
    read: list[str] = []

    def earlier() -> list[str]:
        read.append("git")
        return []

    assert push.stale(history(2), item(push.Lineage(recorded=2, earlier=earlier))) is None
    assert read == []


@given(
    newest=st.integers(1, 8),
    seen=st.sets(st.integers(1, 8), max_size=8),
    recorded=st.none() | st.integers(1, 8),
)
def test_an_edit_goes_exactly_when_its_lineage_has_seen_the_newest_version(
    newest: int, seen: set[int], recorded: int | None
) -> None:
    # Given a history of `newest` versions and a file whose lineage saw some of them
    seen = {k for k in seen if k <= newest}
    recorded = recorded if recorded is not None and recorded <= newest else None
    lineage = push.Lineage(
        recorded=recorded,
        earlier=lambda: [content_hash(experience(priority=k)) for k in sorted(seen)],
    )
    # When it pushes an edit none of the versions holds
    refusal = push.stale(history(newest), item(lineage, description="an edit"))
    # Then it goes if and only if it has seen the newest version
    assert (refusal is None) == (newest in seen or recorded == newest)
