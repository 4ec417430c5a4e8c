"""Audience conditions compiled once into predicates: what decide evaluates per request.

Semantics follow GrowthBook's `evalCondition` (SDK spec 0.8.0), so a team can bring
conditions from there unchanged; `../shared/conformance/conditions.json` is the proof.
Conditions are compiled into closures when rules load, so a request pays for attribute
lookups and comparisons, never for walking the condition document.

Only the stdlib is imported: this module is on decide's hot path. It must not import
boto3, pydantic or any adapter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
from earnest.conditions.limits import size_problem
from earnest.conditions.operators import (
    ConditionError,
    Predicate,
    SavedGroups,
    is_operator_object,
)
from earnest.conditions.recency import recency_test
from earnest.conditions.regex import PatternError, compile_pattern

Test = Callable[[Any], bool]  # one attribute value against one condition value
Groups = dict[str, list[Any]]


def _never(_: Any) -> bool:
    return False


def _always(_: Any) -> bool:
    return True


def _getter(path: str) -> Callable[[Any], Any]:
    """A closure reading a dotted path; a missing step gives None, as in the reference.

    One and two steps (nearly every audience path) get an inlined reader; the general
    walk is what they fall back to for anything but plain dicts.
    """
    parts = tuple(path.split("."))
    slow = _path_reader(parts)
    if len(parts) == 1:
        return _one_step(parts[0], slow)
    if len(parts) == 2:
        return _two_steps(parts[0], parts[1], slow)
    return slow


def _step(current: Any, part: str) -> Any:
    if isinstance(current, dict):
        return current.get(part) if part in current else _MISSING
    if isinstance(current, list) and current and part.isdigit():
        index = int(part)
        return current[index] if index < len(current) else _MISSING
    return _MISSING


def _path_reader(parts: tuple[str, ...]) -> Callable[[Any], Any]:
    def _slow(obj: Any) -> Any:
        current = obj
        for part in parts:
            if not current:
                return None
            current = _step(current, part)
            if current is _MISSING:
                return None
        return current

    return _slow


def _one_step(key: str, slow: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def get1(obj: Any) -> Any:
        return obj.get(key) if type(obj) is dict else slow(obj)

    return get1


def _two_steps(k1: str, k2: str, slow: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def get2(obj: Any) -> Any:
        if type(obj) is dict:
            inner = obj.get(k1)
            if type(inner) is dict:
                return inner.get(k2)
        return slow(obj)

    return get2


_MISSING = object()


def compile_condition(condition: Any, saved_groups: SavedGroups | None = None) -> Predicate:
    """A predicate over an attributes document; never raises when called.

    Refuses (ConditionError) exactly the conditions `check_condition` finds too deep or
    too large, so what validate accepts always compiles.
    """
    if not isinstance(condition, dict):
        raise ConditionError("a condition must be a mapping")
    too_big = size_problem(condition)
    if too_big is not None:
        raise ConditionError(too_big.message)
    groups = {str(k): list(v) for k, v in (saved_groups or {}).items()}
    return _compile(condition, groups)


def matches(condition: Any, attributes: Any, saved_groups: SavedGroups | None = None) -> bool:
    """Whether `attributes` satisfies `condition` (compiles each time: for tools and tests)."""
    return compile_condition(condition, saved_groups)(attributes)


def _all_of(predicates: list[Predicate]) -> Predicate:
    if not predicates:
        return _always
    if len(predicates) == 1:
        return predicates[0]
    if len(predicates) == 2:
        p1, p2 = predicates

        def both(obj: Any) -> bool:
            return p1(obj) and p2(obj)

        return both
    ps = tuple(predicates)

    def every(obj: Any) -> bool:  # a plain loop: measurably faster than all() on the hot path
        for p in ps:  # noqa: SIM110
            if not p(obj):
                return False
        return True

    return every


def _any_of(predicates: list[Predicate]) -> Predicate:
    ps = tuple(predicates)

    def some(obj: Any) -> bool:
        for p in ps:  # noqa: SIM110
            if p(obj):
                return True
        return False

    return some


def _negate(predicate: Predicate) -> Predicate:
    return lambda obj: not predicate(obj)


def _compile(condition: Mapping[str, Any], groups: Groups) -> Predicate:
    parts: list[Predicate] = []
    leaves: list[tuple[str, Any]] = []
    for key, value in condition.items():
        if key in ("$or", "$nor"):
            if not isinstance(value, list):
                parts.append(_never)
                continue
            either = _any_of([_compile_sub(c, groups) for c in value]) if value else _always
            parts.append(either if key == "$or" else _negate(either) if value else _never)
        elif key == "$and":
            if not isinstance(value, list):
                parts.append(_never)
                continue
            parts.append(_all_of([_compile_sub(c, groups) for c in value]))
        elif key == "$not":
            parts.append(_negate(_compile_sub(value, groups)))
        else:
            leaves.append((key, value))
    if leaves:
        parts.insert(0, _conjunction(leaves, groups))
    return _all_of(parts)


def _compile_sub(condition: Any, groups: Groups) -> Predicate:
    return _compile(condition, groups) if isinstance(condition, dict) else _never


# The hot path: attributes compared with constants. All the plain leaves of one condition
# become a single generated function, the lookups inlined and each comparison type-guarded,
# falling through to the general test for anything unusual (a coercion, a list, a missing
# level). Generated from fixed text: the condition's paths and values reach it only as
# bound constants, never as code. A compiled leaf costs a dict lookup and a comparison.
_NUMBER = "type(v) is int or type(v) is float"
_COMPARE = {"$lt": "<", "$lte": "<=", "$gt": ">", "$gte": ">="}


def _fast_form(expected: Any) -> tuple[str, str, Any] | None:
    """(guard, comparison of v with {e}, constant) for the common shapes, else None."""
    if isinstance(expected, bool):
        return "type(v) is bool", "v is {e}", expected
    if isinstance(expected, str):
        return "type(v) is str", "v == {e}", expected
    if is_number(expected):
        return _NUMBER, "v == {e}", float(expected)
    if isinstance(expected, dict) and len(expected) == 1:
        ((op, arg),) = expected.items()
        if op in _COMPARE and is_number(arg):
            return _NUMBER, f"v {_COMPARE[op]} {{e}}", float(arg)
        strings = isinstance(arg, list) and all(isinstance(a, str) for a in arg)
        if op in ("$in", "$nin") and strings:
            compare = "v in {e}" if op == "$in" else "v not in {e}"
            return "type(v) is str", compare, frozenset(arg)
    return None


def _then(get: Callable[[Any], Any], test: Test) -> Predicate:
    return lambda obj: test(get(obj))


def _conjunction(leaves: list[tuple[str, Any]], groups: Groups) -> Predicate:
    general: list[Predicate] = []
    namespace: dict[str, Any] = {}
    lines = ["def conjunction(obj):"]
    lines += ["    if type(obj) is not dict:", "        return general(obj)"]
    for i, (path, expected) in enumerate(leaves):
        test, get = _compile_value(expected, groups), _getter(path)
        general.append(_then(get, test))
        namespace.update({f"test{i}": test, f"get{i}": get})
        keys = path.split(".")
        if len(keys) == 1:
            namespace[f"a{i}"] = keys[0]
            lines.append(f"    v = obj.get(a{i})")
        elif len(keys) == 2:
            namespace[f"a{i}"], namespace[f"b{i}"] = keys
            lines.append(f"    inner = obj.get(a{i})")
            lines.append(f"    v = inner.get(b{i}) if type(inner) is dict else get{i}(obj)")
        else:
            lines.append(f"    v = get{i}(obj)")
        form = _fast_form(expected)
        if form is None:
            lines.append(f"    if not test{i}(v):")
        else:
            guard, compare, namespace[f"e{i}"] = form
            lines.append(f"    if not (({compare.format(e=f'e{i}')}) if {guard} else test{i}(v)):")
        lines.append("        return False")
    lines.append("    return True")
    namespace["general"] = _all_of(general)
    exec(compile("\n".join(lines), "<audience condition>", "exec"), namespace)
    conjunction: Predicate = namespace["conjunction"]
    return conjunction


def _compile_value(expected: Any, groups: Groups) -> Test:
    """A test of one attribute value against a condition value."""
    if is_operator_object(expected):
        return _compile_operators(expected, groups)
    return _equality(expected)


def _equality(expected: Any) -> Test:
    """A plain condition value: the attribute equals it, as JavaScript compares."""
    if isinstance(expected, str):

        def equals_text(actual: Any) -> bool:
            return actual == expected if type(actual) is str else js_string(actual) == expected

        return equals_text
    if isinstance(expected, bool):
        return lambda actual: actual is not None and js_truthy(actual) is expected
    if is_number(expected):
        return _equals_number(float(expected))
    if expected is None:
        return lambda actual: actual is None
    text = canonical(expected)
    return lambda actual: canonical(actual) == text


def _equals_number(target: float) -> Test:
    def equals_number(actual: Any) -> bool:
        if type(actual) is int or type(actual) is float:
            return bool(actual == target)
        return js_number(actual) == target

    return equals_number


def _compile_operators(expected: Mapping[str, Any], groups: Groups) -> Test:
    tests = [_compile_operator(op, arg, groups) for op, arg in expected.items()]
    if len(tests) == 1:
        return tests[0]
    tuple_tests = tuple(tests)
    return lambda actual: all(t(actual) for t in tuple_tests)


def _in(expected: list[Any], case_insensitive: bool = False) -> Test:
    """Membership as `Array.includes` (no coercion); an array attribute intersects."""
    fold = (lambda v: v.lower() if isinstance(v, str) else v) if case_insensitive else None
    values = [fold(v) for v in expected] if fold else list(expected)
    strings = frozenset(v for v in values if isinstance(v, str))

    def contains(item: Any) -> bool:
        if fold is not None:
            item = fold(item)
        if type(item) is str:
            return item in strings
        return any(js_strict_equal(item, v) for v in values)

    def test(actual: Any) -> bool:
        if isinstance(actual, list):
            return any(contains(a) for a in actual)
        return contains(actual)

    return test


def _all(expected: list[Any], groups: Groups, fold: bool) -> Test:
    wanted = [
        _compile_value(e.lower() if fold and isinstance(e, str) else e, groups) for e in expected
    ]

    def test(actual: Any) -> bool:
        if not isinstance(actual, list):
            return False
        items = [a.lower() if fold and isinstance(a, str) else a for a in actual]
        return all(any(w(a) for a in items) for w in wanted)

    return test


def _regex(pattern: Any, ignore_case: bool) -> Test:
    try:
        found = compile_pattern(str(pattern), ignore_case)
    except PatternError:
        return _never  # as the reference does with a pattern it cannot compile

    def test(actual: Any) -> bool:
        return found(actual if type(actual) is str else js_string(actual))

    return test


def _ordered(sign_ok: Callable[[float], bool], expected: Any) -> Test:
    if is_number(expected):
        bound = float(expected)

        def fast(actual: Any) -> bool:
            if type(actual) is int or type(actual) is float:
                return sign_ok((actual > bound) - (actual < bound))
            sign = js_compare(actual, bound)
            return sign is not None and sign_ok(sign)

        return fast

    def slow(actual: Any) -> bool:
        sign = js_compare(actual, expected)
        return sign is not None and sign_ok(sign)

    return slow


_SIGNS: dict[str, Callable[[float], bool]] = {
    "lt": lambda s: s < 0,
    "lte": lambda s: s <= 0,
    "gt": lambda s: s > 0,
    "gte": lambda s: s >= 0,
    "eq": lambda s: s == 0,
    "ne": lambda s: s != 0,
}


# Each operator's test is built by its own function, chosen once when the condition
# compiles; a request runs the built closure and never looks the operator up.
def _compile_operator(op: str, arg: Any, groups: Groups) -> Test:
    build = _OPERATORS.get(op)
    if build is None:
        return _never  # an unknown operator never matches (validation refuses it before push)
    return build(op, arg, groups)


def _ordered_operator(op: str, arg: Any, _groups: Groups) -> Test:
    return _ordered(_SIGNS[op[1:]], arg)


def _version_operator(op: str, arg: Any, _groups: Groups) -> Test:
    target = padded_version(arg)
    ok = _SIGNS[op[2:]]
    return lambda actual: ok(js_compare(padded_version(actual), target) or 0)


def _eq_operator(_op: str, arg: Any, _groups: Groups) -> Test:
    return lambda actual: js_strict_equal(actual, arg)


def _ne_operator(_op: str, arg: Any, _groups: Groups) -> Test:
    return lambda actual: not js_strict_equal(actual, arg)


def _in_operator(op: str, arg: Any, _groups: Groups) -> Test:
    if not isinstance(arg, list):
        return _never
    member = _in(arg, case_insensitive=op.endswith("ini"))
    return member if op in ("$in", "$ini") else _negate(member)


def _group_operator(op: str, arg: Any, groups: Groups) -> Test:
    member = _in(groups.get(arg, []) if isinstance(arg, str) else [])
    return member if op == "$inGroup" else _negate(member)


def _exists_operator(_op: str, arg: Any, _groups: Groups) -> Test:
    return (lambda a: a is not None) if js_truthy(arg) else (lambda a: a is None)


def _type_operator(_op: str, arg: Any, _groups: Groups) -> Test:
    return lambda actual: type_of(actual) == arg


def _not_operator(_op: str, arg: Any, groups: Groups) -> Test:
    return _negate(_compile_value(arg, groups))


def _size_operator(_op: str, arg: Any, groups: Groups) -> Test:
    size_test = _compile_value(arg, groups)
    return lambda actual: isinstance(actual, list) and size_test(len(actual))


def _elem_match_operator(_op: str, arg: Any, groups: Groups) -> Test:
    element = _compile_value(arg, groups) if is_operator_object(arg) else _compile_sub(arg, groups)
    return lambda actual: (
        isinstance(actual, list) and any(js_truthy(a) and element(a) for a in actual)
    )


def _all_operator(op: str, arg: Any, groups: Groups) -> Test:
    return _all(arg, groups, op == "$alli") if isinstance(arg, list) else _never


def _regex_operator(op: str, arg: Any, _groups: Groups) -> Test:
    found = _regex(arg, ignore_case=op.endswith("i"))
    return found if op.startswith("$regex") else _negate(found)


def _recency_operator(op: str, arg: Any, _groups: Groups) -> Test:
    return recency_test(op, arg)


_OPERATORS: dict[str, Callable[[str, Any, Groups], Test]] = {
    **dict.fromkeys(("$lt", "$lte", "$gt", "$gte"), _ordered_operator),
    **dict.fromkeys(("$veq", "$vne", "$vlt", "$vlte", "$vgt", "$vgte"), _version_operator),
    "$eq": _eq_operator,
    "$ne": _ne_operator,
    **dict.fromkeys(("$in", "$nin", "$ini", "$nini"), _in_operator),
    **dict.fromkeys(("$inGroup", "$notInGroup"), _group_operator),
    "$exists": _exists_operator,
    "$type": _type_operator,
    "$not": _not_operator,
    "$size": _size_operator,
    "$elemMatch": _elem_match_operator,
    **dict.fromkeys(("$all", "$alli"), _all_operator),
    **dict.fromkeys(("$regex", "$regexi", "$notRegex", "$notRegexi"), _regex_operator),
    **dict.fromkeys(("$withinDays", "$olderThanDays"), _recency_operator),
}
