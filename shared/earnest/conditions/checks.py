"""Audience conditions checked for `earnest validate`, and the paths a condition reads.

Every problem is reported at once, each with where in the condition it is. Stdlib only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
from earnest.conditions.recency import MAX_DAYS, RECENCY_OPERATORS, days_argument
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
        _VALUE_CHECKS.get(op, _unknown_operator)(op, arg, f"{where}.{op}", problems)


# One check per operator, given (operator, its argument, where, problems).
_ValueCheck = Callable[[str, Any, str, list[ConditionProblem]], None]


def _unknown_operator(op: str, _arg: Any, at: str, problems: list[ConditionProblem]) -> None:
    problems.append(ConditionProblem(at, f"unknown operator {op}"))


def _no_check(_op: str, _arg: Any, _at: str, _problems: list[ConditionProblem]) -> None:
    """Any argument is allowed: it compares as JavaScript would, or never matches."""


def _takes_list(op: str, arg: Any, at: str, problems: list[ConditionProblem]) -> None:
    if not isinstance(arg, list):
        problems.append(ConditionProblem(at, f"{op} takes a list"))


def _takes_string(op: str, arg: Any, at: str, problems: list[ConditionProblem]) -> None:
    if not isinstance(arg, str):
        problems.append(ConditionProblem(at, f"{op} takes a string"))


def _takes_pattern(op: str, arg: Any, at: str, problems: list[ConditionProblem]) -> None:
    if not isinstance(arg, str):
        _takes_string(op, arg, at, problems)
        return
    try:
        compile_pattern(arg, ignore_case=op.endswith("i"))
    except PatternError as exc:
        problems.append(ConditionProblem(at, f"invalid regular expression: {exc}"))


def _takes_type(_op: str, arg: Any, at: str, problems: list[ConditionProblem]) -> None:
    if not isinstance(arg, str) or arg not in TYPES:
        problems.append(ConditionProblem(at, f"$type takes one of {sorted(TYPES)}"))


def _takes_days(op: str, arg: Any, at: str, problems: list[ConditionProblem]) -> None:
    if days_argument(arg) is None:
        problems.append(ConditionProblem(at, f"{op} takes a number of days from 0 to {MAX_DAYS}"))


def _takes_value(_op: str, arg: Any, at: str, problems: list[ConditionProblem]) -> None:
    _check_value(arg, at, problems)


def _takes_element(_op: str, arg: Any, at: str, problems: list[ConditionProblem]) -> None:
    if is_operator_object(arg):
        _check_value(arg, at, problems)
    elif isinstance(arg, dict):
        _check(arg, at, problems)
    else:
        problems.append(ConditionProblem(at, "$elemMatch takes a condition"))


_VALUE_CHECKS: dict[str, _ValueCheck] = {
    **dict.fromkeys(VALUE_OPERATORS, _no_check),
    **dict.fromkeys(("$in", "$nin", "$ini", "$nini", "$all", "$alli"), _takes_list),
    **dict.fromkeys(STRING_OPERATORS - REGEX_OPERATORS, _takes_string),
    **dict.fromkeys(REGEX_OPERATORS, _takes_pattern),
    "$type": _takes_type,
    "$not": _takes_value,
    "$size": _takes_value,
    "$elemMatch": _takes_element,
    **dict.fromkeys(RECENCY_OPERATORS, _takes_days),
}


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
