"""Audience conditions: the vocabulary of the language and what a problem with one is.

Shared by compiling (decide's hot path) and checking (`earnest validate`). Stdlib only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Predicate = Callable[[Any], bool]
SavedGroups = Mapping[str, Iterable[Any]]

VALUE_OPERATORS = frozenset(
    {
        "$eq", "$ne", "$lt", "$lte", "$gt", "$gte",
        "$veq", "$vne", "$vlt", "$vlte", "$vgt", "$vgte",
        "$in", "$nin", "$ini", "$nini", "$all", "$alli",
        "$inGroup", "$notInGroup",
        "$exists", "$type", "$size", "$elemMatch", "$not",
        "$regex", "$regexi", "$notRegex", "$notRegexi",
        "$withinDays", "$olderThanDays",
    }
)  # fmt: skip
REGEX_OPERATORS = frozenset({"$regex", "$regexi", "$notRegex", "$notRegexi"})
STRING_OPERATORS = REGEX_OPERATORS | {"$inGroup", "$notInGroup"}
TYPES = frozenset({"string", "number", "boolean", "null", "array", "object"})


class ConditionError(ValueError):
    """A condition that is not a condition at all (not a mapping at its top)."""


@dataclass(frozen=True, slots=True)
class ConditionProblem:
    path: str  # where in the condition, e.g. "$or[1].country.$inn"
    message: str


def is_operator_object(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(str(k).startswith("$") for k in value)
