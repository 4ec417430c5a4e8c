"""The compiled fast path agrees with the plain interpreter in tests/builders.

The plain reading is first checked against GrowthBook's conformance cases, then the two
are compared on generated conditions and visitors whose values cross every type guard the
generated code takes (strings that look like numbers, bools, nulls, lists, nested maps,
missing levels).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from earnest.audience import compile_condition
from earnest.conditions.sweep import compile_sweep
from tests.builders.reference_conditions import evaluate
from tests.conftest import ROOT, SHARED

BESIDE = SHARED / "conformance" / "conditions.json"
VENDORED = ROOT / "tests" / "data" / "conditions.json"
CASES = json.loads((BESIDE if BESIDE.exists() else VENDORED).read_text())["evalCondition"]
GROUPS = {"vip": ["u-1", "u-2", 3], "empty": []}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_the_plain_interpreter_passes_the_conformance_case(case: list[Any]) -> None:
    name, condition, attributes, expected = case[:4]
    groups = case[4] if len(case) > 4 else None
    assert evaluate(condition, attributes, groups) is expected, name


TEXTS = ["", "1", "a", "A", "b", "u-1"]
PATHS = ["a", "ctx.a", "ctx.in.a", "list.0", "ctx"]
SMALL = st.integers(-2, 2)
scalars = st.one_of(
    SMALL,
    st.sampled_from(["", "1", "01", "a", "A", "b", "1.0.2", "v2.0.0", "true", "u-1"]),
    st.none(),
    st.booleans(),
    st.sampled_from([0.5, 1.0, -0.0, 1e21, float("inf")]),
)
values = st.one_of(
    scalars,
    SMALL,  # weighted: equal numbers and texts are where an inline comparison can slip
    st.sampled_from(TEXTS),
    st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.sampled_from("ab"), inner, max_size=2)
        ),
        max_leaves=5,
    ),
)
contexts = st.fixed_dictionaries(
    {"a": values}, optional={"in": st.fixed_dictionaries({"a": values}), "b": values}
)
visitors = st.fixed_dictionaries(
    {"a": values, "ctx": st.one_of(contexts, contexts, values)},
    optional={"list": st.lists(values, max_size=3)},
)
_COMPARE_OPS = ["$eq", "$ne", "$lt", "$lte", "$gt", "$gte", "$veq", "$vgt", "$vlte"]
operator_values: st.SearchStrategy[Any] = st.one_of(
    # the shapes the generated code compares inline: numbers ordered, strings in a set
    st.builds(lambda op, n: {op: n}, st.sampled_from(["$lt", "$lte", "$gt", "$gte"]), SMALL),
    st.builds(
        lambda op, vs: {op: vs}, st.sampled_from(["$in", "$nin"]), st.lists(st.sampled_from(TEXTS))
    ),
    st.builds(lambda op, v: {op: v}, st.sampled_from(_COMPARE_OPS), scalars),
    st.builds(
        lambda op, vs: {op: vs},
        st.sampled_from(["$in", "$nin", "$ini", "$nini", "$all", "$alli"]),
        st.lists(scalars, max_size=4),
    ),
    st.builds(lambda b: {"$exists": b}, st.booleans()),
    st.builds(
        lambda t: {"$type": t},
        st.sampled_from(["string", "number", "boolean", "null", "array", "object"]),
    ),
    st.builds(
        lambda op, p: {op: p},
        st.sampled_from(["$regex", "$regexi", "$notRegex", "$notRegexi"]),
        st.sampled_from(["^a", "A$", "1", "^$", "(a|b)", "[", "(a)\\1"]),
    ),
    st.builds(
        lambda op, g: {op: g},
        st.sampled_from(["$inGroup", "$notInGroup"]),
        st.sampled_from(["vip", "empty", "none"]),
    ),
    st.builds(lambda n: {"$size": n}, st.integers(0, 3)),
    st.builds(lambda n: {"$size": {"$gt": n}}, st.integers(0, 2)),
    st.builds(lambda v: {"$elemMatch": {"$eq": v}}, scalars),
    st.builds(lambda v: {"$not": {"$eq": v}}, scalars),
    st.builds(lambda v, w: {"$gte": v, "$lt": w}, st.integers(-3, 3), st.integers(-3, 3)),
)
leaf_values = st.one_of(scalars, operator_values, operator_values, st.lists(scalars, max_size=2))
leaves = st.dictionaries(st.sampled_from(PATHS), leaf_values, min_size=1, max_size=3)
conditions = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(lambda cs: {"$and": cs}, st.lists(inner, max_size=3)),
        st.builds(lambda cs: {"$or": cs}, st.lists(inner, max_size=3)),
        st.builds(lambda cs: {"$nor": cs}, st.lists(inner, max_size=3)),
        st.builds(lambda c: {"$not": c}, inner),
        st.builds(lambda c, d: {**c, **d}, inner, leaves),
        st.builds(lambda p, c: {p: {"$elemMatch": c}}, st.sampled_from(PATHS), inner),
    ),
    max_leaves=6,
)


@pytest.mark.slow
@settings(max_examples=1000, deadline=None)
@given(conditions, visitors)
@example({"a": {"$lt": 1}}, {"a": 1, "ctx": {"a": 1}})  # the boundaries of the inline forms
@example({"ctx.a": {"$nin": ["a"]}}, {"a": None, "ctx": {"a": "a"}})
@example({"ctx.in.a": {"$gte": 2}}, {"a": None, "ctx": {"a": 0, "in": {"a": 2}}})
def test_the_compiled_condition_agrees_with_the_plain_interpreter(
    condition: dict[str, Any], visitor: dict[str, Any]
) -> None:
    assert compile_condition(condition, GROUPS)(visitor) is evaluate(condition, visitor, GROUPS)


@pytest.mark.slow
@settings(max_examples=500, deadline=None)
@given(st.lists(conditions, min_size=1, max_size=4), visitors)
@example([{"ctx.a": "a", "a": {"$gte": 1}}, {"ctx.a": {"$in": ["a"]}}, {}], {"a": 1, "ctx": 7})
def test_a_sweep_over_many_conditions_agrees_with_each_plain_reading(
    many: list[dict[str, Any]], visitor: dict[str, Any]
) -> None:
    swept = compile_sweep(many, GROUPS)(visitor)

    for condition, result in zip(many, swept, strict=True):
        logical = any(k in ("$and", "$or", "$nor", "$not") for k in condition)
        assert result is (None if logical else evaluate(condition, visitor, GROUPS))
    not_a_document = [visitor]
    assert compile_sweep(many, GROUPS)(not_a_document) == [
        None if r is None else evaluate(c, not_a_document, GROUPS)
        for c, r in zip(many, swept, strict=True)
    ]
