"""Audience conditions checked for `earnest validate`, and the paths a condition reads.

Every problem is reported at once, each with where in the condition it is. Stdlib only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from earnest.conditions.limits import size_problem
from earnest.conditions.operators import (
    REGEX_OPERATORS,
    STRING_OPERATORS,
    TYPES,
    VALUE_OPERATORS,
    ConditionProblem,
    is_operator_object,
)
from earnest.conditions.regex import PatternError, compile_pattern


def check_condition(condition: Any) -> list[ConditionProblem]:
    """Every problem in a condition, for `earnest validate` (an empty list means valid)."""
    problems: list[ConditionProblem] = []
    if not isinstance(condition, dict):
        return [ConditionProblem("", "a condition must be a mapping")]
    too_big = size_problem(condition)
    if too_big is not None:
        return [too_big]  # one problem: walking it further is what it must not cost
    _check(condition, "", problems)
    return problems


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _check(condition: Mapping[str, Any], prefix: str, problems: list[ConditionProblem]) -> None:
    for key, value in condition.items():
        where = _join(prefix, key)
        if key in ("$and", "$or", "$nor"):
            if not isinstance(value, list):
                problems.append(ConditionProblem(where, f"{key} takes a list of conditions"))
                continue
            for i, sub in enumerate(value):
                if isinstance(sub, dict):
                    _check(sub, f"{where}[{i}]", problems)
                else:
                    problems.append(ConditionProblem(f"{where}[{i}]", "must be a condition"))
        elif key == "$not":
            if isinstance(value, dict):
                _check(value, where, problems)
            else:
                problems.append(ConditionProblem(where, "$not takes a condition"))
        elif key.startswith("$"):
            problems.append(ConditionProblem(where, f"unknown operator {key}"))
        else:
            _check_value(value, where, problems)


def _check_value(value: Any, where: str, problems: list[ConditionProblem]) -> None:
    if not isinstance(value, dict) or not any(str(k).startswith("$") for k in value):
        return
    if not is_operator_object(value):
        problems.append(ConditionProblem(where, "do not mix operators and plain keys"))
        return
    for op, arg in value.items():
        at = f"{where}.{op}"
        if op not in VALUE_OPERATORS:
            problems.append(ConditionProblem(at, f"unknown operator {op}"))
        elif op in ("$in", "$nin", "$ini", "$nini", "$all", "$alli") and not isinstance(arg, list):
            problems.append(ConditionProblem(at, f"{op} takes a list"))
        elif op in STRING_OPERATORS and not isinstance(arg, str):
            problems.append(ConditionProblem(at, f"{op} takes a string"))
        elif op in REGEX_OPERATORS:
            try:
                compile_pattern(arg, ignore_case=op.endswith("i"))
            except PatternError as exc:
                problems.append(ConditionProblem(at, f"invalid regular expression: {exc}"))
        elif op == "$type" and arg not in TYPES:
            problems.append(ConditionProblem(at, f"$type takes one of {sorted(TYPES)}"))
        elif op in ("$not", "$size"):
            _check_value(arg, at, problems)
        elif op == "$elemMatch":
            if is_operator_object(arg):
                _check_value(arg, at, problems)
            elif isinstance(arg, dict):
                _check(arg, at, problems)
            else:
                problems.append(ConditionProblem(at, "$elemMatch takes a condition"))


def condition_paths(condition: Any) -> set[str]:
    """The attribute paths a condition reads (what consent and identity rules look at)."""
    paths: set[str] = set()
    if isinstance(condition, dict):
        for key, value in condition.items():
            if key in ("$and", "$or", "$nor"):
                for sub in value if isinstance(value, list) else ():
                    paths |= condition_paths(sub)
            elif key == "$not":
                paths |= condition_paths(value)
            elif not key.startswith("$"):
                paths.add(key)
    return paths
