"""A bandit's nightly re-weighting: each serving variant's probability of being best, by
Thompson sampling on the primary metric, turned into weights with a floor.

For an experience whose file says `allocation: {mode: bandit, ...}` (docs/experiences.md),
once its exploration window is over and every serving variant has
`min_units_per_variant` units (the epochs before tonight's included), each variant's mean of
the plan's metric gets a normal posterior, N(mean, variance / units) (Gaussian Thompson
sampling, as GrowthBook's bandits; for a rate that is the normal approximation of its beta
posterior), with the CUPED-adjusted mean and variance instead where every epoch's arms
carry the metric's pre-exposure covariate (`posteriors`, as the verdict's adjusted lift).
`thompson.DRAWS` joint draws give each variant's P(best); the weights are
p = f + (1 − n·f)·P(best) over the n serving variants, f the floor. The draws are seeded
from the experience id and the report date, so a re-run of a night gives the same weights.

A variant the guardrails pause tonight (or paused before) takes no part and stays paused;
the holdout share is the file's, never touched. Weights that move by less than
`MIN_CHANGE` are left as they are (no new epoch for noise). The result is a `reweight`
`Action` whose evidence carries the weights before and after, P(best), the units and the
epoch's numbers (earnest.experiences.weights writes them).

With `allocation.segments`, each segment value (at most 16) gets weights of its own in
the same way, from its own units (`ExperienceTotals.segments`), once every serving variant
has `min_units_per_variant` units in it; the report shows each value's weights
(`segments_section`) and, in the experience's `segments` section, its lift against that
value's holdout combined across its epochs (`value_lifts`); the overall lift is stratified
by epoch and value (`_cells`).

Pure: stdlib only (and the core).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from earnest.decide import slices
from earnest.decide.slices import is_bandit
from earnest.experiences.actions import REWEIGHT, Action
from earnest.experiences.lifecycle import LIVE
from earnest.experiences.retirement import end_of
from earnest.experiences.weights import describe
from earnest.report import cuped, epochs, stats
from earnest.report.lifts import covariate
from earnest.report.plan import Plan
from earnest.report.thompson import Moments, floored, p_best, posteriors, seed_of
from earnest.report.totals import ArmKey, ArmTotals, ExperienceTotals, Totals

MIN_CHANGE = 0.01  # the largest weight change below which the weights are kept
RULE = "bandit"
HOLDOUT = "holdout"


def _moments(totals: ArmTotals, metric: str) -> Moments:
    s, ss = totals.sums.get(metric, (0.0, 0.0))
    return totals.units, float(s), float(ss)


def epoch_arms(arms: Mapping[ArmKey, ArmTotals], metric: str) -> dict[str, list[float]]:
    """Tonight's numbers per arm (holdout included), as an epoch keeps them."""
    return {
        HOLDOUT if key is None else str(key): list(_moments(t, metric)) for key, t in arms.items()
    }


def _epochs(doc: Mapping[str, Any], tonight: Mapping[str, list[float]]) -> list[Any]:
    """Each epoch's arms, the ones before tonight's (from the operational state) first."""
    return [*(e.get("arms") or {} for e in doc.get("bandit_epochs") or []), tonight]


def _cumulative(doc: Mapping[str, Any], tonight: Mapping[str, list[float]]) -> dict[str, Moments]:
    return {a: (int(n), s, ss) for a, (n, s, ss) in epochs.pooled(_epochs(doc, tonight)).items()}


def started(doc: Mapping[str, Any]) -> datetime | None:
    """When the bandit's first epoch started (the exploration window's start)."""
    epochs = doc.get("bandit_epochs") or []
    first = epochs[0].get("started_at") if epochs else doc.get("allocation_started_at")
    if not isinstance(first, str):
        return None
    return datetime.fromisoformat(first.replace("Z", "+00:00"))


def _normalized(weights: Mapping[str, float], serving: Sequence[str]) -> dict[str, float]:
    scale = math.fsum(weights[v] for v in serving) or 1.0
    return {v: weights[v] / scale for v in serving}


def _moves(
    before: Mapping[str, float], new: Mapping[str, float], served: Sequence[slices.Slice]
) -> bool:
    """Whether weights move enough to re-weight, in slices within the bound."""
    if max(abs(new[v] - before[v]) for v in new) < MIN_CHANGE:
        return False
    return len(slices.reweight(served, list(new.items()))) <= slices.MAX_SLICES


