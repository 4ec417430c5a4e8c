"""`earnest plan` on a segmented plan: each segment value needs its own minimum per arm."""

from __future__ import annotations

from earnest.report.planning import forecast
from earnest_cli.plan_cmd import segment_expectation
from tests.builders.experiences import experience


def test_a_segmented_plan_is_told_it_needs_more_traffic() -> None:
    # Given a plan split by device, at 2 000 units a day and a 5 % base rate
    doc = experience(holdout=0.5)
    doc["measurement_plan"] = {**doc["measurement_plan"], "segments": ["context.device"]}
    said = segment_expectation(doc, 2000, 0.05)
    # Then it says the plan needs more traffic, with the days of a value with half the units
    assert said is not None
    assert "context.device" in said and "needs more traffic" in said
    whole, half = forecast(doc, 2000, 0.05), forecast(doc, 1000, 0.05)
    assert half.days_to_min_units is not None and whole.days_to_min_units is not None
    assert half.days_to_min_units > whole.days_to_min_units
    assert f"minimum in {half.days_to_min_units} days" in said


def test_a_plan_without_segments_says_nothing_of_them() -> None:
    assert segment_expectation(experience(), 2000, 0.05) is None
