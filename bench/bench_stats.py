"""Issue 10's targets table: as filed, the target, and what the report does now.

Runs the fixed-seed simulations of tests/unit/report/test_stats_targets.py (each
experience reported every night by `earnest.report.build.build` with last night's report,
guardrails included; tests/builders/report_simulation.py) and prints one row a measure.
`--runs` scales every scenario's run count (the tests use the defaults' sizes).

    .venv/bin/python bench/bench_stats.py            # the table in docs/statistics.md
    .venv/bin/python bench/bench_stats.py --runs 0.5 # quicker, noisier
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

from tests.builders.report_simulation import (  # noqa: E402
    Changes,
    Outcome,
    Scenario,
    cuped_simulation,
    revenue_coverage,
    run,
    srm_after_changes,
)


def _pct(value: float) -> str:
    return f"{100 * value:.2f} %"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=float, default=1.0, help="scale the run counts")
    args = parser.parse_args()

    def sim(scenario: Scenario, runs: int, seed: int) -> Outcome:
        return run(scenario, max(50, round(runs * args.runs)), seed)

    started = time.perf_counter()
    winner = sim(Scenario(lift=0.10), 1_000, 101)
    at_mde = sim(Scenario(lift=0.10, mde=0.10), 1_000, 102)
    loser = sim(Scenario(lift=-0.10), 500, 103)
    a_a = sim(Scenario(mde=0.0), 2_000, 104)
    a_a_120 = sim(Scenario(mde=0.0, nights=120), 400, 105)
    a_a_120_sliding = sim(Scenario(mde=0.0, nights=120, allocated=False), 400, 105)
    changes = max(200, round(1_000 * args.runs))
    srm_pause, srm_resume = srm_after_changes(Changes(), changes, 201)
    _, srm_sliding = srm_after_changes(Changes(allocated=False), changes, 201)
    a_a_low = sim(Scenario(base=0.005, daily_units=500, min_units=100, mde=0.0), 1_000, 106)
    a_a_plan = sim(Scenario(), 500, 107)
    event_tie = sim(Scenario(mde=0.0, guardrail_rate=0.01), 1_000, 110)
    event_harm = sim(Scenario(mde=0.0, guardrail_rate=0.01, guardrail_lift=0.3), 500, 111)
    revenue = revenue_coverage(max(500, round(10_000 * args.runs)), 201)
    revenue_95 = revenue_coverage(max(500, round(5_000 * args.runs)), 203, percentile=0.95)
    baskets = revenue_coverage(max(500, round(5_000 * args.runs)), 205, lift=0.0, basket_lift=0.1)
    cuped = [cuped_simulation(max(500, round(2_000 * args.runs)), 202, rho=r) for r in (0.5, 0.8)]
    rows = [
        (
            "true +10 % winners paused (plan MDE 5 %)",
            "38.7 %",
            "<= 2 %",
            _pct(winner.share(winner.any_pause)),
        ),
        (
            "  the same, plan MDE = the true +10 %",
            "-",
            "<= 2.5 % (alpha / 2)",
            _pct(at_mde.share(at_mde.any_pause)),
        ),
        (
            "true +10 % winners found by night 30",
            "77.8 %",
            ">= 75 %",
            _pct(winner.share(winner.found)),
        ),
        (
            "true -10 % losers paused by night 30",
            "82.1 %",
            ">= 80 %",
            _pct(loser.share(loser.any_pause)),
        ),
        (
            "A/A: any false verdict or loss pause, 30 looks",
            "1.25 %",
            "<= 2 %",
            _pct(a_a.share(a_a.false_call)),
        ),
        (
            "A/A: the same, 120 looks (the allocation's window)",
            "4.1 %",
            "<= 3 %",
            _pct(a_a_120.share(a_a_120.false_call)),
        ),
        (
            "  the same, a sliding 28-day window (before)",
            "4.1 %",
            "-",
            _pct(a_a_120_sliding.share(a_a_120_sliding.false_call)),
        ),
        (
            "A/A at 0.5 % base: any false verdict",
            "5.3 %",
            "<= 2 %",
            _pct(a_a_low.share(a_a_low.false_call)),
        ),
        (
            "healthy experiences SRM-flagged at any of 30 looks",
            "1-3 %",
            "<= 0.5 %",
            _pct(a_a.share(a_a.srm_flagged)),
        ),
        (
            "  the same with chi-square p < 0.001 every night",
            "1-3 %",
            "-",
            _pct(a_a.share(a_a.srm_chi2_flagged)),
        ),
        (
            "healthy, SRM-flagged after a variant's pause",
            "-",
            "<= 0.5 %",
            _pct(srm_pause / changes),
        ),
        (
            "  ... after its resume",
            "-",
            "<= 0.5 %",
            _pct(srm_resume / changes),
        ),
        (
            "  ... after its resume, sliding 28-day window (before)",
            "-",
            "-",
            _pct(srm_sliding / changes),
        ),
        (
            "A/A, plan MDE 5 %: paused as futile (right answer)",
            "-",
            "-",
            _pct(a_a_plan.share(a_a_plan.paused["stopped_beating_default"])),
        ),
        (
            "guardrail event (1 % base, lower is better), A/A: paused for harm",
            "-",
            "<= 2.5 % (alpha / 2)",
            _pct(event_tie.share(event_tie.paused["guardrail_harm"])),
        ),
        (
            "  the same, true +30 % of the event: paused for harm by night 30",
            "-",
            "-",
            _pct(event_harm.share(event_harm.paused["guardrail_harm"])),
        ),
        (
            "revenue relative interval coverage, sigma = 2 (capped at p99)",
            "88 %",
            ">= 93 %",
            _pct(revenue.capped),
        ),
        ("  the same, raw revenue", "88 %", "-", _pct(revenue.raw)),
        ("  the same, capped at p95", "-", "-", _pct(revenue_95.capped)),
        (
            "  capped / raw relative interval width (p99, p95)",
            "-",
            "-",
            f"{revenue.width_ratio:.2f}, {revenue_95.width_ratio:.2f}",
        ),
        (
            f"  baskets +10 %: capped covers its truth (+{baskets.capped_truth:.2%})",
            "-",
            "-",
            _pct(baskets.capped),
        ),
        ("  baskets +10 %: capped covers the raw +10 %", "-", "-", _pct(baskets.capped_raw_truth)),
        ("  baskets +10 %: raw covers the raw +10 %", "-", "-", _pct(baskets.raw)),
        *(
            row
            for c in cuped
            for row in (
                (
                    f"CUPED variance ratio, rho = {c.rho} (1 - rho^2 = {1 - c.rho**2:.2f})",
                    "-",
                    "within 10 %",
                    f"{c.variance_ratio:.3f}",
                ),
                (f"  CUPED coverage, rho = {c.rho}", "-", "95 +- 1 %", _pct(c.coverage)),
            )
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'as filed':>9}  {'target':>20}  {'measured':>9}")
    for measure, filed, target, measured in rows:
        print(f"{measure:<{width}}  {filed:>9}  {target:>20}  {measured:>9}")
    outcomes = (winner, at_mde, loser, a_a, a_a_120, a_a_120_sliding, a_a_low, a_a_plan)
    runs = sum(o.runs for o in (*outcomes, event_tie, event_harm)) + 2 * changes
    runs += revenue.runs + revenue_95.runs + baskets.runs + sum(c.runs for c in cuped)
    print(f"\n{runs} simulated experiences in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
