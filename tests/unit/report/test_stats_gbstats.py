"""The report's statistics on the same data as GrowthBook's engine (gbstats, PyPI).

gbstats' SequentialTwoSidedTTest is the confidence sequence the verdicts and futility read
(Waudby-Smith et al. 2023, GrowthBook's tuning); its TwoSidedTTest is Welch's t on the
same variances. Earnest must give the same intervals and p-values, on both scales.
"""

from __future__ import annotations

import pytest
from gbstats.frequentist.tests import (
    FrequentistConfig,
    SequentialConfig,
    SequentialTwoSidedTTest,
    TwoSidedTTest,
)
from gbstats.models.statistics import ProportionStatistic, SampleMeanStatistic
from hypothesis import given, settings
from hypothesis import strategies as st

from earnest.report.stats import Arm, compare


def _statistic(arm: Arm, metric: str) -> ProportionStatistic | SampleMeanStatistic:
    if metric == "conversion_rate":
        return ProportionStatistic(n=arm.units, sum=arm.conversions)
    return SampleMeanStatistic(n=arm.units, sum=arm.revenue, sum_squares=arm.revenue_sq)


@st.composite
def arms(draw: st.DrawFn) -> tuple[Arm, Arm]:
    def one() -> Arm:
        units = draw(st.integers(min_value=1_000, max_value=200_000))
        rate = draw(st.floats(min_value=0.01, max_value=0.5))
        conversions = round(units * rate)
        basket = draw(st.floats(min_value=5.0, max_value=200.0))
        spread = draw(st.floats(min_value=1.0, max_value=4.0))  # E[v^2] / E[v]^2
        revenue = conversions * basket
        return Arm(units, conversions, revenue, revenue * basket * spread)

    return one(), one()


# gbstats' e-value overflows to inf where its p-value (and Earnest's) is 0.
@pytest.mark.filterwarnings("ignore:overflow encountered in exp:RuntimeWarning")
@settings(max_examples=200, deadline=None)
@given(
    pair=arms(),
    metric=st.sampled_from(["conversion_rate", "revenue_per_unit"]),
    k=st.integers(min_value=1, max_value=4),
)
def test_the_sequential_intervals_and_p_value_are_gbstats(
    pair: tuple[Arm, Arm], metric: str, k: int
) -> None:
    # Given two arms, and k variants sharing the holdout (Bonferroni: alpha / k)
    holdout, variant = pair
    lift = compare(holdout, variant, metric, comparisons=k)
    a, b = _statistic(holdout, metric), _statistic(variant, metric)
    config = {"alpha": 0.05 / k, "sequential_tuning_parameter": 5000}
    absolute = SequentialTwoSidedTTest(a, b, SequentialConfig(difference_type="absolute", **config))
    relative = SequentialTwoSidedTTest(a, b, SequentialConfig(difference_type="relative", **config))
    # Then the always-valid absolute interval and p-value are gbstats' (p times k)
    assert [lift.sequential_low, lift.sequential_high] == pytest.approx(
        absolute.confidence_interval, rel=1e-9, abs=1e-12
    )
    assert lift.sequential_p_value == pytest.approx(min(1.0, k * absolute.p_value), rel=1e-9)
    # And the always-valid relative interval, which futility reads, is gbstats' too
    assert [lift.sequential_relative_low, lift.sequential_relative_high] == pytest.approx(
        relative.confidence_interval, rel=1e-9, abs=1e-12
    )


@settings(max_examples=200, deadline=None)
@given(pair=arms(), metric=st.sampled_from(["conversion_rate", "revenue_per_unit"]))
def test_the_fixed_relative_p_value_is_welchs_t_on_the_relative_scale(
    pair: tuple[Arm, Arm], metric: str
) -> None:
    # Given two arms of at least 1 000 units
    holdout, variant = pair
    lift = compare(holdout, variant, metric)
    a, b = _statistic(holdout, metric), _statistic(variant, metric)
    welch = TwoSidedTTest(a, b, FrequentistConfig(difference_type="relative"))
    # Then the relative lift and its p-value agree with gbstats' Welch t-test on the same
    # scale (the normal against Welch's t: within a few thousandths at these sizes)
    assert lift.relative == pytest.approx(welch.point_estimate, rel=1e-12)
    assert lift.relative_p_value == pytest.approx(welch.p_value, abs=2e-3)
