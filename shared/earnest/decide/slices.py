"""Slices: which variant each stretch of the unit's hash gets, so a re-weighting moves few units.

A fixed split lays the variants end to end over the hash's range in the file's order
(`cumulative_shares`); re-weighting that way would shift every boundary and move units of
every variant. A bandit experience instead keeps its assignment as a short list of
`[start, end, variant]` slices over the 32-bit hash ([0, 2**32), integers, so Python and
the edge's JS compare exactly) in its operational state. `reweight` hands slices from the
variants that lost weight to those that gained, smallest slices first, and coalesces
neighbours of one variant: it moves exactly the total-variation distance between the old
and new shares, and each re-weighting adds at most one slice per variant whose weight
changed. The holdout has its own hash and never moves. Nothing is written on decide's
path: the slices are computed by the nightly run and read with the rules. A bandit with
`allocation.segments` keeps such slices per segment value too (`bandit_segments` of the
effective document, at most MAX_SEGMENT_VALUES values); any other value gets the overall
ones.

Pure: stdlib only (decide's hot path imports it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

from earnest.decide.bucketing import SCALE, cumulative_shares

FULL = 1 << 32  # the hash's range: a unit's position is its unsigned MurmurHash3
MAX_SLICES = 256  # beyond it a re-weighting is refused (earnest.report.bandit keeps the weights)
MAX_SEGMENT_VALUES = 16  # a segmented bandit's values with their own weights, at most

Slice = tuple[int, int, str]  # [start, end) of the hash, the variant served there
BANDIT = "bandit"  # the allocation mode that re-weights (docs/experiences.md, "allocation")


def is_bandit(doc: Mapping[str, Any]) -> bool:
    allocation = doc.get("allocation")
    return isinstance(allocation, Mapping) and allocation.get("mode") == BANDIT


def served(doc: Mapping[str, Any], weighted: Sequence[tuple[str, float]]) -> list[Slice] | None:
    """A bandit experience's slices over its serving variants (`weighted`, in order): the
    ones its operational state keeps (`variant_slices` of the effective document) handed
    over to these weights, or the fixed split's layout before any; None for a fixed split."""
    if not is_bandit(doc):
        return None
    return reweight(parse(doc.get("variant_slices")) or layout(weighted), weighted)


def segment_path(doc: Mapping[str, Any]) -> str | None:
    """The request field whose every value a bandit gives its own weights
    (`allocation.segments`, one path in this version), or None."""
    if not is_bandit(doc):
        return None
    paths = doc["allocation"].get("segments") or []
    return str(paths[0]) if paths else None


