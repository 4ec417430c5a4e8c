"""A bandit experience run night after night through the real code, with a known truth.

Each night: the experience as decide serves it (`lifecycle.effective` of the file and the
operational state), each of the night's new units assigned by its compiled engine's own
hashes (holdout, then the variant's slice), conversions drawn at the arm's true rate, the
report of the night built on the current allocation's units (`build.assemble`, guardrails
and `bandit.reweights` included), and its actions recorded as the nightly run records them
(`actions.record`, then the allocation restarted where the served shares changed). What it
returns per night: the weights served, the holdout's share as decide assigns it over a
fixed panel of units, the units and conversions per arm, any verdict and pause, and the
epoch-stratified and naively pooled lift of every variant.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from earnest.decide.bucketing import bucket, pick
from earnest.decide.compiled import CompiledExperience, compile_experience
from earnest.experiences import actions, lifecycle
from earnest.experiences.retirement import end_of
from earnest.report import build, epochs
from earnest.report.bandit import HOLDOUT
from earnest.report.lifts import lift_dict
from earnest.report.totals import ArmTotals, ExperienceTotals, Totals
from earnest.report.window import Window
from earnest.timefmt import format_time
from tests.builders.experiences import experience

START = date(2026, 11, 1)
METRIC = "conversion_rate"
SEGMENT = "context.device"
PANEL = [f"panel-{i}" for i in range(20_000)]  # the units the holdout's share is read over


@dataclass(frozen=True)
class Bandit:
    """A scenario: each variant's true rate (None the holdout), traffic and parameters."""

    rates: Mapping[str | None, float]
    holdout: float = 0.10
    daily_units: int = 2000
    nights: int = 30
    exploration_days: int = 3
    min_units: int = 100
    floor: float = 0.01
    mode: str = "bandit"
    drift: float = 0.0  # every rate times (1 + drift * night / nights): a moving base
    # The plan's effect; None for A/A, as bench_stats does: futility off, so a tie's
    # futility pause (the right answer for a tie) is not counted as a false call.
    mde: float | None = 0.1
    # Per value of context.device, each arm's true rate (the units split evenly across
    # the values); None: no segments, every unit at `rates`.
    segments: Mapping[str, Mapping[str | None, float]] | None = None
    segmented: bool = True  # with `segments`: whether the allocation keeps weights per value

    @property
    def ids(self) -> list[str]:
        return [str(k) for k in self.rates if k is not None]

    def rate(self, arm: str | None, night: int, value: str | None = None) -> float:
        rates = self.rates if value is None or self.segments is None else self.segments[value]
        return rates[arm] * (1.0 + self.drift * night / self.nights)


@dataclass
class Night:
    weights: dict[str, float]
    holdout_share: float  # of the panel, as decide assigns it tonight
    units: dict[str, int]  # tonight's new units per arm (holdout as "holdout")
    conversions: dict[str, int]
    verdicts: dict[str, str | None]
    paused: list[str]
    stratified: dict[str, Any] = field(default_factory=dict)
    pooled: dict[str, Any] = field(default_factory=dict)
    # A segment scenario's: each value's own weights served tonight (none yet: absent),
    # its new units per arm, and the report's per-segment section.
    segment_weights: dict[str, dict[str, float]] = field(default_factory=dict)
    segment_units: dict[str, dict[str, int]] = field(default_factory=dict)
    segments: dict[str, Any] = field(default_factory=dict)


def authored(s: Bandit) -> dict[str, Any]:
    return experience(
        id="bandit-sim",
        audience={},
        holdout=s.holdout,
        variants=[{"id": v, "weight": 1, "content": {"v": v}} for v in s.ids],
        measurement_plan={
            "hypothesis": "simulated bandit",
            "primary_metric": "conversion",
            "min_units_per_arm": 100,
            **({} if s.mde is None else {"minimum_detectable_effect": s.mde}),
        },
        last_reviewed=START.isoformat(),
        review_every_days=3650,
        allocation={
            "mode": s.mode,
            "exploration_days": s.exploration_days,
            "min_units_per_variant": s.min_units,
            "weight_floor": s.floor,
            **({"segments": [SEGMENT]} if s.segments and s.segmented else {}),
        },
    )


