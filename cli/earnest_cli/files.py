"""Experiences as authored files: YAML or JSON, one experience, a list, or saved groups."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from earnest.experiences.validation import Problem

SUFFIXES = (".yaml", ".yml", ".json")


@dataclass
class Authored:
    experiences: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    saved_groups: dict[str, list[str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def expand(paths: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.suffix in SUFFIXES))
        else:
            out.append(p)
    return out


def load(paths: Iterable[str | Path]) -> Authored:
    authored = Authored()
    for path in expand(paths):
        source = str(path)
        try:
            text = path.read_text()
            data = orjson.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
            # YAML reads `2026-11-10` as a date; the store keeps JSON, so compare as JSON.
            data = orjson.loads(orjson.dumps(data))
        except FileNotFoundError:
            authored.problems.append(
                Problem(source, "?", "(file)", "readable_file", "no such file")
            )
            continue
        except (yaml.YAMLError, orjson.JSONDecodeError, TypeError, UnicodeDecodeError) as exc:
            msg = f"not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}".splitlines()[0]
            authored.problems.append(Problem(source, "?", "(file)", "readable_file", msg))
            continue
        if isinstance(data, dict) and "saved_groups" in data:
            groups = data["saved_groups"]
            if not isinstance(groups, dict) or not all(
                isinstance(ids, list) and all(isinstance(i, str) for i in ids)
                for ids in groups.values()
            ):
                authored.problems.append(
                    Problem(
                        source,
                        "?",
                        "saved_groups",
                        "saved_groups",
                        "must map names to lists of ids",
                    )
                )
                continue
            authored.saved_groups.update(groups)
        elif isinstance(data, list):
            authored.experiences.extend((source, d) for d in data)
        else:
            authored.experiences.append((source, data))
    return authored


def by_id(paths: Iterable[str | Path]) -> dict[str, Path]:
    """Which file holds which experience id (for `earnest pull` to write back in place)."""
    out: dict[str, Path] = {}
    for path in expand(paths):
        for source, doc in load([path]).experiences:
            if isinstance(doc, dict) and isinstance(doc.get("id"), str):
                out[doc["id"]] = Path(source)
    return out


def dump(doc: Any) -> str:
    """An experience as an authored YAML file (fields in the order they were stored)."""
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