def epoch_pre(arms: Mapping[ArmKey, ArmTotals], metric: str) -> dict[str, list[float]]:
    """Tonight's sums of the metric's pre-exposure covariate per arm (sum x, sum x², sum
    x·y), as an epoch keeps them beside its `arms`; empty when an arm has none (no
    pre-exposure days read, or a metric CUPED does not adjust)."""
    out = {}
    for key, t in arms.items():
        x = covariate(t.pre_exposure, metric)
        if x is None:
            return {}
        out[HOLDOUT if key is None else str(key)] = [x.total, x.total_sq, x.product]
    return out


def _cumulative_pre(
    doc: Mapping[str, Any], tonight: Mapping[str, list[float]]
) -> dict[str, cuped.Covariate] | None:
    """The covariate's sums over every epoch, or None unless every epoch kept them (the
    posterior adjusts all its units or none)."""
    parts = [*((e.get("pre") or {}) for e in doc.get("bandit_epochs") or []), tonight]
    if not all(parts):
        return None
    return {a: cuped.Covariate(*numbers) for a, numbers in epochs.pooled(parts).items()}


def _thompson(
    totals: Mapping[str, Moments],
    serving: Sequence[str],
    seed: int,
    floor: float,
    metric: str,
    pre: Mapping[str, cuped.Covariate] | None = None,
) -> tuple[dict[str, float], dict[str, float], bool]:
    """P(best) of each serving variant, the floored weights it gives, and whether the
    posterior was CUPED-adjusted (`pre`: the covariate's sums per arm)."""
    posterior, adjusted = posteriors({v: totals[v] for v in serving}, metric, pre)
    best = p_best(posterior, seed)
    return best, floored(best, floor), adjusted


def reweight(
    day: date,
    doc: Mapping[str, Any],
    arms: Mapping[ArmKey, ArmTotals],
    pausing: set[str],
    segments: Mapping[str, Mapping[str, Mapping[ArmKey, ArmTotals]]] | None = None,
) -> Action | None:
    """Tonight's `reweight` action for one experience, or None (a fixed split, still
    exploring, too few units, or weights that barely move). `segments`: the experience's
    totals per segment path and value (ExperienceTotals.segments; empty: no segment data,
    only the overall weights)."""
    if not is_bandit(doc) or doc.get("status") != LIVE:
        return None
    allocation = doc["allocation"]
    begun = started(doc)
    explore = timedelta(days=int(allocation.get("exploration_days", 3)))
    if begun is None or end_of(day) - begun < explore:
        return None
    serving = [
        str(v["id"])
        for v in doc.get("variants") or []
        if not v.get("paused") and str(v["id"]) not in pausing
    ]
    if len(serving) < 2:
        return None
    metric = Plan.of(doc).metric
    tonight = epoch_arms(arms, metric)
    total = _cumulative(doc, tonight)
    minimum = max(int(allocation.get("min_units_per_variant", 100)), 2)
    if any(total.get(v, (0, 0.0, 0.0))[0] < minimum for v in serving):
        return None
    floor = float(allocation.get("weight_floor", 0.01))
    file_weights = {str(v["id"]): float(v["weight"]) for v in doc["variants"]}
    before = _normalized(file_weights, serving)
    served = slices.served(doc, list(before.items())) or slices.layout(list(before.items()))
    pre = epoch_pre(arms, metric)
    seed = seed_of(str(doc["id"]), day)
    best, new, adjusted = _thompson(total, serving, seed, floor, metric, _cumulative_pre(doc, pre))
    if not _moves(before, new, served):
        new = before  # the overall weights stay; a segment value's may still move
    by_value, segment_arms = _segments(day, doc, segments or {}, metric, serving, served)
    if new is before and not by_value:
        return None
    evidence: dict[str, Any] = {
        "report_date": day.isoformat(),
        "weights_before": {v: round(w, 4) for v, w in before.items()},
        "weights": {v: round(w, 4) for v, w in new.items()},
        "p_best": {v: round(p, 4) for v, p in best.items()},
        "units": {v: total[v][0] for v in serving},
        "metric": metric,
        "cuped": adjusted,
        "arms": tonight,
        **({"pre": pre} if pre else {}),
        "srm_flagged": False,  # not re-weighted on a flagged night (reweights)
    }
    if segment_arms:
        evidence |= {"segments": by_value, "segment_arms": segment_arms}
    return Action(str(doc["id"]), REWEIGHT, RULE, None, describe(evidence), evidence)


