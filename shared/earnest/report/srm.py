"""Sample-ratio mismatch: the statistics and each experience's (and the program's) check.

Owns whether the arms' units match their configured shares (docs/report.md, "Sample ratio
mismatch"; docs/statistics.md): the always-valid Dirichlet-multinomial test that flags,
Pearson's chi-square beside it (with its own survival function, so the Lambda needs no
scipy), and the checks the report runs once a pause has mixed two configurations.

Standard library only. It must not import pydantic, boto3 or `earnest_aws`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from earnest.decide.reasons import GLOBAL_HOLDOUT
from earnest.report.arms import HOLDOUT_ARM
from earnest.report.lifts import num
from earnest.report.totals import PROGRAM_ARM

_INF = math.inf

SRM_THRESHOLD = 0.001
# The Dirichlet prior's concentration of the sequential SRM test: alpha_i = this x share_i
# (Lindon and Malek 2022; docs/statistics.md, "Sample-ratio mismatch").
SRM_PRIOR_CONCENTRATION = 100.0


@dataclass(frozen=True, slots=True)
class Srm:
    """Sample-ratio-mismatch check against the configured shares.

    Flagged from the always-valid `sequential_p_value`; Pearson's chi-square and its
    single-look p-value are reported beside it.
    """

    chi2: float
    df: int
    p_value: float  # chi-square, valid for one look
    flagged: bool
    expected: tuple[float, ...] = ()  # units each arm should have had at its share
    sequential_p_value: float = 1.0  # valid however many nights look


def srm(units: Sequence[int], shares: Sequence[float], *, threshold: float = SRM_THRESHOLD) -> Srm:
    """The arms' units against their configured shares: sequential test, and chi-square.

    Shares need not sum to 1 (they are normalised), so the caller can pass weights. A
    mismatch means assignment or logging is broken for some visitors (Fabijan et al.
    2019). It is checked every night and a false alarm withholds every verdict of the
    experience, so the flag reads the always-valid p-value (`srm_sequential_p`) at a
    strict threshold: over every night together a healthy experience is flagged with
    probability at most `threshold`.
    """
    if len(units) != len(shares):
        raise ValueError("units and shares need one entry per arm")
    if any(u < 0 for u in units):
        raise ValueError("units cannot be negative")
    if any(not (math.isfinite(s) and s >= 0) for s in shares):
        raise ValueError("shares must be finite and non-negative")
    total_share = math.fsum(shares)
    if units and total_share <= 0:
        raise ValueError("at least one share must be positive")
    total = sum(units)
    expected = tuple(total * s / total_share for s in shares) if units else ()
    # An arm configured to get nothing adds no freedom: under the null it has no units.
    df = max(sum(1 for s in shares if s > 0) - 1, 0)
    if any(u > 0 and e == 0 for u, e in zip(units, expected, strict=True)):
        # Units in an arm configured to get none: assignment is certainly broken.
        return Srm(
            chi2=_INF, df=df, p_value=0.0, flagged=True, expected=expected, sequential_p_value=0.0
        )
    if total == 0 or df < 1:
        return Srm(chi2=0.0, df=df, p_value=1.0, flagged=False, expected=expected)
    chi2 = math.fsum((u - e) ** 2 / e for u, e in zip(units, expected, strict=True) if e > 0)
    seq_p = srm_sequential_p(units, shares)
    return Srm(
        chi2=chi2,
        df=df,
        p_value=chi2_sf(chi2, df),
        flagged=seq_p < threshold,
        expected=expected,
        sequential_p_value=seq_p,
    )


def srm_sequential_p(
    units: Sequence[int], shares: Sequence[float], concentration: float = SRM_PRIOR_CONCENTRATION
) -> float:
    """Always-valid SRM p-value: 1 / the Dirichlet-multinomial Bayes factor against the shares.

    Lindon and Malek (2022), *Anytime-valid inference for multinomial count data*
    (NeurIPS): under the configured shares theta the Bayes factor
    B_n = [G(A) / G(A + n)] prod G(a_i + x_i) / G(a_i) / prod theta_i^x_i, with prior
    a_i = concentration * theta_i and A = sum a_i, is a martingale of mean 1, so by Ville's
    inequality P(some night's 1 / B_n <= alpha) <= alpha, looked at as often as one likes.
    Arms with no share are left out (units in them are flagged by the caller).
    """
    total_share = math.fsum(shares)
    pairs = [(u, s / total_share) for u, s in zip(units, shares, strict=True) if s > 0]
    n = sum(u for u, _ in pairs)
    if n == 0 or len(pairs) < 2:
        return 1.0
    prior = [concentration * theta for _, theta in pairs]
    log_bf = math.lgamma(concentration) - math.lgamma(concentration + n)
    for (u, theta), a in zip(pairs, prior, strict=True):
        log_bf += math.lgamma(a + u) - math.lgamma(a) - u * math.log(theta)
    return math.exp(-log_bf) if log_bf > 0.0 else 1.0


def chi2_sf(x: float, df: int) -> float:
    """P(X >= x) for X ~ chi-square with `df` degrees of freedom.

    The regularized upper incomplete gamma Q(df/2, x/2): a series below a + 1 and a
    Lentz continued fraction above (Numerical Recipes, 6.2), with math.lgamma, so the
    Lambda needs no scipy.
    """
    if df < 1:
        raise ValueError(f"df must be at least 1, got {df}")
    if math.isnan(x):
        raise ValueError("x is NaN")
    if x <= 0.0:
        return 1.0
    if math.isinf(x):
        return 0.0
    return _gamma_q(df / 2.0, x / 2.0)


_EPS = 1e-15

_FPMIN = 1e-300

_MAX_ITERATIONS = 100_000


def _gamma_q(a: float, x: float) -> float:
    if x <= 0.0:  # a subnormal x halves to 0
        return 1.0
    if x < a + 1.0:
        return max(0.0, 1.0 - _gamma_p_series(a, x))
    return _gamma_q_fraction(a, x)


def _log_prefactor(a: float, x: float) -> float:
    return -x + a * math.log(x) - math.lgamma(a)


def _gamma_p_series(a: float, x: float) -> float:
    term = total = 1.0 / a
    ap = a
    for _ in range(_MAX_ITERATIONS):
        ap += 1.0
        term *= x / ap
        total += term
        if abs(term) < abs(total) * _EPS:
            return total * math.exp(_log_prefactor(a, x))
    raise ArithmeticError(f"incomplete gamma series did not converge (a={a}, x={x})")


def _gamma_q_fraction(a: float, x: float) -> float:
    b = x + 1.0 - a
    c = 1.0 / _FPMIN
    d = 1.0 / b
    h = d
    for i in range(1, _MAX_ITERATIONS):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        if abs(d) < _FPMIN:
            d = _FPMIN
        c = b + an / c
        if abs(c) < _FPMIN:
            c = _FPMIN
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return math.exp(_log_prefactor(a, x)) * h
    raise ArithmeticError(f"incomplete gamma fraction did not converge (a={a}, x={x})")


def srm_test(name: str, arms: list[str], units: list[int], shares: list[float]) -> dict[str, Any]:
    result = srm(units, shares)
    total_share = math.fsum(shares) or 1.0
    return {
        "test": name,
        "arms": arms,
        "observed": units,
        "expected_shares": [s / total_share for s in shares],
        "expected": [num(e) for e in result.expected],
        "chi2": num(result.chi2),
        "df": result.df,
        "p_value": result.p_value,
        "sequential_p_value": result.sequential_p_value,
        "flagged": result.flagged,
    }


def srm_check(
    holdout: float,
    holdout_units: int,
    variants: Sequence[tuple[str, int, float, bool]],
    segments: Mapping[str, Sequence[tuple[str, int, float]]] | None = None,
) -> dict[str, Any]:
    """The sample-ratio-mismatch check of one experience (docs/report.md, "SRM").

    `variants`: (arm, units, weight, active). With every arm that has units active, one
    chi-square over holdout and variants against holdout = h, variant = (1 - h) * w / sum of
    active weights. Once a variant with units is paused (or gone from the configuration),
    the window mixes two configurations, so two checks that a pause leaves unchanged:
    holdout against every variant together (h : 1 - h; the holdout hash is independent of
    the variant split), and the split among the active variants (w / sum w).
    `segments`: a segmented bandit's serving variants per segment value (arm, units, the
    weight that value serves): the pooled split then has no one expected share, so the
    holdout against every variant together, and each value's split against its weights.
    """
    active = [(a, u, w) for a, u, w, on in variants if on]
    inactive_units = sum(u for _, u, _, on in variants if not on)
    tests: list[dict[str, Any]] = []
    if not segments and inactive_units == 0:
        weight = math.fsum(w for _, _, w in active) or 1.0
        tests.append(
            srm_test(
                "arms",
                [HOLDOUT_ARM, *(a for a, _, _ in active)],
                [holdout_units, *(u for _, u, _ in active)],
                [holdout, *((1.0 - holdout) * w / weight for _, _, w in active)],
            )
        )
    else:
        tests.append(
            srm_test(
                "holdout_split",
                [HOLDOUT_ARM, "all variants"],
                [holdout_units, sum(u for _, u, _, _ in variants)],
                [holdout, 1.0 - holdout],
            )
        )
        splits = (
            [(f"variant_split {value}", split) for value, split in segments.items()]
            if segments
            else [("variant_split", active)]
        )
        tests += [
            srm_test(
                name,
                [a for a, _, _ in split],
                [u for _, u, _ in split],
                [w for _, _, w in split],
            )
            for name, split in splits
            if len(split) >= 2
        ]
    return {
        "flagged": any(t["flagged"] for t in tests),
        "p_value": min(t["sequential_p_value"] for t in tests),
        "threshold": SRM_THRESHOLD,
        "tests": tests,
    }


def srm_check_program(share: float, held: int, treated: int) -> dict[str, Any]:
    test = srm_test(
        "global_holdout_split", [GLOBAL_HOLDOUT, PROGRAM_ARM], [held, treated], [share, 1.0 - share]
    )
    return {
        "flagged": test["flagged"],
        "p_value": test["sequential_p_value"],
        "threshold": SRM_THRESHOLD,
        "tests": [test],
    }
