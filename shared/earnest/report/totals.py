"""What either aggregation path hands the report: per-arm totals, and which conversions count.

Owns the contract between `earnest.report.aggregation` (the Python path), `earnest.report.sql`
(the SQL path) and `earnest.report.build`: `Attribution` (what an experience counts) in,
`Totals` out.

Pure: stdlib only. It must not import boto3, pydantic or `earnest_aws`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from earnest.experiences import defaults
from earnest.report.cuped import Covariate
from earnest.report.metrics import CONVERSION_RATE, Sums, written_out

PROGRAM_ARM = "program"


# An arm: a variant id, or None for the experience's holdout (events carry variant=null).
ArmKey = str | None


# Conversion metrics that count every conversion, whatever its name; any other
# primary_metric is a conversion name (docs/experiences.md).
ANY_CONVERSION = frozenset({"conversion", "revenue"})
# The largest conversion value the report counts (docs/report.md, "Malformed"). Anyone can
# post conversions: a bound keeps every sum, and its square, finite, so no stored record
# can stop the report (two values of 1e308 would overflow math.fsum). Both paths read it.
MAX_VALUE = 1e9
# The default percentile a unit's revenue is capped at (docs/statistics.md, "Revenue that
# survives outliers"): the plan's `revenue_cap_percentile` chooses another.
DEFAULT_CAP_PERCENTILE = defaults.DEFAULT_CAP_PERCENTILE


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
    segments: tuple[str, ...] = ()  # its recorded segment paths: each splits the totals

    @classmethod
    def for_metric(
        cls,
        primary_metric: str,
        days: int,
        guardrail_events: tuple[str, ...] = (),
        cap_percentile: float = DEFAULT_CAP_PERCENTILE,
        segments: tuple[str, ...] = (),
    ) -> Attribution:
        event = None if primary_metric in ANY_CONVERSION else primary_metric
        return cls(days, event, guardrail_events, cap_percentile, segments)


@dataclass(frozen=True, slots=True, init=False)
class ArmTotals:
    """One arm's totals: its units and exposures, and per declared metric the sums of the
    units' values (`earnest.report.metrics`), CUPED's covariate, the guardrail events.

    `ArmTotals(units, exposures, conversions, revenue, ...)` writes the built-in metrics'
    sums out by hand (`metrics.written_out`); the aggregations pass `sums=`.
    """

    units: int
    exposures: int
    sums: dict[str, Sums]  # metric -> (sum, sum of squares) of the units' values
    units_in_several_arms: int  # exposed to more than one arm; counted in their first
    # CUPED's covariate per metric declared `cuped`: each unit's same value in the
    # `pre_exposure_days` before its first exposure (x) against its value after it (y):
    # sum x, sum x**2, sum x * y. None: no pre-exposure days were read.
    pre_exposure: dict[str, Covariate] | None
    events: dict[str, int]  # guardrail event -> units with it

    def __init__(
        self,
        units: int = 0,
        exposures: int = 0,
        conversions: int = 0,
        revenue: float = 0.0,
        revenue_sq: float = 0.0,
        units_in_several_arms: int = 0,
        revenue_capped: float | None = None,
        revenue_capped_sq: float | None = None,
        pre_exposure: dict[str, Covariate] | None = None,
        events: dict[str, int] | None = None,
        *,
        sums: dict[str, Sums] | None = None,
    ) -> None:
        if sums is None:
            sums = written_out(conversions, revenue, revenue_sq, revenue_capped, revenue_capped_sq)
        object.__setattr__(self, "units", units)
        object.__setattr__(self, "exposures", exposures)
        object.__setattr__(self, "sums", sums)
        object.__setattr__(self, "units_in_several_arms", units_in_several_arms)
        object.__setattr__(self, "pre_exposure", pre_exposure)
        object.__setattr__(self, "events", events if events is not None else {})

    @property
    def conversions(self) -> int:
        """Units that converted (at least once) within the window."""
        return int(self.total(CONVERSION_RATE.name))

    def total(self, metric: str) -> float:
        """The sum over units of `metric`'s value."""
        return self.sums.get(metric, (0.0, 0.0))[0]


# path -> segment value -> arm -> totals (earnest.report.segment_totals says how it is split)
SegmentTotals = dict[str, dict[str, dict[ArmKey, ArmTotals]]]


@dataclass(frozen=True, slots=True)
class ExperienceTotals:
    arms: dict[ArmKey, ArmTotals]
    reasons: dict[str, int]  # exposures of this experience by decision reason
    revenue_cap: float | None = None  # what each unit's revenue was capped at
    # Per recorded segment path, the arms' totals within each value: each unit counted in
    # the value of its first exposure (the one that gives its arm), at most MAX_VALUES
    # values a path, the rest pooled as `(other)`. A segment's totals count units and
    # their metrics: `exposures` is 0 and guardrail `events` empty there.
    segments: SegmentTotals = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Totals:
    experiences: dict[str, ExperienceTotals]
    coverage: dict[str, int]  # every exposure read, by decision reason
    program: dict[str, ArmTotals]  # "global_holdout" and "program"
    counters: dict[str, int]
    program_revenue_cap: float | None = None
