"""Explain: every candidate with its true reason, and never a disagreement with decide."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from earnest.decide.engine import Engine
from earnest.experiences import lifecycle
from tests.builders.experiences import experience, request

HIKING = experience(
    id="hiking-hero",
    priority=20,
    audience={"attributes.last_category": "hiking"},
    requires_consent=["personalization"],
)
DACH = experience(
    id="dach-mobile-hero",
    priority=10,
    audience={"context.country": {"$in": ["DE", "AT", "CH"]}, "context.device": "mobile"},
)
GRANTED = {"personalization": "granted", "measurement": "granted"}


def us_desktop_hiker() -> dict[str, Any]:
    return request(
        context={"country": "US", "device": "desktop"}, attributes={"last_category": "hiking"}
    )


def test_the_trace_gives_the_true_reason_of_a_candidate_after_the_winner() -> None:
    engine = Engine([HIKING, DACH], global_holdout=0.0)
    # A US desktop visitor: hiking-hero wins; dach-mobile-hero could never have matched
    trace = engine.decide(us_desktop_hiker(), GRANTED)["decisions"]["home-hero"]["trace"]
    assert trace == [{"experience": "dach-mobile-hero", "outcome": "not_in_audience"}]
    # A DE mobile hiker: both match, so dach-mobile-hero really lost on priority
    de = request(attributes={"last_category": "hiking"})
    trace = engine.decide(de, GRANTED)["decisions"]["home-hero"]["trace"]
    assert trace == [{"experience": "dach-mobile-hero", "outcome": "lower_priority"}]


def test_explain_names_the_failed_condition_consent_and_priority() -> None:
    engine = Engine([HIKING, DACH], global_holdout=0.0)
    part = engine.explain(us_desktop_hiker(), None)["placements"]["home-hero"]
    hiking, dach = part["candidates"]
    assert (hiking["outcome"], dach["outcome"]) == ("no_consent", "not_in_audience")
    assert "needs consent for personalization" in hiking["detail"]
    assert dach["detail"] == (
        'fails context.country: {"$in": ["DE", "AT", "CH"]}, visitor has "US"; '
        'context.device: "mobile", visitor has "desktop"'
    )
    assert part["decision"]["reason"] == "no_consent"
    de = request(attributes={"last_category": "hiking"})
    part = engine.explain(de, GRANTED)["placements"]["home-hero"]
    assert part["candidates"][1]["outcome"] == "lower_priority"
    assert "hiking-hero ranks first (priority 20 vs 10" in part["candidates"][1]["detail"]


def test_explain_lists_paused_and_retired_candidates_with_why() -> None:
    pause = lifecycle.entry(
        "paused", "operator", "pricing incident", "lena", "2026-12-01T10:00Z", {}
    )
    paused = lifecycle.effective(HIKING, lifecycle.set_entry({}, None, pause))
    variant = lifecycle.effective(
        DACH, lifecycle.set_entry({}, "b", {**pause, "reason": "loses_to_default in …"})
    )
    engine = Engine([paused, variant], global_holdout=0.0)
    part = engine.explain(request(unit="a-7"), GRANTED)["placements"]["home-hero"]
    by_id = {c["experience"]: c for c in part["candidates"]}
    assert by_id["hiking-hero"]["outcome"] == "paused"
    assert "pricing incident" in by_id["hiking-hero"]["detail"]
    assert "variant b paused: loses_to_default" in by_id["dach-mobile-hero"]["detail"]
    assert part["decision"]["variant"] in (None, "a")


def test_identity_below_the_threshold_is_explained_with_the_numbers() -> None:
    ltv = experience(
        id="ltv", audience={"attributes.ltv": {"$gte": 100}}, requires_consent=["personalization"]
    )
    body = request(attributes={"ltv": 900})
    body["visitor"]["identity_confidence"] = 0.62
    (row,) = Engine([ltv]).explain(body, GRANTED)["placements"]["home-hero"]["candidates"]
    assert row["outcome"] == "identity_uncertain"
    assert "identity confidence 0.62 < 0.9" in row["detail"]


@settings(max_examples=200, deadline=None)
@given(
    country=st.sampled_from(["DE", "AT", "US"]),
    device=st.sampled_from(["mobile", "desktop"]),
    category=st.sampled_from(["hiking", "running", None]),
    consent=st.sampled_from([None, GRANTED, {"personalization": "denied"}]),
    unit=st.integers(0, 10_000),
)
def test_explain_never_disagrees_with_decide(
    country: str, device: str, category: str | None, consent: Any, unit: int
) -> None:
    engine = Engine([HIKING, DACH], global_holdout=0.05)
    attributes = {"last_category": category} if category else {}
    body = request(
        f"u-{unit}", context={"country": country, "device": device}, attributes=attributes
    )
    decision = engine.decide(body, consent)["decisions"]["home-hero"]
    part = engine.explain(body, consent)["placements"]["home-hero"]
    assert {k: v for k, v in decision.items() if k != "token"} == part["decision"]
    outcomes = {c["experience"]: c["outcome"] for c in part["candidates"]}
    for lost in decision.get("trace", ()):
        assert outcomes[lost["experience"]] == lost["outcome"]
    assert outcomes[decision["experience"]] == decision["reason"]