def _holdout_share(served: Mapping[str, Any]) -> float:
    exp = compile_experience(served)
    return sum(1 for u in PANEL if bucket(u, exp.holdout_seed) < exp.holdout) / len(PANEL)


def _variant(exp: CompiledExperience, unit: str, body: Mapping[str, Any]) -> str | None:
    """The arm decide's engine gives `unit` (None: the holdout), by its own hashes."""
    if bucket(unit, exp.holdout_seed) < exp.holdout:
        return None
    bounds, answers = exp.bounds, exp.variant_answers
    if exp.segment_read is not None:
        bounds, answers = exp.segment_picks.get(exp.segment_read(body), (bounds, answers))
    return str(answers[pick(bucket(unit, exp.variant_seed), bounds)]["variant"])


def _totals(arms: Mapping[str | None, list[int]]) -> dict[str | None, ArmTotals]:
    return {k: ArmTotals(n, n, x) for k, (n, x) in arms.items()}


def run(s: Bandit, seed: int, *, panel: bool = False) -> list[Night]:
    """The scenario's nights (`panel`: also read the holdout's share over PANEL)."""
    rng = random.Random(seed)
    doc = authored(s)
    start = f"{START.isoformat()}T00:00:00.000Z"
    ops: dict[str, Any] = lifecycle.with_allocation(doc, {}, start)
    arms: dict[str | None, list[int]] = {}  # the current allocation's units, conversions
    by_value: dict[str, dict[str | None, list[int]]] = {}  # the same per segment value
    values = sorted(s.segments or {})
    previous: dict[str, Any] | None = None
    out: list[Night] = []
    for night in range(s.nights):
        day = START + timedelta(days=night)
        served = lifecycle.effective(doc, ops)
        exp = compile_experience(served)
        tonight_units: dict[str, int] = {}
        tonight_conv: dict[str, int] = {}
        tonight_by_value: dict[str, dict[str, int]] = {}
        for i in range(s.daily_units):
            unit = f"s{seed}-n{night}-u{i}"
            value = values[rng.randrange(len(values))] if values else None
            arm = _variant(exp, unit, {"context": {"device": value}})
            got = arms.setdefault(arm, [0, 0])
            got[0] += 1
            converted = rng.random() < s.rate(arm, night, value)
            got[1] += converted
            name = HOLDOUT if arm is None else str(arm)
            tonight_units[name] = tonight_units.get(name, 0) + 1
            tonight_conv[name] = tonight_conv.get(name, 0) + converted
            if value is not None:
                mine = by_value.setdefault(value, {}).setdefault(arm, [0, 0])
                mine[0] += 1
                mine[1] += converted
                counted = tonight_by_value.setdefault(value, {})
                counted[name] = counted.get(name, 0) + 1
        segments = {SEGMENT: {v: _totals(a) for v, a in by_value.items()}} if values else {}
        totals = Totals(
            {"bandit-sim": ExperienceTotals(_totals(arms), {}, None, segments)}, {}, {}, {}
        )
        built = build.assemble(Window(day), [served], totals, previous, global_holdout=0.0)
        previous = built.report
        section = built.report["experiences"][0]
        nights_epochs = [*(e.get("arms") or {} for e in served.get("bandit_epochs") or [])]
        current = {(HOLDOUT if k is None else str(k)): [n, x, x] for k, (n, x) in arms.items()}
        all_epochs = [*nights_epochs, current]
        out.append(
            Night(
                weights={str(v["id"]): float(v["weight"]) for v in served["variants"]},
                holdout_share=_holdout_share(served) if panel else float("nan"),
                units=tonight_units,
                conversions=tonight_conv,
                verdicts={v["variant"]: v["verdict"] for v in section["variants"]},
                paused=[a.variant for a in built.actions if a.variant],
                stratified={
                    v["variant"]: v.get("lift_across_epochs") or v["lift"]["conversion_rate"]
                    for v in section["variants"]
                },
                pooled={
                    v: lift_dict(lift)
                    for v in s.ids
                    if (
                        lift := epochs.stratified(
                            [epochs.pooled(all_epochs)], v, METRIC, comparisons=len(s.ids)
                        )
                    )
                },
                segment_weights={
                    value: dict(state.get("weights") or {})
                    for value, state in (served.get("bandit_segments") or {}).items()
                },
                segment_units=tonight_by_value,
                segments=(section.get("allocation") or {}).get("segments") or {},
            )
        )
        if built.actions:
            at = format_time(end_of(day))
            before = ops
            ops = actions.record(ops, served, built.actions, at)
            ops = lifecycle.with_allocation(doc, ops, at)
            if lifecycle.allocation_start(ops) != lifecycle.allocation_start(before):
                arms, by_value = {}, {}  # a new allocation: the next report counts from here
    return out


