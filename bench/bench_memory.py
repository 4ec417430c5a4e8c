"""Frequency caps against a true fatigue effect: the capped experience beats the uncapped one.

A known truth, fixed seeds. Visitors come back at their own rates (a few daily, most
rarely: Poisson visits a day at a gamma-distributed rate, mean 1). On a visit where the
banner's variant is shown, the visit converts with probability P0 x (1 + lift(k)), k the
variant's showings to that visitor in the last 7 days, this one included: lift(k) =
+50 %, +25 %, 0, then -25 %, -50 %, ... down to -90 % (fatigue: the banner helps at first
and annoys when repeated). Any other visit (the default: holdout, frequency_capped)
converts with P0.

The same visitors, the same visits and the same random draws go through two experiences
that differ only in `frequency_cap: {max_exposures: 3, per_days: 7}`: Earnest's own engine
decides every visit (`Engine.decide` with the unit's memory, at the visit's time) and its
own memory counts every exposure (`earnest.memory.remember`), the holdout capped as the
variant is. Each unit's outcome is whether it converted after its first exposure, in the
arm of that first exposure, and the report's statistics compare the arms
(`earnest.report.stats`: `compare`, `verdict`; `earnest.report.gate.enough_data`; nothing
here re-implements them). Prints one row per seed and experience (each variant against its
holdout), and one
comparing the capped variant's units with the uncapped variant's: the same visitors, so
the arms are not independent, and `compare`'s interval for independent arms is wider than
the paired truth (conservative).

    .venv/bin/python bench/bench_memory.py [--units 10000] [--days 14] [--seeds 1,2,3]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "shared")]

from earnest.decide.engine import Engine  # noqa: E402
from earnest.memory import DAY_MS, EMPTY, Memory, Remembered, remember  # noqa: E402
from earnest.report.gate import enough_data  # noqa: E402
from earnest.report.stats import Arm, compare, verdict  # noqa: E402

P0 = 0.01  # a visit's conversion probability with the default
FATIGUE_WINDOW_DAYS = 7
CAP = {"max_exposures": 3, "per_days": 7}
GRANTED = {"personalization": "granted", "measurement": "granted"}
ARMS = ("personalized", "holdout")


def lift(k: int) -> float:
    """The true effect of the k-th showing in the fatigue window: +50 %, +25 %, 0, -25 %, …"""
    return max(-0.9, 0.50 - 0.25 * (k - 1))


def banner(capped: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": "spring-banner",
        "placement": "home-banner",
        "status": "live",
        "audience": {},
        "requires_consent": ["personalization"],
        "variants": [{"id": "sale", "weight": 1, "content": {"banner": "sale"}}],
        "default": {"banner": None},
        "holdout": 0.5,
    }
    if capped:
        doc["frequency_cap"] = CAP
    return doc


def visits(units: int, days: int, seed: int, start_ms: int) -> list[tuple[int, str, float]]:
    """(time in ms, unit, the visit's uniform draw), in time order: the same for both."""
    rng = random.Random(seed)
    out = []
    for u in range(units):
        rate = rng.gammavariate(0.5, 2.0)  # mean 1 visit a day; most rarely, a few daily
        for day in range(days):
            for _ in range(_poisson(rng, rate)):
                at = start_ms + day * DAY_MS + int(rng.random() * DAY_MS)
                out.append((at, f"u-{seed}-{u}", rng.random()))
    out.sort()
    return out


def _poisson(rng: random.Random, rate: float) -> int:
    limit, k, p = math.exp(-rate), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def run(capped: bool, schedule: list[tuple[int, str, float]]) -> dict[str, Any]:
    """Every visit decided by the engine with the unit's memory; outcomes per first arm."""
    engine = Engine([banner(capped)], global_holdout=0)
    memory: dict[str, Memory] = {}
    shown: dict[str, list[int]] = {}  # the variant's showings, for the true effect
    first_arm: dict[str, str] = {}
    converted: set[str] = set()
    reasons: dict[str, int] = {}
    for n, (at, unit, draw) in enumerate(schedule):
        request = {"visitor": {"anonymous_id": unit}, "placements": ["home-banner"]}
        mine = memory.get(unit)
        answer = engine.decide(request, GRANTED, validate=False, memory=mine, now=at / 1000)
        reason = answer["decisions"]["home-banner"]["reason"]
        reasons[reason] = reasons.get(reason, 0) + 1
        p = P0
        if reason in ARMS:
            first_arm.setdefault(unit, reason)
            counted = remember(mine or EMPTY, [Remembered(f"e{n}", "spring-banner", at)], [], at)
            memory[unit] = counted or mine or EMPTY
        if reason == "personalized":
            recent = [t for t in shown.get(unit, []) if at - t < FATIGUE_WINDOW_DAYS * DAY_MS]
            recent.append(at)
            shown[unit] = recent
            p = P0 * (1 + lift(len(recent)))
        if unit in first_arm and draw < p:
            converted.add(unit)
    arms = {
        arm: Arm(
            sum(1 for a in first_arm.values() if a == arm),
            sum(1 for u, a in first_arm.items() if a == arm and u in converted),
        )
        for arm in ARMS
    }
    return {"arms": arms, "capped": reasons.get("frequency_capped", 0)}


def row(name: str, seed: int, holdout: Arm, variant: Arm, capped: int) -> float:
    lifted = compare(holdout, variant, "conversion_rate")
    said = verdict(lifted, enough_units=enough_data(holdout, variant, 1000), srm_flagged=False)
    low, high = lifted.sequential_ratio_low, lifted.sequential_ratio_high
    interval = f"[{low:+.1%}, {high:+.1%}]" if low is not None and high is not None else "n/a"
    rate_h, rate_v = holdout.mean("conversion_rate"), variant.mean("conversion_rate")
    print(
        f"{seed:>4}  {name:<9} {holdout.units:>7} {rate_h:>9.2%} "
        f"{variant.units:>7} {rate_v:>9.2%} {lifted.relative or 0:>+7.1%} "
        f"{interval:>18}  {said or 'withheld':<16} {capped:>8}"
    )
    return lifted.relative or 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seeds", default="1,2,3")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    start_ms = (int(time.time() * 1000) // DAY_MS - args.days) * DAY_MS  # the days end today
    print(
        f"true effect per showing in the last {FATIGUE_WINDOW_DAYS} days: "
        + ", ".join(f"{lift(k):+.0%}" for k in range(1, 8))
        + f", ...; P0 {P0:.0%} a visit; {args.units:,} visitors, {args.days} days"
    )
    print(
        "seed  banner    holdout  conv      variant conv      lift    always-valid "
        "(95 %)  verdict          capped"
    )
    print("      (cap/none: the capped variant's units against the uncapped variant's)")
    gains = []
    for seed in seeds:
        schedule = visits(args.units, args.days, seed, start_ms)
        results = {name: run(name == "capped", schedule) for name in ("uncapped", "capped")}
        lifts = {
            name: row(name, seed, r["arms"]["holdout"], r["arms"]["personalized"], r["capped"])
            for name, r in results.items()
        }
        gains.append(lifts["capped"] - lifts["uncapped"])
        uncapped, capped = (results[n]["arms"]["personalized"] for n in ("uncapped", "capped"))
        row("cap/none", seed, uncapped, capped, 0)
    print(
        "capped lift - uncapped lift, per seed: "
        + ", ".join(f"{g:+.1%}" for g in gains)
        + f"; mean {sum(gains) / len(gains):+.1%}"
    )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
