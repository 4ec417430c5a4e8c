"""Deterministic bucketing: a unit id and a seed to a number in [0, 1).

MurmurHash3 x86 32-bit via mmh3, as the SPEC fixes it, so the same unit lands in the same
bucket on every machine and every version. Holdout and variant splits use different
seeds derived from the experience id, so they are independent, and no experience's seed
depends on another's, so editing one never reshuffles another's units.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate

import mmh3

SCALE = 1.0 / 4294967296.0  # 2**32
GLOBAL_HOLDOUT_SEED_NAME = "earnest:global-holdout"
_hash = mmh3.hash  # (key, seed, signed): positional, as keywords cost decide's loop a fifth


def seed_for(name: str) -> int:
    """A 32-bit seed from a stable name (e.g. `hiking-hero:holdout`)."""
    return mmh3.hash(name, 0, signed=False)


def bucket(unit: str, seed: int) -> float:
    return _hash(unit, seed, False) * SCALE


def cumulative_shares(weights: Sequence[float]) -> tuple[float, ...]:
    """Upper bounds of each weight's interval in [0, 1]; the last is exactly 1."""
    total = float(sum(weights))
    bounds = [w / total for w in accumulate(weights)]
    bounds[-1] = 1.0
    return tuple(bounds)


def pick(position: float, bounds: Sequence[float]) -> int:
    """The index whose interval holds `position` (from cumulative_shares)."""
    return bisect_right(bounds, position)
