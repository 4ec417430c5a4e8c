"""What either aggregation path hands the report: per-arm totals, and which conversions count.

Owns the contract between `earnest.report.aggregation` (the Python path), `earnest.report.sql`
(the SQL path) and `earnest.report.build`: `Attribution` (what an experience counts) in,
`Totals` out.

Pure: stdlib only. It must not import boto3, pydantic or `earnest_aws`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PROGRAM_ARM = "program"


# An arm: a variant id, or None for the experience's holdout (events carry variant=null).
ArmKey = str | None


# Conversion metrics that count every conversion, whatever its name; any other
# primary_metric is a conversion name (docs/experiences.md).
ANY_CONVERSION = frozenset({"conversion", "revenue"})
# The default percentile a unit's revenue is capped at (docs/statistics.md, "Revenue that
# survives outliers"): the plan's `revenue_cap_percentile` chooses another.
DEFAULT_CAP_PERCENTILE = 0.99


@dataclass(frozen=True, slots=True)
class Attribution:
    """Which conversions count for an experience, and for how long after first exposure.

    Also what else is measured per arm: the named events of the plan's guardrail metrics
    (units with one within the same window) and the percentile revenue is capped at.
    """

    days: int
    event: str | None = None  # a conversion name; None: every conversion counts
    guardrail_events: tuple[str, ...] = ()
    cap_percentile: float = DEFAULT_CAP_PERCENTILE

    @classmethod
    def for_metric(
        cls,
        primary_metric: str,
        days: int,
        guardrail_events: tuple[str, ...] = (),
        cap_percentile: float = DEFAULT_CAP_PERCENTILE,
    ) -> Attribution:
        event = None if primary_metric in ANY_CONVERSION else primary_metric
        return cls(days, event, guardrail_events, cap_percentile)


@dataclass(frozen=True, slots=True)
class PreExposure:
    """CUPED's covariate per arm: each unit's same metric in the days before its first exposure.

    x is the unit's converted (0/1) or revenue (capped at the analysis's cap) in the
    `pre_exposure_days` before its first exposure; y the same after it (docs/statistics.md,
    "CUPED"). Binary x has sum of squares = sum, so conversions need two sums.
    """

    conversions: int = 0  # units that converted before exposure: sum x (= sum x**2)
    conversions_both: int = 0  # ... and after it too: sum x * y
    revenue: float = 0.0  # sum x, capped
    revenue_sq: float = 0.0  # sum x**2
    revenue_product: float = 0.0  # sum x * y, both capped


@dataclass(frozen=True, slots=True)
class ArmTotals:
    units: int = 0
    exposures: int = 0
    conversions: int = 0  # units that converted (at least once) within the window
    revenue: float = 0.0  # sum over units of each unit's attributed revenue
    revenue_sq: float = 0.0  # sum over units of (unit revenue) ** 2
    units_in_several_arms: int = 0  # exposed to more than one arm; counted in their first
    # Each unit's revenue capped at the analysis's `revenue_cap`; None: no cap computed.
    revenue_capped: float | None = None
    revenue_capped_sq: float | None = None
    pre_exposure: PreExposure | None = None  # None: no pre-exposure days were read
    events: dict[str, int] = field(default_factory=dict)  # guardrail event -> units with it


@dataclass(frozen=True, slots=True)
class ExperienceTotals:
    arms: dict[ArmKey, ArmTotals]
    reasons: dict[str, int]  # exposures of this experience by decision reason
    revenue_cap: float | None = None  # what each unit's revenue was capped at


@dataclass(frozen=True, slots=True)
class Totals:
    experiences: dict[str, ExperienceTotals]
    coverage: dict[str, int]  # every exposure read, by decision reason
    program: dict[str, ArmTotals]  # "global_holdout" and "program"
    counters: dict[str, int]
    program_revenue_cap: float | None = None
