"""Invariants of decisions that users rely on, checked over generated experiences."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from earnest.decide.engine import Engine
from tests.builders.experiences import experience, request

UNITS = [f"visitor-{i}" for i in range(400)]


def assignments(engine: Engine, placement: str) -> list[tuple[Any, Any]]:
    out = []
    for unit in UNITS:
        d = engine.decide(request(unit, placements=(placement,)), None)["decisions"][placement]
        out.append((d["reason"], d["variant"]))
    return out


edits = st.fixed_dictionaries(
    {},
    optional={
        "holdout": st.floats(min_value=0.01, max_value=0.9),
        "variants": st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=4).map(
            lambda ws: [{"id": f"v{i}", "weight": w, "content": i} for i, w in enumerate(ws)]
        ),
        "audience": st.sampled_from([{}, {"context.device": "mobile"}, {"context.country": "FR"}]),
        "priority": st.integers(min_value=-5, max_value=5),
        "status": st.sampled_from(["live", "paused", "draft"]),
    },
)


@settings(max_examples=25, deadline=None)
@given(edit=edits)
def test_editing_one_experience_never_reshuffles_another(edit: dict[str, Any]) -> None:
    other = experience(id="other", placement="pdp-recs", holdout=0.2)
    before = Engine([experience(), other], global_holdout=0.05)
    after = Engine([experience(**edit), other], global_holdout=0.05)
    assert assignments(before, "pdp-recs") == assignments(after, "pdp-recs")


@settings(max_examples=25, deadline=None)
@given(unit=st.text(min_size=1, max_size=40), country=st.sampled_from(["DE", "FR"]))
def test_the_same_input_always_gives_the_same_answer(unit: str, country: str) -> None:
    body = request(unit, context={"country": country})
    first = Engine([experience()]).decide(body, None)
    assert Engine([experience()]).decide(body, None) == first
