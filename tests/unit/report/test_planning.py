"""Power planning (earnest.report.planning): days to a verdict, checked by simulation."""

from __future__ import annotations

import pytest

from earnest.report import gate
from earnest.report.planning import forecast
from tests.builders.experiences import experience
from tests.builders.report_simulation import NEVER, Scenario, run


def plan_doc(mde: float, min_units: int = 1000, **changes: object) -> dict:
    return experience(
        holdout=0.5,
        variants=[{"id": "b", "weight": 1, "content": {}}],
        measurement_plan={
            "hypothesis": "a planned experience",
            "primary_metric": "conversion",
            "minimum_detectable_effect": mde,
            "min_units_per_arm": min_units,
        },
        **changes,
    )


def test_the_forecast_day_is_when_the_plans_effect_is_found_with_80_percent_power() -> None:
    # Given 4 000 units a day split 50 : 50, a 5 % base rate and a plan asking for +10 %
    days = forecast(plan_doc(0.10), daily_units=4_000, base_rate=0.05).days_to_detect
    assert days is not None
    # Then simulated experiences with exactly that true lift, reported every night through
    # the report's own path, are found by that day about 80 % of the time (the one-look
    # approximation is a little cautious: looking every night finds some earlier)
    outcome = run(Scenario(lift=0.10, nights=days), runs=400, seed=201)
    assert 0.78 <= outcome.share(outcome.found_night < NEVER) <= 0.95


def test_half_the_traffic_or_half_the_effect_takes_longer() -> None:
    base = forecast(plan_doc(0.10), 4_000, 0.05)
    half_traffic = forecast(plan_doc(0.10), 2_000, 0.05)
    half_effect = forecast(plan_doc(0.05), 4_000, 0.05)
    assert base.days_to_detect is not None and half_traffic.days_to_detect is not None
    assert half_traffic.days_to_detect > base.days_to_detect
    assert (
        half_effect.days_to_detect is None or half_effect.days_to_detect > 3 * base.days_to_detect
    )


def test_a_small_audience_is_not_worth_personalizing_within_its_review() -> None:
    # Given 400 units a day, a plan asking for +5 % and a review every 30 days
    said = forecast(plan_doc(0.05), 400, 0.05)
    # Then the plan's minimum comes in days, but the effect not within the review cadence
    assert said.days_to_min_units == 5  # 1 000 units per arm at 200 a day
    assert not said.within_review
    assert said.as_dict()["within_review"] is False


def test_few_conversions_set_the_minimum_when_the_base_rate_is_low() -> None:
    # The small-counts gate at 0.1 %: 28 + 25 (1 - 2p)^2 / (p (1 - p)) = 24 953 units of the
    # holdout (about 25 conversions), more than the plan's 1 000: 25 days at 1 000 a day
    assert gate.gate_units(0.001) == pytest.approx(24_953, abs=1)
    assert forecast(plan_doc(0.5), 2_000, 0.001).days_to_min_units == 25


@pytest.mark.parametrize(("daily", "rate"), [(0, 0.05), (100, 0.0), (100, 1.0)])
def test_impossible_inputs_are_refused(daily: float, rate: float) -> None:
    with pytest.raises(ValueError):
        forecast(plan_doc(0.1), daily, rate)
