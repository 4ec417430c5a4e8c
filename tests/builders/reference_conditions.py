"""A plain interpreter of the audience language: the obvious reading, kept to check the fast one.

It walks the condition document on every call, as growthbook-python's `evalCondition`
does, one branch per operator and no generated code, no fast forms, no precomputed sets.
The compiled predicates of `earnest.conditions.compile` must agree with it on every
condition and visitor (the property test in tests/unit/conditions). JavaScript's value
rules come from `earnest.conditions.coercion`, which the conformance cases pin on their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from earnest.conditions.coercion import (
    canonical,
    is_number,
    js_compare,
    js_number,
    js_strict_equal,
    js_string,
    js_truthy,
    padded_version,
    type_of,
)
from earnest.conditions.regex import PatternError, compile_pattern


def evaluate(
    condition: Any, attributes: Any, groups: Mapping[str, list[Any]] | None = None
) -> bool:
    """Whether `attributes` satisfies `condition`, read the plain way."""
    groups = groups or {}
    if not isinstance(condition, dict):
        return False
    for key, value in condition.items():
        if key == "$or":
            if not isinstance(value, list) or not _either(value, attributes, groups):
                return False
        elif key == "$nor":
            if not isinstance(value, list) or _either(value, attributes, groups):
                return False
        elif key == "$and":
            if not isinstance(value, list):
                return False
            if not all(evaluate(c, attributes, groups) for c in value):
                return False
        elif key == "$not":
            if evaluate(value, attributes, groups):
                return False
        elif not _value_matches(value, _path(attributes, key), groups):
            return False
    return True


def _either(conditions: list[Any], attributes: Any, groups: Mapping[str, list[Any]]) -> bool:
    """GrowthBook's evalOr: an empty list is true (so `$or: []` passes, `$nor: []` fails)."""
    return not conditions or any(evaluate(c, attributes, groups) for c in conditions)


def _path(obj: Any, path: str) -> Any:
    current = obj
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


def _is_operators(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(str(k).startswith("$") for k in value)


def _value_matches(expected: Any, actual: Any, groups: Mapping[str, list[Any]]) -> bool:
    if isinstance(expected, str):
        return js_string(actual) == expected
    if isinstance(expected, bool):
        return actual is not None and js_truthy(actual) is expected
    if is_number(expected):
        return js_number(actual) == float(expected)
    if expected is None:
        return actual is None
    if _is_operators(expected):
        return all(_operator(op, arg, actual, groups) for op, arg in expected.items())
    return canonical(actual) == canonical(expected)


def _member(item: Any, values: list[Any], fold: bool) -> bool:
    if fold:
        item = item.lower() if isinstance(item, str) else item
        values = [v.lower() if isinstance(v, str) else v for v in values]
    return any(js_strict_equal(item, v) for v in values)


def _in(actual: Any, values: list[Any], fold: bool = False) -> bool:
    if isinstance(actual, list):
        return any(_member(a, values, fold) for a in actual)
    return _member(actual, values, fold)


def _sign_ok(op: str, sign: float) -> bool:
    return {
        "lt": sign < 0,
        "lte": sign <= 0,
        "gt": sign > 0,
        "gte": sign >= 0,
        "eq": sign == 0,
        "ne": sign != 0,
    }[op]


def _operator(op: str, arg: Any, actual: Any, groups: Mapping[str, list[Any]]) -> bool:
    if op in ("$lt", "$lte", "$gt", "$gte"):
        sign = js_compare(actual, arg)
        return sign is not None and _sign_ok(op[1:], sign)
    if op in ("$veq", "$vne", "$vlt", "$vlte", "$vgt", "$vgte"):
        return _sign_ok(op[2:], js_compare(padded_version(actual), padded_version(arg)) or 0)
    if op == "$eq":
        return js_strict_equal(actual, arg)
    if op == "$ne":
        return not js_strict_equal(actual, arg)
    if op in ("$in", "$nin", "$ini", "$nini"):
        if not isinstance(arg, list):
            return False
        inside = _in(actual, arg, fold=op.endswith("ini"))
        return inside if op in ("$in", "$ini") else not inside
    if op in ("$inGroup", "$notInGroup"):
        inside = _in(actual, list(groups.get(arg, [])) if isinstance(arg, str) else [])
        return inside if op == "$inGroup" else not inside
    if op == "$exists":
        return (actual is not None) if js_truthy(arg) else (actual is None)
    if op == "$type":
        return type_of(actual) == arg
    if op == "$not":
        return not _value_matches(arg, actual, groups)
    if op == "$size":
        return isinstance(actual, list) and _value_matches(arg, len(actual), groups)
    if op == "$elemMatch":
        if not isinstance(actual, list):
            return False
        for a in actual:
            if not js_truthy(a):
                continue
            hit = _value_matches(arg, a, groups) if _is_operators(arg) else evaluate(arg, a, groups)
            if hit:
                return True
        return False
    if op in ("$all", "$alli"):
        if not isinstance(arg, list) or not isinstance(actual, list):
            return False
        fold = op == "$alli"
        items = [a.lower() if fold and isinstance(a, str) else a for a in actual]
        wanted = [e.lower() if fold and isinstance(e, str) else e for e in arg]
        return all(any(_value_matches(w, a, groups) for a in items) for w in wanted)
    if op in ("$regex", "$regexi", "$notRegex", "$notRegexi"):
        try:
            found = compile_pattern(str(arg), ignore_case=op.endswith("i"))(js_string(actual))
        except PatternError:
            found = False
        return found if op.startswith("$regex") else not found
    return False