def _segments(
    day: date,
    doc: Mapping[str, Any],
    segments: Mapping[str, Mapping[str, Mapping[ArmKey, ArmTotals]]],
    metric: str,
    serving: Sequence[str],
    served: Sequence[slices.Slice],
) -> tuple[dict[str, Any], dict[str, dict[str, list[float]]]]:
    """Tonight's re-weighting of each segment value (value -> weights before and after,
    P(best), units) and the numbers kept for the epoch (value -> arms), for at most
    MAX_SEGMENT_VALUES values: those with their own weights first, then by units. A value
    gets its own weights once every serving variant has min_units_per_variant units in it
    (its epochs before tonight's included)."""
    path = slices.segment_path(doc)
    found = segments.get(path) if path else None
    if not found:
        return {}, {}
    per_value = _value_epochs(doc, found, metric)
    states = slices.segment_states(doc)
    minimum = max(int(doc["allocation"].get("min_units_per_variant", 100)), 2)
    floor = float(doc["allocation"].get("weight_floor", 0.01))
    weighted = [(v, 1.0) for v in serving]
    by_slices = slices.served_segments(doc, weighted)
    out: dict[str, Any] = {}
    for value, value_epochs in per_value.items():
        got = {a: (int(n), s, ss) for a, (n, s, ss) in epochs.pooled(value_epochs).items()}
        if any(got.get(v, (0, 0.0, 0.0))[0] < minimum for v in serving):
            continue
        state = states.get(value)
        before = (
            dict(slices.segment_weighted(state, weighted)) if state else dict(slices.shares(served))
        )
        before = _normalized({v: before.get(v, 0.0) for v in serving}, serving)
        seed = seed_of(f"{doc['id']}:{path}={value}", day)
        best, new, _ = _thompson(got, serving, seed, floor, metric)  # no covariate per value
        if _moves(before, new, by_slices.get(value) or served):
            out[value] = {
                "weights_before": {v: round(w, 4) for v, w in before.items()},
                "weights": {v: round(w, 4) for v, w in new.items()},
                "p_best": {v: round(p, 4) for v, p in best.items()},
                "units": {v: got[v][0] for v in serving},
            }
    return out, {value: dict(value_epochs[-1]) for value, value_epochs in per_value.items()}


def reweights(
    day: date,
    docs: Sequence[Mapping[str, Any]],
    totals: Totals,
    actions: Sequence[Action],
    flagged: frozenset[str] = frozenset(),
) -> list[Action]:
    """Every bandit experience's re-weighting tonight, after the guardrails' `actions`
    (an experience they pause or retire is not re-weighted; a variant they pause is out;
    `flagged`: the experiences whose sample ratio is off tonight, which are not re-weighted
    either: their numbers are not trusted)."""
    whole = {a.experience for a in actions if a.variant is None}
    out = []
    for doc in sorted(docs, key=lambda d: str(d.get("id"))):
        exp_id = str(doc.get("id"))
        found = totals.experiences.get(exp_id)
        if exp_id in whole or exp_id in flagged or found is None:
            continue
        pausing = {str(a.variant) for a in actions if a.experience == exp_id and a.variant}
        action = reweight(day, doc, found.arms, pausing, found.segments)
        if action is not None:
            out.append(action)
    return out


def segment_splits(
    doc: Mapping[str, Any], totals: ExperienceTotals | None
) -> dict[str, list[tuple[str, int, float]]]:
    """Per segment value, each serving variant's units and the weight that value serves
    it at, once a segmented bandit has values with their own weights (else empty): what
    its SRM check compares (earnest.report.srm.srm_check)."""
    states = slices.segment_states(doc)
    path = slices.segment_path(doc)
    found = totals.segments.get(path) if totals is not None and path and states else None
    if not found:
        return {}
    serving = [(str(v["id"]), float(v["weight"])) for v in doc["variants"] if not v.get("paused")]
    out = {}
    for value, arms in sorted(found.items()):
        state = states.get(value)
        weighted = slices.segment_weighted(state, serving) if state else serving
        out[value] = [(v, arms[v].units if v in arms else 0, w) for v, w in weighted]
    return out


