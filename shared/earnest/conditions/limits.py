"""How large an audience may be, and how much of a visitor's value a condition reads.

The bounds keep every decision a few microseconds per condition whatever an author writes
or a visitor sends (issue 12): `earnest validate` refuses a condition past them with one
problem, and the compiler refuses the same ones, so push never meets what validate let
through. Measured without recursion, so a condition nested far past any bound is still
answered with the problem, not a RecursionError. Stdlib only: on decide's hot path.
"""

from __future__ import annotations

from typing import Any

from earnest.conditions.operators import ConditionProblem

MAX_DEPTH = 32  # mappings and lists inside one another, counting the condition itself
MAX_SIZE = 5_000  # JSON values in one condition: mappings, lists and scalars all count
MAX_PATTERN_LENGTH = 1_024  # characters of one $regex pattern
MAX_REGEX_INPUT = 4_096  # characters of a visitor's value a regex is run on (its start)
MAX_VALUE_DEPTH = 32  # nesting of a visitor's value that text and equality look into


def size_problem(condition: Any) -> ConditionProblem | None:
    """The one problem of a condition too deep or too large to evaluate, else None."""
    stack: list[tuple[Any, int]] = [(condition, 1)]
    size = 0
    while stack:
        value, depth = stack.pop()
        size += 1
        if size > MAX_SIZE:
            return ConditionProblem("", f"the condition has more than {MAX_SIZE} values")
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                return ConditionProblem(
                    "", f"the condition is nested more than {MAX_DEPTH} levels deep"
                )
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
    return None
