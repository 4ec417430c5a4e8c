"""Experiences as authored files: YAML or JSON, one experience, a list, or saved groups.

Whatever a file holds, reading it never raises: a file that cannot be read, parsed, or that
holds no experience (empty, a plain string, a date that does not exist, nesting past any
experience's) becomes a `Problem` naming the file, and the other files are still read, so
`earnest validate` reports every problem of every file at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from earnest.experiences.validation import Problem

SUFFIXES = (".yaml", ".yml", ".json")
WHAT_A_FILE_HOLDS = (
    "a file holds one experience (a mapping: id, placement, …), a list of them, or saved_groups"
)


@dataclass
class Authored:
    experiences: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    saved_groups: dict[str, list[str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


class _Loader(yaml.SafeLoader):
    """YAML as authors write it; a date that does not exist (`2026-02-30`) stays the text
    it is, so the launch checks name its field instead of the file failing to load."""

    def construct_yaml_timestamp(self, node: yaml.Node) -> Any:
        try:
            return super().construct_yaml_timestamp(node)  # type: ignore[arg-type]
        except ValueError:
            return self.construct_scalar(node)  # type: ignore[arg-type]


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def expand(paths: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.suffix in SUFFIXES))
        else:
            out.append(p)
    return out


def _file_problem(source: str, check: str, message: str) -> Problem:
    return Problem(source, "?", "(file)", check, message)


def _parse(path: Path) -> Any:
    """The file's data as JSON values; raises ValueError saying why it cannot be read."""
    kind = "JSON" if path.suffix == ".json" else "YAML"
    try:
        text = path.read_text()
        data = orjson.loads(text) if kind == "JSON" else yaml.load(text, Loader=_Loader)
        # YAML reads `2026-11-10` as a date; the store keeps JSON, so compare as JSON.
        return orjson.loads(orjson.dumps(data))
    except FileNotFoundError:
        raise ValueError("no such file") from None
    except IsADirectoryError:
        raise ValueError("a folder, not a file") from None
    except RecursionError:
        raise ValueError(f"not valid {kind}: nested too deeply to read") from None
    except (yaml.YAMLError, orjson.JSONDecodeError, TypeError, UnicodeDecodeError) as exc:
        raise ValueError(f"not valid {kind}: {exc}".splitlines()[0]) from None


def _holds(value: Any) -> str:
    if value is None or value == []:
        return "nothing" if value is None else "an empty list"
    return f"a {type(value).__name__}"


def _not_an_experience(source: str, where: str, value: Any) -> Problem:
    message = f"holds {_holds(value)}, not an experience: {WHAT_A_FILE_HOLDS}"
    return Problem(source, "?", where, "experience_document", message)


def _groups(source: str, groups: Any) -> dict[str, list[str]] | Problem:
    if isinstance(groups, dict) and all(
        isinstance(ids, list) and all(isinstance(i, str) for i in ids) for ids in groups.values()
    ):
        return groups
    return Problem(source, "?", "saved_groups", "saved_groups", "must map names to lists of ids")


def _add(authored: Authored, source: str, data: Any) -> None:
    """What one file holds, into `authored`: experiences, saved groups, or its problems."""
    if isinstance(data, dict) and "saved_groups" in data:
        groups = _groups(source, data["saved_groups"])
        if isinstance(groups, Problem):
            authored.problems.append(groups)
        else:
            authored.saved_groups.update(groups)
    elif isinstance(data, dict):
        authored.experiences.append((source, data))
    elif isinstance(data, list) and data:
        for i, doc in enumerate(data):
            if isinstance(doc, dict):
                authored.experiences.append((source, doc))
            else:
                authored.problems.append(_not_an_experience(source, f"[{i}]", doc))
    else:
        authored.problems.append(_not_an_experience(source, "(file)", data))


def load(paths: Iterable[str | Path]) -> Authored:
    authored = Authored()
    for path in expand(paths):
        try:
            data = _parse(path)
        except ValueError as exc:
            authored.problems.append(_file_problem(str(path), "readable_file", str(exc)))
            continue
        _add(authored, str(path), data)
    return authored


def by_id(paths: Iterable[str | Path]) -> dict[str, Path]:
    """Which file holds which experience id (for `earnest pull` to write back in place)."""
    out: dict[str, Path] = {}
    for path in expand(paths):
        for source, doc in load([path]).experiences:
            if isinstance(doc.get("id"), str):
                out[doc["id"]] = Path(source)
    return out


def dump(doc: Any) -> str:
    """An experience as an authored YAML file (fields in the order they were stored)."""
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