def _cells(
    doc: Mapping[str, Any],
    all_epochs: Sequence[epochs.Epoch],
    segments: Mapping[str, Mapping[str, Mapping[ArmKey, ArmTotals]]],
    metric: str,
) -> list[epochs.Epoch]:
    """The strata of a segmented bandit's lift: each epoch split by segment value (the
    values it kept, and the rest), since each value is served its own weights: pooled over
    the values, a variant's units would lean to the values that favour it (Simpson's
    paradox again). An epoch without segment numbers stays whole."""
    path = slices.segment_path(doc)
    found = segments.get(path) if path else None
    if not found:
        return list(all_epochs)
    tonight = {str(value): epoch_arms(a, metric) for value, a in found.items()}
    by_epoch = [
        {value: seg.get("arms") or {} for value, seg in (e.get("segments") or {}).items()}
        for e in doc.get("bandit_epochs") or []
    ]
    out: list[epochs.Epoch] = []
    for whole, values in zip(all_epochs, [*by_epoch, tonight], strict=True):
        if not values:
            out.append(whole)
            continue
        kept = epochs.pooled(list(values.values()))
        rest = {
            arm: [float(n) - kept.get(arm, [0.0, 0.0, 0.0])[i] for i, n in enumerate(numbers)]
            for arm, numbers in whole.items()
        }
        out += [*values.values(), rest]
    return out


def _pooled_arms(
    total: Mapping[str, Sequence[float]], variant: str, metric: str
) -> tuple[stats.Arm, stats.Arm] | None:
    """The holdout's and `variant`'s numbers pooled over the epochs, as the small-counts
    gate reads them (None: one of them has none)."""
    if variant not in total or HOLDOUT not in total:
        return None
    (nc, sc, qc), (nt, st, qt) = total[HOLDOUT], total[variant]
    return stats.Arm(int(nc), sums={metric: (sc, qc)}), stats.Arm(int(nt), sums={metric: (st, qt)})


def across_epochs(
    doc: Mapping[str, Any],
    arms: Mapping[ArmKey, ArmTotals],
    comparisons: int,
    segments: Mapping[str, Mapping[str, Mapping[ArmKey, ArmTotals]]] | None = None,
) -> dict[str, tuple[stats.Lift, stats.Arm, stats.Arm]]:
    """Per variant, once a bandit has re-weighted: its primary lift combined over the
    epochs (earnest.report.epochs; a segmented bandit's over each epoch's segment values,
    `_cells`) and the pooled arms the small-counts gate reads. Empty for a fixed split and
    before the first re-weighting (one epoch: the report's own)."""
    if not is_bandit(doc) or not doc.get("bandit_epochs"):
        return {}
    metric = Plan.of(doc).metric
    all_epochs = _epochs(doc, epoch_arms(arms, metric))
    strata = _cells(doc, all_epochs, segments or {}, metric)
    total = epochs.pooled(all_epochs)
    out = {}
    for v in doc.get("variants") or []:
        vid = str(v["id"])
        lift = epochs.stratified(strata, vid, metric, comparisons=comparisons)
        pooled = _pooled_arms(total, vid, metric)
        if lift is not None and pooled is not None:
            out[vid] = (lift, *pooled)
    return out


def value_lifts(
    doc: Mapping[str, Any], segments: Mapping[str, Mapping[str, Mapping[ArmKey, ArmTotals]]]
) -> tuple[str, dict[str, dict[str, tuple[stats.Lift, stats.Arm, stats.Arm] | None]]] | None:
    """A segmented bandit's allocation path and, per value (those `_ranked` keeps) and
    variant, its lift against that value's holdout combined across the value's epochs,
    with the pooled arms the gate reads (None: no data in both arms), as the verdict reads
    a bandit's own lift (`across_epochs`): the current allocation alone is only tonight's
    epoch. None for a fixed split, an unsegmented bandit, or before the first
    re-weighting. earnest.report.segment_lift reports and adjusts these tests."""
    path = slices.segment_path(doc)
    found = segments.get(path) if path else None
    if not is_bandit(doc) or not doc.get("bandit_epochs") or path is None or not found:
        return None
    metric = Plan.of(doc).metric
    out: dict[str, dict[str, tuple[stats.Lift, stats.Arm, stats.Arm] | None]] = {}
    for value, value_epochs in _value_epochs(doc, found, metric).items():
        total = epochs.pooled(value_epochs)
        out[value] = {}
        for v in doc.get("variants") or []:
            vid = str(v["id"])
            lift = epochs.stratified(value_epochs, vid, metric)  # BH: segment_lift
            pooled = _pooled_arms(total, vid, metric)
            out[value][vid] = (lift, *pooled) if lift and pooled else None
    return path, out


