"""Audience conditions: the shared conformance cases, algebraic laws, and authoring errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from earnest.audience import compile_condition, matches
from earnest.conditions.checks import check_condition, condition_paths
from earnest.conditions.coercion import padded_version
from earnest.conditions.limits import MAX_DEPTH, MAX_REGEX_INPUT, MAX_SIZE
from earnest.conditions.operators import ConditionError
from tests.conftest import ROOT, SHARED

# The conformance file lives beside the project (../shared/conformance). A copy travels with
# the repository for clones that have nothing beside them; where both exist they must agree.
BESIDE = SHARED / "conformance" / "conditions.json"
VENDORED = ROOT / "tests" / "data" / "conditions.json"
CASES = json.loads((BESIDE if BESIDE.exists() else VENDORED).read_text())["evalCondition"]


def test_the_conformance_file_is_the_full_set() -> None:
    assert len(CASES) == 248


@pytest.mark.skipif(not BESIDE.exists(), reason="no ../shared beside this clone")
def test_the_copy_in_the_repository_is_the_shared_file() -> None:
    assert json.loads(VENDORED.read_text()) == json.loads(BESIDE.read_text())


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_conformance_case(case: list[Any]) -> None:
    name, condition, attributes, expected = case[:4]
    groups = case[4] if len(case) > 4 else None
    assert matches(condition, attributes, groups) is expected, name


# ------------------------------------------------------------ laws over generated visitors

COUNTRIES = ["DE", "AT", "CH", "US", "FR"]
visitors = st.fixed_dictionaries(
    {
        "context": st.fixed_dictionaries(
            {
                "country": st.sampled_from(COUNTRIES),
                "device": st.sampled_from(["mobile", "desktop", "tablet"]),
            }
        ),
        "attributes": st.fixed_dictionaries(
            {},
            optional={
                "visits": st.integers(-5, 50),
                "member": st.booleans(),
                "tags": st.lists(st.sampled_from(["a", "b", "c"]), max_size=3),
            },
        ),
    }
)
leaves = st.one_of(
    st.builds(lambda cs: {"context.country": {"$in": cs}}, st.lists(st.sampled_from(COUNTRIES))),
    st.builds(lambda d: {"context.device": d}, st.sampled_from(["mobile", "desktop"])),
    st.builds(lambda n: {"attributes.visits": {"$gte": n}}, st.integers(-5, 50)),
    st.builds(lambda b: {"attributes.member": b}, st.booleans()),
    st.builds(lambda t: {"attributes.tags": {"$elemMatch": {"$eq": t}}}, st.sampled_from("abc")),
    st.just({"attributes.visits": {"$exists": True}}),
)
conditions = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(lambda cs: {"$and": cs}, st.lists(inner, max_size=3)),
        st.builds(lambda cs: {"$or": cs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda c: {"$not": c}, inner),
    ),
    max_leaves=8,
)


@given(conditions, visitors)
def test_not_negates_and_double_negation_is_identity(condition: Any, visitor: Any) -> None:
    once = matches(condition, visitor)
    assert matches({"$not": condition}, visitor) is (not once)
    assert matches({"$not": {"$not": condition}}, visitor) is once


@given(conditions, conditions, visitors)
def test_and_or_nor_follow_boolean_algebra(a: Any, b: Any, visitor: Any) -> None:
    x, y = matches(a, visitor), matches(b, visitor)
    assert matches({"$and": [a, b]}, visitor) is (x and y)
    assert matches({"$or": [a, b]}, visitor) is (x or y)
    assert matches({"$nor": [a, b]}, visitor) is (not (x or y))


@given(st.lists(st.sampled_from(COUNTRIES)), visitors)
def test_in_and_nin_are_complements_for_a_single_value(countries: list[str], visitor: Any) -> None:
    inside = matches({"context.country": {"$in": countries}}, visitor)
    outside = matches({"context.country": {"$nin": countries}}, visitor)
    assert inside is (visitor["context"]["country"] in countries)
    assert outside is (not inside)


@given(conditions, visitors)
def test_a_compiled_condition_is_reusable_and_agrees_with_matches(
    condition: Any, visitor: Any
) -> None:
    predicate = compile_condition(condition)
    assert predicate(visitor) is matches(condition, visitor)
    assert predicate(visitor) is predicate(visitor)


def test_saved_groups_are_bound_when_compiled() -> None:
    predicate = compile_condition({"visitor.user_id": {"$inGroup": "vip"}}, {"vip": ["u-1", "u-2"]})
    assert predicate({"visitor": {"user_id": "u-2"}})
    assert not predicate({"visitor": {"user_id": "u-3"}})
    assert not predicate({"visitor": {}})


def test_not_regex_forms_negate_the_match() -> None:
    ua = {"context": {"browser": "Mobile Safari"}}
    assert not matches({"context.browser": {"$notRegex": "Safari"}}, ua)
    assert matches({"context.browser": {"$notRegex": "safari"}}, ua)
    assert not matches({"context.browser": {"$notRegexi": "safari"}}, ua)
    assert check_condition({"context.browser": {"$notRegexi": "(["}})[0].path == (
        "context.browser.$notRegexi"
    )


def test_a_missing_attribute_compares_as_null_like_growthbook() -> None:
    # GrowthBook's conformance pins this: null is 0 to <, >; require presence with $exists.
    assert matches({"attributes.ltv": {"$lt": 10}}, {"attributes": {}})
    assert not matches({"attributes.ltv": {"$lt": 10, "$exists": True}}, {"attributes": {}})
    assert not matches({"context.country": "DE"}, {"context": {}})


def test_versions_sort_as_people_expect() -> None:
    assert padded_version("1.10.0") > padded_version("1.9.0")
    assert padded_version("1.0.0") > padded_version("1.0.0-beta")
    assert padded_version("v2.0.0+build7") == padded_version("2.0.0")
    assert matches({"app": {"$vgte": "3.2.0"}}, {"app": "3.10.1"})


# ------------------------------------------------------------ authoring errors


def test_a_condition_that_is_not_a_mapping_cannot_compile() -> None:
    with pytest.raises(ConditionError):
        compile_condition(["country", "DE"])
    assert check_condition("DE")[0].message == "a condition must be a mapping"


def test_check_reports_every_problem_with_its_path() -> None:
    problems = check_condition(
        {
            "context.country": {"$inn": ["DE"]},
            "$or": [{"attributes.visits": {"$gte": 3, "$regex": "(["}}, "oops"],
            "attributes.tags": {"$in": "a"},
            "$nand": [],
            "context.device": {"$type": "integer"},
        }
    )
    by_path = {p.path: p.message for p in problems}
    assert by_path["context.country.$inn"] == "unknown operator $inn"
    assert by_path["$or[0].attributes.visits.$regex"].startswith("invalid regular expression")
    assert by_path["$or[1]"] == "must be a condition"
    assert by_path["attributes.tags.$in"] == "$in takes a list"
    assert by_path["$nand"] == "unknown operator $nand"
    assert by_path["context.device.$type"].startswith("$type takes one of")
    assert len(problems) == 6


def test_a_type_that_is_a_list_or_a_mapping_is_a_problem_named_not_a_crash() -> None:
    for wrong in (["string"], {"string": True}):
        (problem,) = check_condition({"context.device": {"$type": wrong}})
        assert problem.path == "context.device.$type"
        assert problem.message.startswith("$type takes one of")


def test_a_valid_condition_has_no_problems() -> None:
    condition = {
        "context.country": {"$in": ["DE", "AT"]},
        "$or": [{"attributes.visits": {"$gte": 3}}, {"attributes.tags": {"$all": ["a"]}}],
        "$not": {"context.device": "tablet"},
    }
    assert check_condition(condition) == []


def test_paths_name_every_attribute_read_through_logic() -> None:
    condition = {
        "context.country": "DE",
        "$or": [
            {"attributes.visits": {"$gte": 3}},
            {"$not": {"visitor.user_id": {"$exists": True}}},
        ],
        "$nor": [{"attributes.tags": {"$size": 0}}],
    }
    assert condition_paths(condition) == {
        "context.country",
        "attributes.visits",
        "visitor.user_id",
        "attributes.tags",
    }


# ------------------------------------------------------------ bounded, whatever is written


def _nested(op: str, depth: int) -> dict[str, Any]:
    condition: dict[str, Any] = {"context.country": "DE"}
    for _ in range(depth):
        condition = {op: [condition]}
    return condition


@pytest.mark.parametrize("op", ["$and", "$or"])
@pytest.mark.parametrize("depth", [130, 400, 5_000])
def test_a_condition_nested_too_deep_is_one_problem_that_compiling_agrees_with(
    op: str, depth: int
) -> None:
    # Given an $and/$or nested deeper than any author needs (issue 12: tracebacks before)
    condition = _nested(op, depth)
    # Then validate names one problem, and compiling (what push and decide do) refuses it too
    problems = check_condition(condition)
    assert [(p.path, p.message) for p in problems] == [
        ("", f"the condition is nested more than {MAX_DEPTH} levels deep")
    ]
    with pytest.raises(ConditionError, match="nested more than"):
        compile_condition(condition)


def test_the_deepest_condition_validate_accepts_compiles_and_evaluates() -> None:
    depth = (MAX_DEPTH - 1) // 2  # each level is a mapping holding a list
    condition = _nested("$and", depth)
    assert check_condition(condition) == []
    assert compile_condition(condition)({"context": {"country": "DE"}})
    assert check_condition(_nested("$and", depth + 1)) != []


def test_a_condition_with_too_many_values_is_refused_the_same_way() -> None:
    condition = {"$or": [{"attributes.n": i} for i in range(MAX_SIZE)]}
    assert check_condition(condition)[0].message == (
        f"the condition has more than {MAX_SIZE} values"
    )
    with pytest.raises(ConditionError):
        compile_condition(condition)
    assert check_condition({"context.country": {"$in": [str(i) for i in range(4_000)]}}) == []


def test_a_catastrophic_pattern_answers_at_once_on_a_hostile_value() -> None:
    # Given the pattern that froze decide for 25 s with Python's backtracking re
    condition = {"attributes.name": {"$regex": "^(a+)+$"}}
    assert check_condition(condition) == []
    predicate = compile_condition(condition)
    # Then it matches what it should and answers the hostile value (RE2: linear time)
    assert predicate({"attributes": {"name": "aaaa"}})
    assert not predicate({"attributes": {"name": "a" * 30 + "b"}})
    assert not predicate({"attributes": {"name": "a" * (MAX_REGEX_INPUT - 1) + "b"}})


def test_patterns_that_need_backtracking_are_refused_by_validate() -> None:
    for pattern in ["(a)\\1", "(?=a)b", "(?<!x)y"]:
        (problem,) = check_condition({"attributes.name": {"$regex": pattern}})
        assert problem.path == "attributes.name.$regex"
        assert "linear-time engine" in problem.message
        assert not matches({"attributes.name": {"$regex": pattern}}, {"attributes": {"name": "aa"}})


def test_a_regex_reads_only_the_start_of_a_long_value() -> None:
    long_url = "https://shop.example/" + "x" * MAX_REGEX_INPUT + "sale"
    assert matches({"context.url": {"$regex": "^https://shop"}}, {"context": {"url": long_url}})
    assert not matches({"context.url": {"$regex": "sale$"}}, {"context": {"url": long_url}})


def test_a_visitor_value_nested_past_any_bound_is_answered_not_raised() -> None:
    deep: Any = "a"
    for _ in range(5_000):
        deep = [deep]
    visitor = {"attributes": {"v": deep}}
    assert not matches({"attributes.v": {"$regex": "a"}}, visitor)
    assert not matches({"attributes.v": "a"}, visitor)
    assert not matches({"attributes.v": {"$lt": 1, "$gt": 0}}, visitor)
    assert not matches({"attributes.v": [["a"]]}, visitor)
