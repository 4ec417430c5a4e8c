"""Bucketing you can trust: deterministic, fair, independent, stable under edits."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare

from earnest.decide.bucketing import bucket, cumulative_shares, pick, seed_for

UNITS = [f"unit-{i}" for i in range(100_000)]


def test_matches_the_published_murmurhash3_x86_32_vectors() -> None:
    # Reference vectors of MurmurHash3_x86_32 (SMHasher): ("hello", 0) and ("", 1).
    assert bucket("hello", 0) * 2**32 == 0x248BFA47
    assert bucket("", 1) * 2**32 == 0x514E28B7


def test_the_same_unit_lands_in_the_same_bucket_in_another_process() -> None:
    code = (
        "from earnest.decide.bucketing import bucket, seed_for\n"
        "print([bucket(f'u{i}', seed_for('exp:variant')) for i in range(50)])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str([bucket(f"u{i}", seed_for("exp:variant")) for i in range(50)])


@settings(max_examples=5, deadline=None)
@given(
    weights=st.lists(st.integers(min_value=1, max_value=20), min_size=2, max_size=4),
    name=st.text(alphabet="abcdefghij-", min_size=1, max_size=12),
)
def test_split_shares_match_the_weights_over_100k_units(weights: list[int], name: str) -> None:
    bounds = cumulative_shares(weights)
    seed = seed_for(f"{name}:variant")
    counts = Counter(pick(bucket(u, seed), bounds) for u in UNITS)
    total = sum(weights)
    expected = [len(UNITS) * w / total for w in weights]
    observed = [counts.get(i, 0) for i in range(len(weights))]
    # A fair split fails this only once in 100,000 runs.
    assert chisquare(observed, expected).pvalue > 1e-5


@settings(max_examples=5, deadline=None)
@given(name=st.text(alphabet="abcdefghij-", min_size=1, max_size=12))
def test_holdout_and_variant_assignment_are_independent(name: str) -> None:
    holdout_seed, variant_seed = seed_for(f"{name}:holdout"), seed_for(f"{name}:variant")
    bounds = cumulative_shares([1, 1, 1])
    table: Counter[tuple[bool, int]] = Counter(
        (bucket(u, holdout_seed) < 0.2, pick(bucket(u, variant_seed), bounds)) for u in UNITS
    )
    held = [table[(True, i)] for i in range(3)]
    served = [table[(False, i)] for i in range(3)]
    # Within the holdout, the variant split is the same as outside it.
    share = sum(held) / len(UNITS)
    expected_held = [(h + s) * share for h, s in zip(held, served, strict=True)]
    assert chisquare(held, expected_held, ddof=0).pvalue > 1e-5
    assert 0.19 < share < 0.21


def test_every_position_in_0_1_picks_an_index_and_the_last_bound_is_one() -> None:
    bounds = cumulative_shares([0.1, 0.2, 0.7])
    assert bounds[-1] == 1.0
    assert [pick(x, bounds) for x in (0.0, 0.099, 0.1, 0.29, 0.3001, 0.999999)] == [
        0,
        0,
        1,
        1,
        2,
        2,
    ]
