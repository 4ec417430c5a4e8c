"""The Python path's split of an experience's totals by segment (docs/report.md, "Lift by
segment"): each unit's segment values at its first exposure, and the arms' totals within
each value.

Owns the rules both aggregation paths follow (report_aggregate.sql does the same in SQL):
a unit is counted in the values its first exposure to the experience recorded, the one that
gives its arm; when several exposures tie as that first one (same time, same arm), each
path's smallest value; a record without a value for a path is `(none)`. Per path the
`MAX_VALUES` values with most units are kept (ties: by value), the rest pooled into
`(other)`, so a field with many values cannot grow the report.

Pure: stdlib only (and the core). It must not import boto3, pydantic or `earnest_aws`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from earnest.decide.segments import NONE, OTHER
from earnest.report.totals import ArmKey, ArmTotals, Attribution, SegmentTotals

MAX_VALUES = 12  # per path: the values with most units; the rest are `(other)`

Values = tuple[str, ...]  # a unit's value of each path, in the experience's order
First = tuple[str, ArmKey, bool]  # a unit's first exposure: (time, arm, several arms)


def values_of(paths: Sequence[str], raw: Any) -> Values:
    """A stored exposure's value of each path (`(none)` where it records none)."""
    if not isinstance(raw, Mapping):
        return (NONE,) * len(paths)
    return tuple(v if isinstance(v := raw.get(p), str) else NONE for p in paths)


def kept(units_by_value: Mapping[str, int]) -> dict[str, str]:
    """Each value -> the value its units are counted in: itself for the MAX_VALUES values
    with most units (ties by value), `(other)` for the rest."""
    ranked = sorted(
        (v for v in units_by_value if v != OTHER), key=lambda v: (-units_by_value[v], v)
    )
    keep = frozenset(ranked[:MAX_VALUES])
    return {v: v if v in keep else OTHER for v in units_by_value}


def _order(arm: ArmKey) -> str:
    return arm or ""  # as the aggregation's first-exposure rule breaks ties


class FirstSegments:
    """Per experience that records segments, each unit's values at its first exposure.
    Nothing is kept for an experience without segments."""

    def __init__(self, experiences: Mapping[str, Attribution]) -> None:
        self.paths = {e: a.segments for e, a in experiences.items() if a.segments}
        self._units: dict[str, dict[str, Values]] = {e: {} for e in self.paths}
        self._words: dict[str, str] = {}  # one string object per value, however many records

    def exposure(
        self, experience: str, unit: str, before: First | None, at: str, arm: ArmKey, raw: Any
    ) -> None:
        """An arm exposure of `unit` at `at`; `before`: its first exposure until then."""
        paths = self.paths.get(experience)
        if paths is None:
            return
        units = self._units[experience]
        seen = tuple(self._words.setdefault(v, v) for v in values_of(paths, raw))
        if before is None or (at, _order(arm)) < (before[0], _order(before[1])):
            units[unit] = seen
        elif (at, _order(arm)) == (before[0], _order(before[1])):
            units[unit] = tuple(min(a, b) for a, b in zip(units[unit], seen, strict=True))

    def totals(
        self, experience: str, tally: Callable[[list[str]], dict[ArmKey, ArmTotals]]
    ) -> SegmentTotals:
        """Per path, per kept value, `tally` of the units counted in it (their arms' totals)."""
        out: SegmentTotals = {}
        units = self._units.get(experience, {})
        for i, path in enumerate(self.paths.get(experience, ())):
            groups: dict[str, list[str]] = {}
            for unit, seen in units.items():
                groups.setdefault(seen[i], []).append(unit)
            into = kept({value: len(members) for value, members in groups.items()})
            pooled: dict[str, list[str]] = {}
            for value, members in groups.items():
                pooled.setdefault(into[value], []).extend(members)
            if pooled:  # a path without units has no entry, as in the SQL's rows
                out[path] = {value: tally(members) for value, members in sorted(pooled.items())}
        return out
