"""Invariants of decisions that users rely on, checked over generated experiences."""

from __future__ import annotations

from typing import Any

import pytest
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


AUDIENCES = [
    {},
    {"context.device": "mobile"},
    {"context.country": {"$in": ["DE", "AT"]}, "attributes.ltv": {"$gte": 50}},
    {"$or": [{"context.country": "FR"}, {"attributes.returning": True}]},
    {"attributes.ltv": {"$lt": 100}, "$not": {"context.device": "tablet"}},
    {"visitor.user_id": {"$exists": True}, "attributes.segments": {"$elemMatch": {"$eq": "a"}}},
]
pages = st.fixed_dictionaries(
    {
        "context": st.fixed_dictionaries(
            {"country": st.sampled_from(["DE", "AT", "FR"])},
            optional={"device": st.sampled_from(["mobile", "tablet", 7, None])},
        ),
        "attributes": st.fixed_dictionaries(
            {},
            optional={
                "ltv": st.one_of(st.integers(0, 200), st.sampled_from(["60", None, True])),
                "returning": st.booleans(),
                "segments": st.lists(st.sampled_from(["a", "b"]), max_size=2),
            },
        ),
        "user": st.one_of(st.none(), st.just("u-1")),
        "confidence": st.sampled_from([None, 0.5, 1.0]),
        "consent": st.sampled_from([None, "granted", "denied"]),
    }
)


@settings(max_examples=150, deadline=None)
@given(page=pages, unit=st.sampled_from(UNITS[:40]))
def test_a_page_naming_every_placement_gets_what_each_placement_gets_alone(
    page: dict[str, Any], unit: str
) -> None:
    # Given two candidates per placement, audiences of every shape (the engine evaluates
    # them all at once for a page naming many placements, one by one for a page naming few)
    docs = [
        experience(id=f"e{i}", placement=f"p{i // 2}", audience=a, priority=i % 2)
        for i, a in enumerate(AUDIENCES * 2)
    ]
    engine = Engine(docs, global_holdout=0.1)
    visitor: dict[str, Any] = {"anonymous_id": unit}
    if page["user"]:
        visitor["user_id"] = page["user"]
    if page["confidence"] is not None:
        visitor["identity_confidence"] = page["confidence"]
    consent = None if page["consent"] is None else {"personalization": page["consent"]}
    placements = tuple(f"p{i}" for i in range(len(AUDIENCES)))
    body = request(unit, placements, context=page["context"], attributes=page["attributes"])
    body["visitor"] = visitor

    # When the whole page is decided, and each placement alone
    whole = engine.decide(body, consent)["decisions"]
    alone = {
        p: engine.decide({**body, "placements": [p]}, consent)["decisions"][p] for p in placements
    }

    # Then every decision is the same, trace included
    assert whole == alone


def test_an_answer_shared_between_responses_cannot_be_changed_through_one_of_them() -> None:
    engine = Engine([experience(audience={"context.country": "FR"})])
    first = engine.decide(request("a-1"), None)["decisions"]["home-hero"]
    second = engine.decide(request("a-2"), None)["decisions"]["home-hero"]
    assert first["reason"] == second["reason"] == "not_in_audience"

    with pytest.raises(TypeError):
        first["content"] = {"v": "changed"}
    copied = dict(first)
    copied["content"] = {"v": "changed"}
    assert second["content"] == {"v": "default"}