def treated_share(n: Night, variant: str) -> float:
    """The variant's share of the treated units tonight."""
    treated = sum(u for arm, u in n.units.items() if arm != HOLDOUT)
    return n.units.get(variant, 0) / treated if treated else 0.0


THREE = Bandit({None: 0.05, "a": 0.05, "b": 0.055, "c": 0.0625})  # +0 %, +10 %, +25 %
A_A = Bandit({None: 0.05, "a": 0.05, "b": 0.05, "c": 0.05}, mde=None)
FALSE = {"beats_default", "loses_to_default"}
# One variant helps mobile (+25 %), another desktop (+25 %), the third neither.
SEGMENTED = Bandit(
    {None: 0.05, "a": 0.05625, "b": 0.05625, "c": 0.05},
    segments={
        "mobile": {None: 0.05, "a": 0.0625, "b": 0.05, "c": 0.05},
        "desktop": {None: 0.05, "a": 0.05, "b": 0.0625, "c": 0.05},
    },
)
OWN_BEST = {"mobile": "a", "desktop": "b"}


def _covers(lift: Mapping[str, Any] | None, truth: float, interval: str = "sequential_") -> bool:
    """Whether the lift's ratio interval covers `truth`: the always-valid one
    (`sequential_ratio_*`, what decisions read) or, with `interval=""`, the fixed-horizon
    95 % one (`ratio_*`)."""
    if not lift:
        return False
    low, high = lift.get(f"{interval}ratio_low"), lift.get(f"{interval}ratio_high")
    return (low is None or low <= truth) and (high is None or truth <= high)


def coverage(nights: Sequence[Night], truth: float = 0.25) -> dict[str, bool]:
    """Whether the best variant's four intervals on the last night cover its true lift."""
    last = nights[-1]
    return {
        "best's epoch-stratified interval covers +25 %": _covers(last.stratified.get("c"), truth),
        "best's naive pooled interval covers +25 %": _covers(last.pooled.get("c"), truth),
        "best's epoch-stratified fixed-horizon 95 % interval covers +25 %": _covers(
            last.stratified.get("c"), truth, interval=""
        ),
        "best's naive pooled fixed-horizon 95 % interval covers +25 %": _covers(
            last.pooled.get("c"), truth, interval=""
        ),
    }


def _shares(covered: Sequence[Mapping[str, bool]]) -> dict[str, float]:
    """Each coverage row's share of the replications that covered."""
    return {name: sum(c[name] for c in covered) / len(covered) for name in covered[0]}


def measure_coverage(reps: int, seed: int = 2026) -> dict[str, float]:
    """The coverage rows of `measure` alone, over `reps` replications (the same seeds)."""
    return _shares([coverage(run(THREE, seed + r)) for r in range(reps)])


