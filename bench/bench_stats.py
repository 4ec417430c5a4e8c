"""The statistics' targets (issues 10 and 20): as filed, the target, and what the report does now.

Runs the fixed-seed simulations of tests/unit/report/test_stats_targets.py with more runs
(tests/builders/report_simulation.py: each experience reported every night on its
allocation's totals, by `earnest.report.build.build` with last night's report, guardrails
included, or by `replay`, which the tests hold to the same nights and rules) and prints
one row a measure, every row of issue 20's at two traffics (4,000 units a day 50 : 50;
2,000 a day with a 10 % holdout) and two base rates (5 %, 0.5 %), each figure with its
standard error. "Any false event" counts every false verdict and every false pause.
`--runs` scales every run count.

    .venv/bin/python bench/bench_stats.py            # the tables in docs/statistics.md
    .venv/bin/python bench/bench_stats.py --runs 0.25 # quicker, noisier
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

from tests.builders.report_simulation import (  # noqa: E402
    GUARDED,
    LOOKS,
    NEVER,
    PLAN_EFFECT,
    TRAFFICS,
    Changes,
    Guarded,
    Outcome,
    Scenario,
    a_a,
    cell,
    cuped_simulation,
    forecast_day,
    guarded_a_a,
    program_false_events,
    ratio_coverage,
    replay,
    revenue_coverage,
    run,
    srm_after_changes,
    true_effect,
)

CELLS = [(base, traffic) for base in sorted(PLAN_EFFECT, reverse=True) for traffic in TRAFFICS]


def _pct(share: float, se: float | None = None) -> str:
    return f"{100 * share:.2f} %" if se is None else f"{100 * share:.2f} ± {100 * se:.2f}"


def _of(outcome: Outcome, hits: np.ndarray) -> str:
    return _pct(outcome.share(hits), outcome.standard_error(hits))


def _share_se(hits: float, runs: int) -> str:
    return _pct(hits, math.sqrt(hits * (1 - hits) / runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=float, default=1.0, help="scale the run counts")
    args = parser.parse_args()

    def n(runs: int) -> int:
        return max(100, round(runs * args.runs))

    started = time.perf_counter()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    header = ["measure", "as filed", "target"] + [
        f"{base:.1%} base, {traffic}" for base, traffic in CELLS
    ]
    rows: list[list[str]] = []

    def per_cell(measure: str, filed: str, target: str, each: Callable[[float, str], str]) -> None:
        rows.append([measure, filed, target, *(each(base, traffic) for base, traffic in CELLS)])

    filed_a_a = {30: "2.50 %", 120: "2.77 %", 365: "2.95 %"}
    target_a_a = {30: "<= 2 %", 120: "<= 3 %", 365: "<= 3 %"}
    for variants in (1, 2, 4):
        outcomes = {c: a_a(*c, variants, n(2_000), 20) for c in CELLS}
        for looks in LOOKS:
            per_cell(
                f"A/A, {variants} variant(s): any false verdict or pause, {looks} looks",
                filed_a_a[looks] if variants == 1 else "-",
                target_a_a[looks],
                lambda b, t, o=outcomes, k=looks: _of(o[(b, t)], o[(b, t)].false_event(k)),
            )
    effect = {c: true_effect(*c, 1.0, n(2_000), 21) for c in CELLS}
    twice = {c: true_effect(*c, 2.0, n(2_000), 22) for c in CELLS}
    days = {c: forecast_day(cell(*c)) for c in CELLS}
    losers = {c: true_effect(*c, -1.0, n(2_000), 23) for c in CELLS if days[c]}
    rows.append(
        [
            "  the plan's effect there / the day `earnest plan` forecasts",
            "-",
            "-",
            *(f"+{PLAN_EFFECT[b]:.0%} / {days[(b, t)]} days" for b, t in CELLS),
        ]
    )
    per_cell(
        "true winners paused (truth = the plan's effect, a year)",
        "6.7-7.0 % (0.5 % base)",
        "<= 2.5 %",
        lambda b, t: _of(effect[(b, t)], effect[(b, t)].paused()),
    )
    per_cell(
        "true winners paused (truth = 2 x the plan's effect)",
        "-",
        "<= 1 %",
        lambda b, t: _of(twice[(b, t)], twice[(b, t)].paused()),
    )
    per_cell(
        "true winners found by the forecast day (plan)",
        "82-86 %",
        "unchanged",
        lambda b, t: _of(effect[(b, t)], effect[(b, t)].found_night < (days[(b, t)] or NEVER)),
    )
    per_cell(
        "true losers (truth = -the plan's effect) paused by the forecast day",
        "73.7 % by night 30",
        ">= 80 %",
        lambda b, t: _of(losers[(b, t)], losers[(b, t)].paused()) if (b, t) in losers else "n/a",
    )
    per_cell(
        "  ... of them paused as loses_to_default",
        "-",
        "-",
        lambda b, t: (
            _of(losers[(b, t)], losers[(b, t)].paused("loses")) if (b, t) in losers else "n/a"
        ),
    )
    guarded = {c: guarded_a_a(*c, n(2_000), 24) for c in CELLS}
    per_cell(
        "A/A, 4 variants x 3 guardrail metrics: any false event, 30 looks",
        "-",
        "<= 5 %",
        lambda b, t: _of(guarded[(b, t)], guarded[(b, t)].false_event()),
    )
    for g in GUARDED:
        per_cell(
            f"  ... paused for harm on {g.name} (allotted alpha / 6)",
            "2.25 %" if g.name == "revenue" else "-",
            "<= 0.83 %",
            lambda b, t, name=g.name: _of(
                guarded[(b, t)], guarded[(b, t)].paused(f"guardrail_harm:{name}")
            ),
        )
    width = max(len(r[0]) for r in [header, *rows])
    cols = [max(len(r[i]) for r in [header, *rows]) for i in range(1, len(header))]
    for r in [header, *rows]:
        print(
            f"{r[0]:<{width}}  " + "  ".join(f"{v:>{w}}" for v, w in zip(r[1:], cols, strict=True))
        )

    # -- one set of rows: intervals, CUPED, SRM, issue 10's rows ------------------------------
    single: list[tuple[str, str, str, str]] = []
    coverage_runs = n(10_000)
    (below, above), (d_below, d_above) = ratio_coverage(coverage_runs, 25)
    single += [
        (
            "0.5 % base, 5,000 units per arm: ratio interval misses below / above",
            "-",
            "2.5 % each",
            f"{_share_se(below, coverage_runs)} / {_share_se(above, coverage_runs)}",
        ),
        (
            "  the delta method's (before) misses below / above",
            "-",
            "-",
            f"{_share_se(d_below, coverage_runs)} / {_share_se(d_above, coverage_runs)}",
        ),
    ]
    for sigma, filed in ((1.0, "-"), (2.0, "88 %"), (2.5, "92.07 %")):
        revenue = revenue_coverage(n(5_000), 201, sigma=sigma)
        single += [
            (
                f"capped revenue relative coverage, sigma = {sigma} (ratio interval)",
                filed,
                ">= 93 %",
                _share_se(revenue.capped, revenue.runs),
            ),
            (
                "  the same, capped, delta method (before) / raw revenue",
                "-",
                "-",
                f"{_share_se(revenue.capped_delta, revenue.runs)} / "
                f"{_share_se(revenue.raw, revenue.runs)}",
            ),
            (
                "  capped ratio / raw interval width",
                "-",
                "-",
                f"{revenue.width_ratio:.2f}",
            ),
        ]
    revenue_95 = revenue_coverage(n(5_000), 203, percentile=0.95)
    baskets = revenue_coverage(n(5_000), 205, lift=0.0, basket_lift=0.1)
    single += [
        (
            "  sigma = 2, capped at p95: ratio interval coverage",
            "-",
            "-",
            _share_se(revenue_95.capped, revenue_95.runs),
        ),
        (
            f"  sigma = 2, baskets +10 %: capped covers its truth (+{baskets.capped_truth:.2%})",
            "-",
            "-",
            _share_se(baskets.capped, baskets.runs),
        ),
        (
            "  ... capped covers the raw +10 % / raw covers it",
            "-",
            "-",
            f"{_share_se(baskets.capped_raw_truth, baskets.runs)} / "
            f"{_share_se(baskets.raw, baskets.runs)}",
        ),
    ]
    for c in (cuped_simulation(n(2_000), 202, rho=r) for r in (0.5, 0.8)):
        single += [
            (
                f"CUPED variance ratio, rho = {c.rho} (1 - rho^2 = {1 - c.rho**2:.2f})",
                "-",
                "within 10 %",
                f"{c.variance_ratio:.3f}",
            ),
            (f"  CUPED coverage, rho = {c.rho}", "-", "95 +- 1 %", _share_se(c.coverage, c.runs)),
        ]
    tie = replay(Scenario(mde=None, guarded=(Guarded("unsubscribe"),)), n(2_000), 110)
    harm = replay(Scenario(mde=None, guarded=(Guarded("unsubscribe", 0.01, 0.3),)), n(1_000), 111)
    long_runs = n(400)
    allocated = run(Scenario(mde=None, nights=120), long_runs, 105)
    sliding = run(Scenario(mde=None, nights=120, allocated=False), long_runs, 105)
    program_runs = n(100)
    program = Scenario(mde=None, variants=1, guarded=(Guarded("unsubscribe"),))
    program_off = program_false_events(program, 40, program_runs, 300, fdr=False)
    program_bh = program_false_events(program, 40, program_runs, 300, fdr=True)
    single += [
        (
            "one guardrail (unsubscribe, 1 %), A/A: paused for harm, 30 looks",
            "-",
            "<= 2.5 %",
            _of(tie, tie.paused("guardrail_harm")),
        ),
        (
            "  ... true +30 % unsubscribes: paused for harm by night 30",
            "-",
            ">= 75 %",
            _of(harm, harm.paused("guardrail_harm")),
        ),
        (
            "A/A, 120 looks through build(): any false event, allocation's window",
            "4.1 %",
            "<= 3 %",
            _of(allocated, allocated.false_event()),
        ),
        (
            "  ... the same draws, a sliding 28-day window (before)",
            "4.1 %",
            "-",
            _of(sliding, sliding.false_event()),
        ),
        (
            "program of 40 A/A experiences (1 guardrail): any false event, 30 looks",
            "-",
            "-",
            _share_se(program_off, program_runs),
        ),
        (
            "  ... with REPORT_FDR=bh (pauses in the family)",
            "33.5 %",
            "-",
            _share_se(program_bh, program_runs),
        ),
    ]
    winner = replay(Scenario(lift=0.10), n(2_000), 101)
    loser = replay(Scenario(lift=-0.10), n(1_000), 103)
    plan = replay(Scenario(), n(1_000), 107)
    healthy = replay(Scenario(mde=None), n(2_000), 104)
    changes = n(1_000)
    srm_pause, srm_resume = srm_after_changes(Changes(), changes, 201)
    _, srm_sliding = srm_after_changes(Changes(allocated=False), n(200), 201)
    single += [
        (
            "issue 10: true +10 % winners paused (plan +5 %, 4,000 a day)",
            "38.7 %",
            "<= 2 %",
            _of(winner, winner.paused()),
        ),
        (
            "  ... found by night 30",
            "77.8 %",
            ">= 75 %",
            _of(winner, winner.found_night < NEVER),
        ),
        ("  true -10 % losers paused by night 30", "82.1 %", ">= 80 %", _of(loser, loser.paused())),
        (
            "  A/A, plan +5 %: paused as futile (the right answer)",
            "-",
            "-",
            _of(plan, plan.paused("stopped_beating_default")),
        ),
        (
            "healthy experiences SRM-flagged at any of 30 looks",
            "1-3 %",
            "<= 0.5 %",
            _of(healthy, healthy.srm_night < NEVER),
        ),
        (
            "  the same with chi-square p < 0.001 every night",
            "1-3 %",
            "-",
            _of(healthy, healthy.chi2_flagged),
        ),
        (
            "healthy, SRM-flagged after a variant's pause / its resume",
            "0.0-0.2 %",
            "<= 0.5 %",
            " / ".join(_share_se(k / changes, changes) for k in (srm_pause, srm_resume)),
        ),
        (
            "  ... after its resume, a sliding 28-day window (before)",
            "-",
            "-",
            _pct(srm_sliding / n(200)),
        ),
    ]
    print()
    width = max(len(r[0]) for r in single)
    for measure, filed, target, measured in single:
        print(f"{measure:<{width}}  {filed:>9}  {target:>12}  {measured}")
    print(
        f"\n{time.perf_counter() - started:.0f} s; load average at end: "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


if __name__ == "__main__":
    main()