def _ranked(
    doc: Mapping[str, Any], cumulative: Mapping[str, Mapping[str, Sequence[float]]]
) -> list[str]:
    """At most MAX_SEGMENT_VALUES segment values: those with their own weights first, then
    by units (every epoch's), then by value: the ones a night keeps and shows."""
    states = slices.segment_states(doc)
    return sorted(
        cumulative,
        key=lambda v: (v not in states, -sum(n[0] for n in cumulative[v].values()), v),
    )[: slices.MAX_SEGMENT_VALUES]


def _value_epochs(
    doc: Mapping[str, Any], found: Mapping[str, Mapping[ArmKey, ArmTotals]], metric: str
) -> dict[str, list[Any]]:
    """Each segment value's epochs (its numbers in each epoch before tonight's, then
    tonight's), for the values `_ranked` keeps."""
    past = doc.get("bandit_epochs") or []
    tonight = {str(value): epoch_arms(a, metric) for value, a in found.items()}
    per_value = {value: [*_value_past(past, value), arms] for value, arms in tonight.items()}
    ranked = _ranked(doc, {v: epochs.pooled(e) for v, e in per_value.items()})
    return {value: per_value[value] for value in ranked}


def _value_past(past: Sequence[Mapping[str, Any]], value: str) -> list[epochs.Epoch]:
    """A segment value's numbers in each epoch before tonight's (the oldest ones pooled as
    the operational state folds them: earnest.experiences.weights)."""
    out: list[epochs.Epoch] = []
    for e in past:
        folded = (e.get("segments_folded") or {}).get(value)
        if folded:
            out.append(folded)
        out.append(((e.get("segments") or {}).get(value) or {}).get("arms") or {})
    return out


def segments_section(
    doc: Mapping[str, Any], segments: Mapping[str, Mapping[str, Mapping[ArmKey, ArmTotals]]]
) -> dict[str, Any] | None:
    """A segmented bandit's values side by side (None: no segments or no data): each
    value's weights (its own, or the overall ones it is served) and its units over every
    epoch. Each value's lift is the experience's `segments` section's
    (earnest.report.segment_lift, reading `value_lifts`), the one place lift by segment
    is read."""
    path = slices.segment_path(doc)
    found = segments.get(path) if path else None
    if not found:
        return None
    metric = Plan.of(doc).metric
    states = slices.segment_states(doc)
    overall = {str(v["id"]): float(v["weight"]) for v in doc["variants"] if not v.get("paused")}
    rows: list[dict[str, Any]] = []
    for value, value_epochs in _value_epochs(doc, found, metric).items():
        own = states.get(value)
        rows.append(
            {
                "value": value,
                "own_weights": own is not None,
                "weights": dict(own.get("weights") or {}) if own else overall,
                "units": {a: int(n[0]) for a, n in sorted(epochs.pooled(value_epochs).items())},
            }
        )
    return {"path": path, "values": rows}


def section(
    doc: Mapping[str, Any],
    action: Action | None,
    arms: Mapping[ArmKey, ArmTotals],
    srm: Mapping[str, Any],
    segments: Mapping[str, Mapping[str, Mapping[ArmKey, ArmTotals]]] | None = None,
) -> dict[str, Any] | None:
    """The report's `allocation` of a bandit experience (None: a fixed split): its mode and
    parameters, the weights served tonight, each epoch (its start, weights and whether its
    traffic matched them), tonight's re-weighting (each variant's lift combined across
    the epochs is its `lift_across_epochs`, which its verdict reads), and with
    `allocation.segments` each value's weights and units (`segments_section`)."""
    if not is_bandit(doc):
        return None
    metric = Plan.of(doc).metric
    served = [str(v["id"]) for v in doc.get("variants") or []]
    listed = [
        {k: e.get(k) for k in ("started_at", "report_date", "weights", "srm_flagged")}
        for e in doc.get("bandit_epochs") or []
    ]
    current = {v: float(w["weight"]) for v in served for w in doc["variants"] if w["id"] == v}
    listed.append(
        {
            "started_at": doc.get("allocation_started_at"),
            "report_date": None,  # the current epoch
            "weights": current,
            "srm_flagged": bool(srm.get("flagged")),
        }
    )
    return {
        **dict(doc["allocation"]),
        "metric": metric,
        "weights": current,
        "epochs": listed,
        "mismatched_epochs": [e["started_at"] for e in listed if e.get("srm_flagged")],
        "reweight": dict(action.evidence) if action is not None else None,
        "segments": segments_section(doc, segments or {}),
    }