def measure(reps: int, seed: int = 2026) -> dict[str, float]:
    """The issue's scenarios over `reps` replications each (fixed seeds)."""
    best_night10, best70, regret, conv_b, conv_f = [], [], [], [], []
    covered = []
    holdout_dev = 0.0
    for r in range(reps):
        nights = run(THREE, seed + r, panel=r == 0)
        if r == 0:
            holdout_dev = max(abs(n.holdout_share - THREE.holdout) for n in nights)
        share = treated_share(nights[9], "c")
        best_night10.append(share)
        best70.append(share >= 0.70)
        covered.append(coverage(nights))
        fixed = run(Bandit(THREE.rates, mode="fixed"), seed + r)
        bandit_conv = sum(v for n in nights for k, v in n.conversions.items() if k != HOLDOUT)
        fixed_conv = sum(v for n in fixed for k, v in n.conversions.items() if k != HOLDOUT)
        conv_b.append(bandit_conv)
        conv_f.append(fixed_conv)
        regret.append(bandit_conv - fixed_conv)
    false_events = []
    for r in range(reps):
        nights = run(A_A, seed + 10_000 + r)
        false_events.append(any(set(n.verdicts.values()) & FALSE or n.paused for n in nights))
    return {
        "best share of treated, night 10 (mean)": sum(best_night10) / reps,
        "runs with best >= 70 % of treated by night 10": sum(best70) / reps,
        "holdout share, largest deviation over 30 nights (points)": holdout_dev * 100,
        **_shares(covered),
        "A/A: any false verdict or pause, 30 nights": sum(false_events) / reps,
        "treated conversions, bandit (mean over 30 nights)": sum(conv_b) / reps,
        "treated conversions, fixed equal split": sum(conv_f) / reps,
        "conversions gained vs fixed equal split": sum(regret) / reps,
    }


def segment_share(n: Night, value: str, variant: str) -> float:
    """The variant's share of the segment value's treated units tonight."""
    units = n.segment_units.get(value) or {}
    treated = sum(u for arm, u in units.items() if arm != HOLDOUT)
    return units.get(variant, 0) / treated if treated else 0.0


def measure_segments(reps: int, seed: int = 2026) -> dict[str, float]:
    """The issue's segment scenario (SEGMENTED) over `reps` replications (fixed seeds),
    beside the same truth under one allocation for every segment."""
    own_best, shares, conv_seg, conv_one = [], {v: [] for v in OWN_BEST}, [], []
    for r in range(reps):
        nights = run(SEGMENTED, seed + 20_000 + r)
        last = nights[-1].segment_weights
        own_best.append(
            all(
                w and max(w, key=w.__getitem__) == best
                for v, best in OWN_BEST.items()
                if (w := last.get(v))
            )
            and set(last) == set(OWN_BEST)
        )
        for value, best in OWN_BEST.items():
            shares[value].append(segment_share(nights[-1], value, best))
        one = run(
            Bandit(SEGMENTED.rates, segments=SEGMENTED.segments, segmented=False), seed + 20_000 + r
        )
        conv_seg.append(sum(v for n in nights for k, v in n.conversions.items() if k != HOLDOUT))
        conv_one.append(sum(v for n in one for k, v in n.conversions.items() if k != HOLDOUT))
    out = {
        "segments: runs where each value's largest weight is its own best, night 30": sum(own_best)
        / reps
    }
    for value, best in OWN_BEST.items():
        out[f"segments: {value}'s best ({best}) share of its treated traffic, night 30"] = (
            sum(shares[value]) / reps
        )
    out["segments: treated conversions, weights per value (mean over 30 nights)"] = (
        sum(conv_seg) / reps
    )
    out["segments: treated conversions, one allocation for both"] = sum(conv_one) / reps
    return out
