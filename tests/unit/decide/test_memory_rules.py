"""Frequency caps and dismissals in the engine: a unit's memory decides per candidate, the
same in every arm, at the request's time (given, never the wall clock)."""

from __future__ import annotations

from typing import Any

import pytest

from earnest.decide.bundle import edge_bundle
from earnest.decide.engine import Engine
from earnest.decide.reasons import DISMISSED, FREQUENCY_CAPPED
from earnest.experiences.validation import validate_experience
from earnest.memory import DAY_MS, EMPTY, Memory, Remembered, remember
from tests.builders.experiences import experience, request

GRANTED = {"personalization": "granted", "measurement": "granted"}
NOW_MS = 20_454 * DAY_MS + 12 * 3_600_000  # noon UTC on a fixed day, given to the engine
CAPPED = experience(
    id="capped",
    audience={},
    holdout=0.5,
    requires_consent=["personalization"],
    frequency_cap={"max_exposures": 3, "per_days": 7},
    dismiss_for_days=30,
)


def shown(n: int, at_ms: int = NOW_MS, experience_id: str = "capped") -> Memory:
    memory = remember(
        EMPTY, [Remembered(f"e{i}", experience_id, at_ms) for i in range(n)], [], at_ms
    )
    assert memory is not None
    return memory


def decision(engine: Engine, unit: str, memory: Memory | None, at_ms: int = NOW_MS) -> Any:
    answer = engine.decide(request(unit), GRANTED, memory=memory, now=at_ms / 1000)
    return answer["decisions"]["home-hero"]


@pytest.mark.parametrize("unit", [f"a-{i}" for i in range(40)])
def test_a_unit_is_served_until_exactly_the_cap_then_gets_the_default(unit: str) -> None:
    """In every arm alike: the holdout is capped as the variants are."""
    engine = Engine([CAPPED], global_holdout=0)
    served = decision(engine, unit, None)
    assert served["reason"] in ("personalized", "holdout")
    assert decision(engine, unit, shown(2))["reason"] == served["reason"]
    capped = decision(engine, unit, shown(3))
    assert (capped["reason"], capped["variant"], capped["content"]) == (
        FREQUENCY_CAPPED,
        None,
        CAPPED["default"],
    )


def test_the_cap_lifts_when_its_window_passes() -> None:
    engine = Engine([CAPPED], global_holdout=0)
    memory = shown(3)
    assert decision(engine, "a-1", memory, NOW_MS + 6 * DAY_MS)["reason"] == FREQUENCY_CAPPED
    assert decision(engine, "a-1", memory, NOW_MS + 7 * DAY_MS)["reason"] != FREQUENCY_CAPPED


def test_a_dismissal_holds_for_its_days_and_wins_over_the_cap() -> None:
    engine = Engine([CAPPED], global_holdout=0)
    memory = remember(shown(3), [], [Remembered("d", "capped", NOW_MS)], NOW_MS)
    assert decision(engine, "a-1", memory)["reason"] == DISMISSED
    assert decision(engine, "a-1", memory, NOW_MS + 30 * DAY_MS - 1)["reason"] == DISMISSED
    # 30 days on, the dismissal is over, and so is the cap's 7-day window of those exposures.
    assert decision(engine, "a-1", memory, NOW_MS + 30 * DAY_MS)["reason"] in (
        "personalized",
        "holdout",
    )


def test_a_capped_candidate_gives_way_to_the_next_and_the_trace_says_why() -> None:
    other = experience(id="other", audience={}, holdout=0.01, priority=-1)
    engine = Engine([CAPPED, other], global_holdout=0)
    answer = decision(engine, "a-1", shown(5))
    assert answer["experience"] == "other"
    assert {"experience": "capped", "outcome": FREQUENCY_CAPPED} in answer["trace"]


def test_memory_of_other_experiences_caps_nothing_and_no_memory_caps_nothing() -> None:
    engine = Engine([CAPPED], global_holdout=0)
    assert (
        decision(engine, "a-1", shown(9, experience_id="elsewhere"))["reason"] != FREQUENCY_CAPPED
    )
    assert decision(engine, "a-1", None)["reason"] != FREQUENCY_CAPPED


def test_without_consent_memory_is_never_consulted() -> None:
    engine = Engine([CAPPED], global_holdout=0)
    answer = engine.decide(request("a-1"), None, memory=shown(9), now=NOW_MS / 1000)
    assert answer["decisions"]["home-hero"]["reason"] == "no_consent"


def test_explain_names_the_memory_that_decided() -> None:
    engine = Engine([CAPPED], global_holdout=0)
    out = engine.explain(request("a-1"), GRANTED, memory=shown(3), now=NOW_MS / 1000)
    assert out["placements"]["home-hero"]["decision"]["reason"] == FREQUENCY_CAPPED


def test_the_edge_is_told_which_experiences_read_memory() -> None:
    bundle = edge_bundle(
        [CAPPED, experience(id="plain")],
        global_holdout=0,
        consent_regime="opt_in",
        max_placements=5,
    )
    by_id = {e["id"]: e for e in bundle["experiences"]}
    assert by_id["capped"]["memory"] == {"max_exposures": 3, "per_days": 7, "dismiss_for_days": 30}
    assert "memory" not in by_id["plain"]


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        (
            {"frequency_cap": {"max_exposures": 0, "per_days": 7}},
            "frequency_cap.max_exposures",
            "1",
        ),
        (
            {"frequency_cap": {"max_exposures": 1001, "per_days": 7}},
            "frequency_cap.max_exposures",
            "1000",
        ),
        ({"frequency_cap": {"max_exposures": 3, "per_days": 91}}, "frequency_cap.per_days", "90"),
        ({"frequency_cap": {"max_exposures": 3}}, "frequency_cap.per_days", "required"),
        (
            {"frequency_cap": {"max_exposures": 3, "per_days": 7, "x": 1}},
            "frequency_cap.x",
            "unknown",
        ),
        ({"dismiss_for_days": 0}, "dismiss_for_days", "1"),
        ({"dismiss_for_days": 91}, "dismiss_for_days", "90"),
        ({"dismiss_for_days": "30"}, "dismiss_for_days", "integer"),
    ],
)
def test_validate_names_the_field_and_its_bound(
    changes: dict[str, Any], field: str, words: str
) -> None:
    doc = {**CAPPED, **changes}
    problems = [p for p in validate_experience(doc, "f.yaml") if p.field == field]
    assert problems and words in problems[0].message, validate_experience(doc, "f.yaml")
    assert problems[0].check in ("memory_bounds", "known_fields")


def test_memory_needs_the_personalization_purpose_declared() -> None:
    doc = {**CAPPED, "requires_consent": []}
    problems = validate_experience(doc, "f.yaml")
    assert [(p.field, p.check) for p in problems] == [("requires_consent", "consent_declared")]
    assert "memory" in problems[0].message
    assert validate_experience(CAPPED, "f.yaml") == []
