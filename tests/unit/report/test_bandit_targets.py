"""The issue's bandit scenarios asserted with a known truth (bench/bench_bandit.py prints
them at more replications): traffic goes to the best, the holdout stays, the lift stays
honest, A/A stays quiet, and the bandit gains conversions against a fixed split."""

from __future__ import annotations

import pytest

from tests.builders.bandit_simulation import measure, measure_segments


@pytest.mark.slow
def test_the_bandit_scenarios_meet_their_targets() -> None:
    figures = measure(reps=12, seed=7)
    assert figures["runs with best >= 70 % of treated by night 10"] >= 0.75
    assert figures["best share of treated, night 10 (mean)"] >= 0.70
    assert figures["holdout share, largest deviation over 30 nights (points)"] <= 0.5
    assert figures["best's epoch-stratified interval covers +25 %"] >= 0.8
    assert figures["A/A: any false verdict or pause, 30 nights"] <= 1 / 12
    assert figures["conversions gained vs fixed equal split"] > 0


@pytest.mark.slow
def test_the_segment_scenario_gives_each_segment_its_own_best() -> None:
    figures = measure_segments(reps=12, seed=7)
    assert (
        figures["segments: runs where each value's largest weight is its own best, night 30"] == 1
    )
    assert figures["segments: mobile's best (a) share of its treated traffic, night 30"] >= 0.8
    assert figures["segments: desktop's best (b) share of its treated traffic, night 30"] >= 0.8
    gained = figures["segments: treated conversions, weights per value (mean over 30 nights)"]
    assert gained > figures["segments: treated conversions, one allocation for both"]
