"""A bandit's slices over the hash (earnest.decide.slices): a re-weighting moves only the
units the change of weights requires, and the holdout never moves."""

from __future__ import annotations

import random
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from earnest.decide import slices
from earnest.decide.bucketing import cumulative_shares, pick
from earnest.decide.engine import Engine
from tests.builders.experiences import experience, request

VARIANTS = ("a", "b", "c", "d")
weights_of = st.lists(
    st.floats(min_value=0.01, max_value=1.0, allow_nan=False), min_size=2, max_size=4
)


def _named(ws: list[float]) -> list[tuple[str, float]]:
    return list(zip(VARIANTS, ws, strict=False))


def _tiles(found: list[slices.Slice]) -> bool:
    return slices.parse([list(s) for s in found]) is not None


@settings(max_examples=300, deadline=None)
@given(first=weights_of, steps=st.lists(weights_of, min_size=1, max_size=8))
def test_a_reweighting_moves_exactly_the_total_variation_and_keeps_few_slices(
    first: list[float], steps: list[list[float]]
) -> None:
    current = slices.layout(_named(first))
    for ws in steps:
        named = _named(ws)
        after = slices.reweight(current, named)
        assert _tiles(after)
        total = sum(w for _, w in named)
        want = {v: w / total for v, w in named}
        got = slices.shares(after)
        assert all(abs(got.get(v, 0.0) - want[v]) < 1e-6 for v in want)  # the new shares
        assert not set(got) - set(want)  # a variant left out keeps nothing
        tv = slices.total_variation(slices.shares(current), want)
        assert slices.moved(current, after) <= tv + 1e-6  # only what the weights require
        changed = sum(1 for v in set(want) | set(slices.shares(current)))
        assert len(after) <= len(current) + changed  # bounded growth, coalesced
        current = after


def test_the_first_layout_assigns_every_unit_as_the_fixed_split_does() -> None:
    rng = random.Random(7)
    for _ in range(200):
        ws = [rng.uniform(0.01, 1) for _ in range(rng.randint(1, 4))]
        ends = [e for _, e, _ in slices.layout(_named(ws))]
        bounds = cumulative_shares(ws)
        for h in [rng.randrange(slices.FULL) for _ in range(200)] + [e - 1 for e in ends]:
            position = h * 2.0**-32
            by_slice = next(i for i, e in enumerate(ends) if h < e)
            assert by_slice == pick(position, bounds)


def _bandit(weights: dict[str, float], stored: list[slices.Slice] | None) -> dict[str, object]:
    doc = experience(
        audience={},
        allocation={"mode": "bandit"},
        variants=[{"id": v, "weight": w, "content": {"v": v}} for v, w in weights.items()],
    )
    if stored is not None:
        doc["variant_slices"] = [list(s) for s in stored]
    return doc


def _assign(doc: dict[str, object], units: list[str]) -> list[tuple[str | None, str]]:
    engine = Engine([doc], global_holdout=0.0)
    out = []
    for unit in units:
        d = engine.decide(request(unit), None)["decisions"]["home-hero"]
        out.append((d["variant"], d["reason"]))
    return out


