"""Segments: the value of a declared request field that the report splits lift by and a
bandit keeps its own weights for (docs/experiences.md, "segments").

A segment is a path into the decide request, `context.<name>` or `attributes.<name>`. Its
value is what decide records with the exposure, inside the signed token, so a page cannot
claim another segment than the one it was decided in. Values are bounded so a stored
event never carries free text: a short word (at most 32 of `A-Z a-z 0-9 _ . : -`), a
boolean or a small whole number, as text; a missing or null field is `(none)` and anything
else `(other)`. The edge's JS reads them alike (clients/edge-worker/src/engine/segments.js,
cases in tests/data/segment_values.json).

Hot path: stdlib only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

MAX_PATHS = 3  # per experience: each is its own split of the report, not a cross product
MAX_VALUE_LENGTH = 32
MAX_NUMBER = 1_000_000
NONE = "(none)"
OTHER = "(other)"

_PATH = re.compile(r"(?:context|attributes)\.[A-Za-z0-9_]{1,64}")
_WORD = re.compile(rf"[A-Za-z0-9_.:-]{{1,{MAX_VALUE_LENGTH}}}")

Reader = Callable[[Mapping[str, Any]], str]


def path_error(path: object) -> str | None:
    """Why `path` cannot be a segment, or None when it can."""
    if not isinstance(path, str) or not _PATH.fullmatch(path):
        return (
            f"segment {path!r} must be context.<name> or attributes.<name> "
            "(letters, digits and _, at most 64)"
        )
    return None


def value_of(raw: Any) -> str:
    """A request field's value as a segment value (the module's docstring says which)."""
    if raw is None:
        return NONE
    if raw is True:
        return "true"
    if raw is False:
        return "false"
    if isinstance(raw, str):
        return raw if _WORD.fullmatch(raw) else OTHER
    if isinstance(raw, int | float) and abs(raw) <= MAX_NUMBER and raw == int(raw):
        return str(int(raw))
    return OTHER


def reader(path: str) -> Reader:
    """A closure giving a request's value of `path` (checked by `path_error` beforehand)."""
    top, name = path.split(".", 1)

    def read(request: Mapping[str, Any]) -> str:
        inner = request.get(top)
        return value_of(inner.get(name) if isinstance(inner, Mapping) else None)

    return read


def values(readers: Sequence[tuple[str, Reader]], request: Mapping[str, Any]) -> dict[str, str]:
    """Each declared path's value for this request, in declaration order."""
    return {path: read(request) for path, read in readers}


def recorded(doc: Mapping[str, Any]) -> tuple[str, ...]:
    """An experience's recorded segment paths: `measurement_plan.segments`, then
    `allocation.segments` not already listed, at most `MAX_PATHS` in all. Read tolerantly
    from the stored document (either list may be missing); raises ValueError on a path
    `path_error` refuses, as validation would have."""
    paths: list[str] = []
    for section in ("measurement_plan", "allocation"):
        holder = doc.get(section)
        listed = holder.get("segments") if isinstance(holder, Mapping) else None
        if listed is None:
            continue
        if not isinstance(listed, list):
            raise ValueError(f"{section}.segments must be a list of segment paths")
        for path in listed:
            if error := path_error(path):
                raise ValueError(f"{section}.segments: {error}")
            if path not in paths:
                paths.append(path)
    if len(paths) > MAX_PATHS:
        raise ValueError(f"at most {MAX_PATHS} segment paths in all, not {len(paths)}")
    return tuple(paths)
