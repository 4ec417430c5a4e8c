"""Where an authored file's content comes from, read from git and this checkout's record.

The push's concurrency rule is the core's (earnest.experiences.push, docs/experiences.md
"Lineage"); this module only gathers what it needs, per item of a file:

- the item's content in the file's committed revisions (`git log` / `git show`, newest
  first, read only when asked), so the lineage travels with the branch and the clone;
- what this checkout last pushed or pulled, recorded per revision of the file
  (`$EARNEST_STATE_DIR/lineage.json`, default `.earnest/`): the committed blob of the file
  (`HEAD:path`), or its absolute path when git does not track it. A branch switch or a
  new checkout changes the blob, so a record never vouches for another branch's file.
  Two pushes from one checkout at once (two terminals, a script) both keep their record:
  each rewrites the file under a lock and replaces it whole, so no reader sees half of it.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import yaml

from earnest.experiences.lifecycle import authored_only, content_hash
from earnest.experiences.push import SAVED_GROUP, Lineage
from earnest.experiences.store import group_doc

# How far back a file's committed history is read for content a store holds.
MAX_REVISIONS = 50
# How many revisions of a file the record keeps per item (the newest).
MAX_RECORDED = 20


def _git(cwd: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(cwd), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _tracked(path: Path) -> tuple[Path, str] | None:
    """(the repository's top, the file's path in it) when git tracks `path` at HEAD."""
    top = _git(path.parent, "rev-parse", "--show-toplevel")
    if top is None:
        return None
    root = Path(top.strip())
    rel = path.resolve().relative_to(root.resolve()).as_posix()
    if _git(root, "cat-file", "-e", f"HEAD:{rel}") is None:
        return None
    return root, rel


def revision(path: Path) -> str:
    """The revision of the file a record is kept for: its committed blob, or its path."""
    found = _tracked(path)
    if found is not None:
        blob = _git(found[0], "rev-parse", f"HEAD:{found[1]}")
        if blob:
            return f"git:{blob.strip()}"
    return f"path:{path.resolve()}"


def _parse(text: str, suffix: str) -> Any:
    try:
        data = orjson.loads(text) if suffix == ".json" else yaml.safe_load(text)
        return orjson.loads(orjson.dumps(data))  # compare as JSON, as files.load does
    except (yaml.YAMLError, orjson.JSONDecodeError, TypeError, RecursionError):
        return None


def _content(data: Any, subject: str, item_id: str) -> str | None:
    """The content hash of item `item_id` in a file's parsed data, if it is there."""
    if subject == SAVED_GROUP:
        groups = data.get("saved_groups") if isinstance(data, dict) else None
        ids = groups.get(item_id) if isinstance(groups, dict) else None
        return content_hash(group_doc(item_id, ids)) if isinstance(ids, list) else None
    for doc in data if isinstance(data, list) else [data]:
        if isinstance(doc, dict) and doc.get("id") == item_id:
            return content_hash(authored_only(doc))
    return None


def committed(path: Path, subject: str, item_id: str) -> Iterator[str]:
    """The item's content hashes in the file's committed revisions, newest first."""
    found = _tracked(path)
    if found is None:
        return
    root, rel = found
    commits = _git(root, "log", f"-n{MAX_REVISIONS}", "--format=%H", "--", rel) or ""
    for commit in commits.split():
        text = _git(root, "show", f"{commit}:{rel}")
        digest = _content(_parse(text, path.suffix), subject, item_id) if text else None
        if digest is not None:
            yield digest


# -- this checkout's record --------------------------------------------------------------


def _record_file() -> Path:
    return Path(os.environ.get("EARNEST_STATE_DIR", ".earnest")) / "lineage.json"


def _read() -> dict[str, Any]:
    try:
        data = json.loads(_record_file().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _key(store_key: str, subject: str, item_id: str) -> str:
    return f"{store_key} {subject}:{item_id}"


def lineage(store_key: str, path: Path, subject: str, item_id: str) -> Lineage:
    """The lineage of item `item_id` of the file at `path`, for the store `store_key`."""
    recorded = _read().get(_key(store_key, subject, item_id), {}).get(revision(path))
    return Lineage(
        recorded=recorded if isinstance(recorded, int) else None,
        earlier=lambda: committed(path, subject, item_id),
    )


def remember(store_key: str, versions: dict[tuple[str, str], tuple[Path, int]]) -> None:
    """Record that this checkout pushed or pulled each item at a version, from its file."""
    if not versions:
        return
    with _locked():
        data = _read()
        for (subject, item_id), (path, version) in versions.items():
            kept = data.setdefault(_key(store_key, subject, item_id), {})
            kept.pop(rev := revision(path), None)
            kept[rev] = version  # newest last
            for old in list(kept)[:-MAX_RECORDED]:
                del kept[old]
        target = _record_file()
        fresh = target.with_name(f".{target.name}.{os.getpid()}")
        fresh.write_text(json.dumps(data, indent=2))
        fresh.replace(target)


@contextmanager
def _locked() -> Iterator[None]:
    """The record's read-modify-write, one process at a time (the lock is released when the
    process ends, whatever way it ends)."""
    folder = _record_file().parent
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "lineage.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