@pytest.mark.slow
def test_over_100000_units_a_sequence_of_reweightings_moves_at_most_the_tv_plus_a_point() -> None:
    # Given a bandit experience of three variants and 100,000 units, decided as decide does
    units = [f"unit-{i}" for i in range(100_000)]
    sequence = [
        {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3},
        {"a": 0.2, "b": 0.3, "c": 0.5},
        {"a": 0.1, "b": 0.2, "c": 0.7},
        {"a": 0.05, "b": 0.45, "c": 0.5},
        {"a": 0.01, "b": 0.09, "c": 0.9},
    ]
    stored = slices.layout(list(sequence[0].items()))
    before = _assign(_bandit(sequence[0], None), units)
    held = {u for u, (_, reason) in zip(units, before, strict=True) if reason == "holdout"}
    for old, new in pairwise(sequence):
        # When the nightly run re-weights (new slices handed over from the stored ones)
        stored = slices.reweight(stored, list(new.items()))
        after = _assign(_bandit(new, stored), units)
        # Then the holdout is the very same units
        assert {u for u, (_, r) in zip(units, after, strict=True) if r == "holdout"} == held
        # and the treated units that changed variant are at most the TV distance + 1 point
        treated = [(b, a) for b, a in zip(before, after, strict=True) if b[1] == "personalized"]
        moved = sum(1 for b, a in treated if b[0] != a[0]) / len(treated)
        tv = slices.total_variation(old, new)
        assert moved <= tv + 0.01, (old, new, moved, tv)
        assert moved >= tv - 0.01  # and it does move them: the new weights are served
        shares = {v: sum(1 for b, a in treated if a[0] == v) / len(treated) for v in new}
        assert all(abs(shares[v] - new[v]) < 0.01 for v in new)
        before = after


def test_a_fixed_split_reweighted_by_hand_would_move_far_more() -> None:
    # the contrast the slices exist for: the same change laid out end to end
    old, new = [("a", 1 / 3), ("b", 1 / 3), ("c", 1 / 3)], [("a", 0.1), ("b", 0.2), ("c", 0.7)]
    by_layout = slices.moved(slices.layout(old), slices.layout(new))
    by_slices = slices.moved(slices.layout(old), slices.reweight(slices.layout(old), new))
    assert by_slices < by_layout
    assert abs(by_slices - slices.total_variation(dict(old), dict(new))) < 1e-9


def test_a_paused_variant_hands_its_slices_over_and_the_rest_stay() -> None:
    stored = slices.reweight(
        slices.layout([("a", 1), ("b", 1), ("c", 1)]), [("a", 0.2), ("b", 0.3), ("c", 0.5)]
    )
    doc = _bandit({"a": 0.2, "b": 0.3, "c": 0.5}, stored)
    units = [f"u{i}" for i in range(20_000)]
    before = _assign(doc, units)
    doc["variants"][1]["paused"] = True  # type: ignore[index]
    after = _assign(doc, units)
    for b, a in zip(before, after, strict=True):
        if b[1] == "personalized" and b[0] != "b":
            assert a == b  # only b's units move
        if b[0] == "b":
            assert a[0] in ("a", "c")


def test_stored_slices_that_do_not_tile_the_range_are_ignored() -> None:
    assert slices.parse([[0, 5, "a"]]) is None
    assert slices.parse([[0, slices.FULL, 3]]) is None
    assert slices.parse("x") is None
    assert slices.parse([[0, 1 << 31, "a"], [1 << 31, slices.FULL, "b"]]) is not None


def test_the_allocation_field_is_validated_with_its_bounds_named() -> None:
    from earnest.experiences.validation import validate_experience

    def problems(allocation: object) -> list[str]:
        doc = experience(allocation=allocation)
        return [str(p) for p in validate_experience(doc, "f.yaml")]

    assert problems({"mode": "bandit"}) == []
    assert problems({"mode": "fixed"}) == []
    (mode,) = problems({"mode": "greedy"})
    assert "allocation.mode: [valid_allocation]" in mode and "'fixed' or 'bandit'" in mode
    found = problems({"mode": "bandit", "exploration_days": 0, "min_units_per_variant": 5})
    assert any("exploration_days: [valid_allocation]" in p and "1" in p for p in found)
    assert any("min_units_per_variant: [valid_allocation]" in p and "100" in p for p in found)
    (room,) = [
        str(p)
        for p in validate_experience(
            experience(
                allocation={"mode": "bandit", "weight_floor": 0.2},
                variants=[{"id": f"v{i}", "weight": 1} for i in range(5)],
            ),
            "f.yaml",
        )
    ]
    assert "allocation: [valid_allocation]" in room and "below 1" in room
