"""The report's statistics on the same data as GrowthBook's engine (gbstats, PyPI).

gbstats' SequentialTwoSidedTTest is the confidence sequence the report builds (Waudby-Smith
et al. 2023, GrowthBook's tuning; the decisions read its boundary on the log of the ratio,
test_stats.py checks that by hand); its TwoSidedTTest is Welch's t on the same variances.
Earnest must give the same intervals and p-values, on both scales, and the same CUPED
adjustment (its RegressionAdjustedStatistic). gbstats leaves capping to
the SQL that feeds it, so the capped sums are checked against numpy.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
from gbstats.frequentist.tests import (
    FrequentistConfig,
    SequentialConfig,
    SequentialTwoSidedTTest,
    TwoSidedTTest,
)
from gbstats.models.statistics import (
    ProportionStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
    compute_theta,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from earnest.report import cuped
from earnest.report.aggregation import revenue_cap
from earnest.report.cuped import Covariate
from earnest.report.metrics import cuped_names
from earnest.report.stats import Arm, compare


def _statistic(arm: Arm, metric: str) -> ProportionStatistic | SampleMeanStatistic:
    if metric == "conversion_rate":
        return ProportionStatistic(n=arm.units, sum=arm.conversions)
    total, total_sq = arm.sums[metric]
    return SampleMeanStatistic(n=arm.units, sum=total, sum_squares=total_sq)


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
    # And the always-valid relative interval (reported beside the ratio interval the
    # decisions read) is gbstats' too
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


# -- capped revenue (numpy) and CUPED (gbstats' regression adjustment) ---------------------


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    percentile=st.sampled_from([0.5, 0.9, 0.95, 0.99, 0.999, 1.0]),
)
def test_the_cap_is_the_nearest_rank_percentile_and_the_capped_sums_are_numpys(
    seed: int, percentile: float
) -> None:
    # Given two arms of units, some with a log-normal revenue and most with none
    rng = np.random.default_rng(seed)
    revenues = [np.where(rng.random(n) < 0.1, rng.lognormal(3.0, 2.0, n), 0.0) for n in (900, 1100)]
    pooled = np.concatenate(revenues)
    cap = revenue_cap(pooled.tolist(), percentile)
    # Then the cap is numpy's inverted-CDF percentile of the positive revenues, pooled
    assert cap == np.quantile(pooled[pooled > 0], percentile, method="inverted_cdf")
    # And each arm's capped mean and sample variance are numpy's on the capped values
    for y in revenues:
        capped = np.minimum(y, cap)
        arm = Arm(
            len(y), int((y > 0).sum()), y.sum(), (y * y).sum(), capped.sum(), (capped**2).sum()
        )
        assert arm.mean("revenue_per_unit_capped") == pytest.approx(capped.mean(), rel=1e-12)
        assert arm.variance("revenue_per_unit_capped") == pytest.approx(
            capped.var(ddof=1), rel=1e-9
        )


def _adjusted_statistics(
    arm: Arm, x: Covariate, metric: str, theta: float
) -> RegressionAdjustedStatistic:
    post = _statistic(arm, metric)
    if metric == "conversion_rate":
        pre: ProportionStatistic | SampleMeanStatistic = ProportionStatistic(
            n=arm.units, sum=x.total
        )
    else:
        pre = SampleMeanStatistic(n=arm.units, sum=x.total, sum_squares=x.total_sq)
    return RegressionAdjustedStatistic(
        n=arm.units,
        post_statistic=post,
        pre_statistic=pre,
        post_pre_sum_of_products=x.product,
        theta=theta,
    )


def _draw_unit_arm(
    rng: np.random.Generator, n: int, metric: str, lift: float
) -> tuple[Arm, Covariate]:
    if metric == "conversion_rate":
        x = (rng.random(n) < 0.2).astype(float)
        y = (rng.random(n) < np.where(x > 0, 0.4, 0.1) * (1 + lift)).astype(float)
        return Arm(n, int(y.sum())), Covariate(x.sum(), x.sum(), (x * y).sum())
    x = rng.gamma(2.0, 10.0, n)
    y = 0.6 * x + rng.gamma(2.0, 5.0, n) * (1 + lift)
    arm = Arm(n, n, y.sum(), (y * y).sum(), y.sum(), (y * y).sum())
    return arm, Covariate(x.sum(), (x * x).sum(), (x * y).sum())


@pytest.mark.filterwarnings("ignore:overflow encountered in exp:RuntimeWarning")
@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    metric=st.sampled_from(cuped_names()),
    lift=st.sampled_from([0.0, 0.05, 0.2]),
)
def test_cuped_is_gbstats_regression_adjustment(seed: int, metric: str, lift: float) -> None:
    # Given two arms whose units' metric after exposure depends on the same metric before it
    rng = np.random.default_rng(seed)
    (holdout, x_c), (variant, x_t) = (
        _draw_unit_arm(rng, n, metric, d) for n, d in ((3000, 0.0), (3200, lift))
    )
    adjusted = cuped.compare(holdout, variant, metric, x_c, x_t)
    assert adjusted is not None
    # Then theta is gbstats' pooled one
    a0, b0 = (_adjusted_statistics(a, x, metric, 0.0) for a, x in ((holdout, x_c), (variant, x_t)))
    theta = compute_theta(a0, b0)
    assert cuped.theta(holdout, variant, metric, x_c, x_t) == pytest.approx(theta, rel=1e-9)
    a, b = (_adjusted_statistics(s, x, metric, theta) for s, x in ((holdout, x_c), (variant, x_t)))
    # And the adjusted absolute and relative lifts and their standard errors are gbstats'
    z = NormalDist().inv_cdf(0.975)
    for kind, point, low, high in (
        ("absolute", adjusted.absolute, adjusted.absolute_low, adjusted.absolute_high),
        ("relative", adjusted.relative, adjusted.relative_low, adjusted.relative_high),
    ):
        test = TwoSidedTTest(a, b, FrequentistConfig(difference_type=kind))
        assert point == pytest.approx(test.point_estimate, rel=1e-9, abs=1e-12)
        assert low is not None and high is not None
        assert (high - low) / (2 * z) == pytest.approx(math.sqrt(test.variance), rel=1e-9)
    # And so is the always-valid interval the verdicts read
    sequential = SequentialTwoSidedTTest(
        a, b, SequentialConfig(difference_type="absolute", sequential_tuning_parameter=5000)
    )
    assert [adjusted.sequential_low, adjusted.sequential_high] == pytest.approx(
        sequential.confidence_interval, rel=1e-9, abs=1e-12
    )