def segment_states(doc: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The segment values that have their own weights (`bandit_segments` of the effective
    document: value -> {weights, slices}), at most MAX_SEGMENT_VALUES, by value."""
    found = doc.get("bandit_segments") if segment_path(doc) else None
    if not isinstance(found, Mapping):
        return {}
    kept = sorted((str(k), v) for k, v in found.items() if isinstance(v, Mapping))
    return dict(kept[:MAX_SEGMENT_VALUES])


def segment_weighted(
    state: Mapping[str, Any], weighted: Sequence[tuple[str, float]]
) -> list[tuple[str, float]]:
    """The serving variants (`weighted`, in order) at a segment value's own weights; a
    variant they do not name (added since) keeps its share of the overall weights."""
    found = state.get("weights")
    own: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    total = math.fsum(w for _, w in weighted) or 1.0
    out = []
    for variant, w in weighted:
        got = own.get(variant)
        out.append((variant, float(got) if isinstance(got, int | float) and got > 0 else w / total))
    return out


def served_segments(
    doc: Mapping[str, Any], weighted: Sequence[tuple[str, float]]
) -> dict[str, list[Slice]]:
    """Each segment value's slices (of the values with their own weights) over the serving
    variants: its stored ones, or the overall slices it was served before its first own
    weights, handed over to its weights. Empty without segments; any other value of the
    request's field is served the overall slices."""
    states = segment_states(doc)
    if not states:
        return {}
    overall = served(doc, weighted) or layout(weighted)
    return {
        value: reweight(parse(state.get("slices")) or overall, segment_weighted(state, weighted))
        for value, state in states.items()
    }


def _bounds(
    found: Sequence[Slice], weighted: Sequence[tuple[str, float]]
) -> tuple[tuple[float, ...], tuple[int, ...]]:
    index = {v: i for i, (v, _) in enumerate(weighted)}
    return tuple(end * SCALE for _, end, _ in found), tuple(index[v] for _, _, v in found)


def split(
    doc: Mapping[str, Any], weighted: Sequence[tuple[str, float]]
) -> tuple[tuple[float, ...], tuple[int, ...]]:
    """The engine's upper bounds over [0, 1) and the index (in `weighted`) of each one's
    variant: the fixed split's, one per variant, or a bandit experience's slices."""
    found = served(doc, weighted)
    if found is None:
        return cumulative_shares([w for _, w in weighted]), tuple(range(len(weighted)))
    return _bounds(found, weighted)


def segment_splits(
    doc: Mapping[str, Any], weighted: Sequence[tuple[str, float]]
) -> dict[str, tuple[tuple[float, ...], tuple[int, ...]]]:
    """`split` of each segment value with its own weights (empty without segments)."""
    return {v: _bounds(found, weighted) for v, found in served_segments(doc, weighted).items()}


def targets(weights: Sequence[tuple[str, float]]) -> dict[str, int]:
    """Each variant's length of the range, in order: the boundaries a fixed split uses.

    A unit at hash h is in variant i of a fixed split when h * 2**-32 < bound_i, i.e.
    h < ceil(bound_i * 2**32), so these lengths give every unit the fixed split's variant.
    """
    total = math.fsum(w for _, w in weights)
    out: dict[str, int] = {}
    running, before = 0.0, 0
    for i, (variant, w) in enumerate(weights):
        running += w
        end = FULL if i == len(weights) - 1 else math.ceil(running / total * FULL)
        out[variant] = out.get(variant, 0) + end - before
        before = end
    return out


def layout(weights: Sequence[tuple[str, float]]) -> list[Slice]:
    """The variants end to end, as a fixed split assigns them."""
    out: list[Slice] = []
    start = 0
    for variant, length in targets(weights).items():
        if length:
            out.append((start, start + length, variant))
            start += length
    return out


def shares(slices: Sequence[Slice]) -> dict[str, float]:
    """Each variant's share of the range."""
    out: dict[str, float] = {}
    for start, end, variant in slices:
        out[variant] = out.get(variant, 0.0) + (end - start) / FULL
    return out


def _coalesce(pieces: list[Slice]) -> list[Slice]:
    out: list[Slice] = []
    for start, end, variant in sorted(pieces):
        if end <= start:
            continue
        if out and out[-1][2] == variant and out[-1][1] == start:
            out[-1] = (out[-1][0], end, variant)
        else:
            out.append((start, end, variant))
    return out


def reweight(slices: Sequence[Slice], weights: Sequence[tuple[str, float]]) -> list[Slice]:
    """`slices` handed over so each variant of `weights` (in order; weight > 0) gets its
    share; a variant left out (paused, removed) gives up all of its slices.

    Only the units of variants that lost share move, and only as many as they lost.
    """
    want = targets(weights)
    have: dict[str, int] = {}
    for start, end, variant in slices:
        have[variant] = have.get(variant, 0) + end - start
    kept: list[Slice] = []
    freed: list[tuple[int, int]] = []
    by_variant: dict[str, list[Slice]] = {}
    for s in slices:
        by_variant.setdefault(s[2], []).append(s)
    for variant, mine in by_variant.items():
        surplus = have[variant] - want.get(variant, 0)
        for start, end, _ in sorted(mine, key=lambda s: (s[1] - s[0], s[0])):
            length = end - start
            if surplus <= 0:
                kept.append((start, end, variant))
            elif surplus >= length:
                freed.append((start, end))
                surplus -= length
            else:  # the tail of this slice goes, the head stays
                kept.append((start, end - surplus, variant))
                freed.append((end - surplus, end))
                surplus = 0
    deficits = [(v, want[v] - have.get(v, 0)) for v, _ in weights if want[v] > have.get(v, 0)]
    given: list[Slice] = []
    queue = sorted(freed)
    for variant, need in deficits:
        while need > 0 and queue:
            start, end = queue.pop(0)
            take = min(need, end - start)
            given.append((start, start + take, variant))
            if take < end - start:
                queue.insert(0, (start + take, end))
            need -= take
    return _coalesce(kept + given)


def moved(before: Sequence[Slice], after: Sequence[Slice]) -> float:
    """The share of the range whose variant differs between two slice lists."""
    points = sorted({0, FULL, *(s[0] for s in before), *(s[0] for s in after)})
    differs = 0
    for start, end in pairwise(points):
        if _at(before, start) != _at(after, start):
            differs += end - start
    return differs / FULL


def _at(slices: Sequence[Slice], position: int) -> str | None:
    return next((v for s, e, v in slices if s <= position < e), None)


def total_variation(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Half the L1 distance between two share maps: the least share a change must move."""
    return 0.5 * math.fsum(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in set(a) | set(b))


def parse(raw: object) -> list[Slice] | None:
    """Slices as stored (JSON lists), checked to tile the range; None when they do not."""
    if not isinstance(raw, list) or not raw:
        return None
    out: list[Slice] = []
    expect = 0
    for item in raw:
        if not (isinstance(item, list | tuple) and len(item) == 3):
            return None
        start, end, variant = item
        if not (type(start) is int and type(end) is int and isinstance(variant, str)):
            return None
        if start != expect or end <= start:
            return None
        out.append((start, end, variant))
        expect = end
    return out if expect == FULL else None


def describe(doc: Mapping[str, Any]) -> str | None:
    """`weights a 0.05, b 0.15, c 0.80 (bandit: report of 2026-12-09)` for a bandit's
    effective document (None for a fixed split), as `list` and `explain` show it; then each
    segment value's own (`; mobile: a 0.70, b 0.20, c 0.10`)."""
    if not is_bandit(doc):
        return None
    variants = [v for v in doc.get("variants") or [] if isinstance(v, Mapping)]
    total = sum(float(v.get("weight") or 0) for v in variants if not v.get("paused")) or 1.0
    shown = ", ".join(
        f"{v.get('id')} {float(v.get('weight') or 0) / total:.2f}"
        + (" (paused)" if v.get("paused") else "")
        for v in variants
    )
    epochs = doc.get("bandit_epochs") or []
    since = (
        f"report of {epochs[-1].get('report_date')}" if epochs else "the file's, while exploring"
    )
    serving = [
        (str(v.get("id")), float(v.get("weight") or 0)) for v in variants if not v.get("paused")
    ]
    own = "".join(
        f"; {value}: " + ", ".join(f"{v} {w:.2f}" for v, w in segment_weighted(state, serving))
        for value, state in segment_states(doc).items()
    )
    path = segment_path(doc)
    rest = f"; any other {path}: the weights above" if own else ""
    return f"weights {shown} (bandit: {since}){own}{rest}"
