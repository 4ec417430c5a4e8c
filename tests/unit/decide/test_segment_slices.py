"""A segmented bandit as decide serves it (`allocation.segments`): each segment value with
its own weights gets its own slices over the hash, every other value the overall ones, the
holdout never moves, and re-weighting a value moves only what its change requires."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest

from earnest.decide import slices
from earnest.decide.bundle import edge_bundle
from earnest.decide.engine import Engine
from earnest.experiences import lifecycle, weights
from earnest.experiences.validation import validate_experience
from tests.builders.experiences import experience, request

DEVICE = "context.device"
OVERALL = {"a": 0.2, "b": 0.3, "c": 0.5}


def _authored(**allocation: Any) -> dict[str, Any]:
    return experience(
        audience={},
        allocation={"mode": "bandit", "segments": [DEVICE], **allocation},
        variants=[{"id": v, "weight": 1, "content": {"v": v}} for v in OVERALL],
    )


def _ops(own: dict[str, dict[str, float]]) -> dict[str, Any]:
    overall = slices.reweight(slices.layout([(v, 1.0) for v in OVERALL]), [*OVERALL.items()])
    return {
        "bandit": {
            "weights": OVERALL,
            "slices": [list(s) for s in overall],
            "segments": {
                value: {
                    "weights": w,
                    "slices": [list(s) for s in slices.reweight(overall, [*w.items()])],
                }
                for value, w in own.items()
            },
        }
    }


def _assign(doc: dict[str, Any], units: list[str], device: str | None) -> list[tuple[Any, str]]:
    engine = Engine([doc], global_holdout=0.0)
    out = []
    for unit in units:
        d = engine.decide(request(unit, context={"device": device}), None)["decisions"]
        out.append((d["home-hero"]["variant"], d["home-hero"]["reason"]))
    return out


def _shares(assigned: list[tuple[Any, str]]) -> dict[str, float]:
    treated = [v for v, reason in assigned if reason == "personalized"]
    return {v: treated.count(v) / len(treated) for v in OVERALL}


def test_the_field_is_validated_with_the_field_and_its_bound_named() -> None:
    def problems(doc: dict[str, Any]) -> list[str]:
        return [str(p) for p in validate_experience(doc, "f.yaml")]

    assert problems(_authored()) == []
    (two,) = problems(_authored(segments=[DEVICE, "context.country"]))
    assert "allocation.segments: [valid_allocation]" in two and "at most 1" in two
    (bad,) = problems(_authored(segments=["visitor.user_id"]))
    assert "allocation.segments: [valid_allocation]" in bad
    assert "context.<name> or attributes.<name>" in bad  # segments.path_error's words
    (fixed,) = problems(experience(allocation={"mode": "fixed", "segments": [DEVICE]}))
    assert "allocation.segments" in fixed and "mode: bandit" in fixed
    # a field that describes the person is personalization: the consent must be declared
    (consent,) = problems(_authored(segments=["attributes.tier"]))
    assert "requires_consent: [consent_declared]" in consent and "attributes.tier" in consent
    assert (
        problems(
            _authored(segments=["attributes.tier"]) | {"requires_consent": ["personalization"]}
        )
        == []
    )


def test_each_value_with_its_own_weights_is_served_them_and_any_other_the_overall_ones() -> None:
    # Given a segmented bandit whose mobile value has weights of its own
    units = [f"u{i}" for i in range(30_000)]
    mobile = {"a": 0.7, "b": 0.2, "c": 0.1}
    served = lifecycle.effective(_authored(), _ops({"mobile": mobile}))
    plain = lifecycle.effective(
        _authored(segments=[]) | {"allocation": {"mode": "bandit"}}, _ops({})
    )
    # When decide serves mobile, desktop and requests without a device
    on_mobile = _assign(served, units, "mobile")
    on_desktop = _assign(served, units, "desktop")
    without = _assign(served, units, None)
    # Then mobile gets its own shares, the others exactly the overall assignment
    assert all(abs(_shares(on_mobile)[v] - w) < 0.01 for v, w in mobile.items())
    assert on_desktop == without == _assign(plain, units, "desktop")
    assert all(abs(_shares(on_desktop)[v] - w) < 0.01 for v, w in OVERALL.items())
    # and the holdout is the very same units whatever the segment: its own hash and share
    held = [
        {u for u, (_, r) in zip(units, got, strict=True) if r == "holdout"}
        for got in (on_mobile, on_desktop)
    ]
    assert held[0] == held[1] and abs(len(held[0]) / len(units) - served["holdout"]) < 0.01


def test_at_most_16_values_are_served_their_own_weights() -> None:
    own = {
        f"d{i:02}": {"a": 0.9, "b": 0.05, "c": 0.05} for i in range(slices.MAX_SEGMENT_VALUES + 4)
    }
    served = lifecycle.effective(_authored(), _ops(own))
    assert len(slices.served_segments(served, [*OVERALL.items()])) == slices.MAX_SEGMENT_VALUES
    # a file that leaves the segments (or the bandit) stops serving them
    assert (
        slices.served_segments(
            lifecycle.effective(experience(allocation={"mode": "bandit"}), _ops(own)),
            [*OVERALL.items()],
        )
        == {}
    )


@pytest.mark.slow
def test_over_100000_units_reweighting_a_value_moves_at_most_its_tv_plus_a_point() -> None:
    # Given a segmented bandit, 100,000 mobile units and as many desktop ones
    units = [f"unit-{i}" for i in range(100_000)]
    sequence = [
        {"a": 0.2, "b": 0.3, "c": 0.5},  # the overall weights mobile is served at first
        {"a": 0.5, "b": 0.3, "c": 0.2},
        {"a": 0.8, "b": 0.1, "c": 0.1},
        {"a": 0.3, "b": 0.6, "c": 0.1},
        {"a": 0.9, "b": 0.09, "c": 0.01},
    ]
    doc = lifecycle.effective(_authored(), _ops({}))
    before = _assign(doc, units, "mobile")
    desktop = _assign(doc, units, "desktop")
    for old, new in pairwise(sequence):
        # When the nightly run re-weights mobile alone (its slices handed over)
        evidence = {"weights": OVERALL, "segments": {"mobile": {"weights": new, "p_best": {}}}}
        doc = weights.apply(doc, evidence)
        after = _assign(doc, units, "mobile")
        # Then the holdout is untouched
        assert [r for _, r in after] == [r for _, r in before]
        # and mobile's units that changed variant are at most the TV distance + 1 point
        treated = [(b, a) for b, a in zip(before, after, strict=True) if b[1] == "personalized"]
        moved = sum(1 for b, a in treated if b[0] != a[0]) / len(treated)
        tv = slices.total_variation(old, new)
        assert tv - 0.01 <= moved <= tv + 0.01, (old, new, moved, tv)
        assert all(abs(_shares(after)[v] - new[v]) < 0.01 for v in new)
        before = after
    assert _assign(doc, units, "desktop") == desktop  # and desktop is served as before


def test_the_edge_bundle_carries_each_values_slices() -> None:
    served = lifecycle.effective(_authored(), _ops({"mobile": {"a": 0.7, "b": 0.2, "c": 0.1}}))
    (entry,) = edge_bundle(
        [served], global_holdout=0.0, consent_regime="opt_in", max_placements=20
    )["experiences"]
    assert entry["segments"]["path"] == DEVICE
    mobile = slices.shares([tuple(s) for s in entry["segments"]["slices"]["mobile"]])
    assert mobile == pytest.approx({"a": 0.7, "b": 0.2, "c": 0.1})
    assert slices.parse(entry["slices"]) is not None  # the overall ones, for any other value
