"""Segment values: what decide records of a request for the report's split and a bandit's
per-segment weights. The cases in tests/data/segment_values.json are run here and by the
edge's JS (clients/edge-worker/test/engine.test.js), so both record the same value."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from earnest.decide.segments import (
    NONE,
    OTHER,
    path_error,
    reader,
    recorded,
    value_of,
    values,
)
from tests.conftest import ROOT

CASES = json.loads((ROOT / "tests" / "data" / "segment_values.json").read_text())["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_segment_case(case: list[Any]) -> None:
    name, request, expected = case
    got = values([(p, reader(p)) for p in expected], request)
    assert got == expected, name
    assert list(got) == list(expected)


@pytest.mark.parametrize(
    "path", ["context.device", "attributes.journey_stage", "context.A_1", "attributes." + "x" * 64]
)
def test_paths_a_segment_may_read(path: str) -> None:
    assert path_error(path) is None


@pytest.mark.parametrize(
    "path",
    [
        "visitor.user_id",
        "device",
        "context",
        "context.",
        "context.a.b",
        "attributes.journey-stage",
        "attributes." + "x" * 65,
        3,
        None,
    ],
)
def test_paths_a_segment_may_not_read(path: object) -> None:
    message = path_error(path)
    assert message is not None and "context.<name> or attributes.<name>" in message


@pytest.mark.slow
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    )
)
def test_every_value_is_bounded_text(raw: Any) -> None:
    """Whatever a page sends, the stored value is a short word, a small number or a marker."""
    value = value_of(raw)
    assert value in (NONE, OTHER) or (0 < len(value) <= 32 and value.isascii() and " " not in value)


@pytest.mark.parametrize("raw", [10**400, float("nan"), float("inf"), -float("inf"), 1e300])
def test_absurd_numbers_are_other(raw: float) -> None:
    assert value_of(raw) == OTHER


def test_an_experiences_recorded_paths_are_its_plans_then_its_allocations_not_listed() -> None:
    doc = {
        "measurement_plan": {"segments": ["context.device", "attributes.stage"]},
        "allocation": {"mode": "bandit", "segments": ["attributes.stage", "context.country"]},
    }
    assert recorded(doc) == ("context.device", "attributes.stage", "context.country")
    assert recorded({"measurement_plan": {}, "allocation": {"mode": "fixed"}}) == ()
    assert recorded({}) == ()


@pytest.mark.parametrize(
    ("doc", "said"),
    [
        ({"measurement_plan": {"segments": ["visitor.user_id"]}}, "measurement_plan.segments"),
        ({"allocation": {"segments": "context.device"}}, "allocation.segments must be a list"),
        (
            {
                "measurement_plan": {"segments": ["context.a", "context.b"]},
                "allocation": {"segments": ["context.c", "context.d"]},
            },
            "at most 3",
        ),
    ],
)
def test_recorded_paths_refuse_what_validation_would(doc: dict[str, Any], said: str) -> None:
    with pytest.raises(ValueError, match=said):
        recorded(doc)
