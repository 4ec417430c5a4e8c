"""Experiences as authored (SPEC section 2), as pydantic models.

Used where a whole document is checked or changed: `earnest validate` and `push`, and the
nightly report. decide never imports this module (see docs/architecture.md): what it
serves was validated here before it was stored.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from earnest.decide import segments as segment_paths
from earnest.experiences.defaults import DEFAULT_CAP_PERCENTILE, GUARDRAIL_MARGIN
from earnest.memory import MAX_EXPOSURES, MAX_WINDOW_DAYS

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
# A named person: an email address (checked by shape; no extra dependency for it).
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]


class Status(StrEnum):
    DRAFT = "draft"
    LIVE = "live"
    PAUSED = "paused"
    RETIRED = "retired"


class Purpose(StrEnum):
    PERSONALIZATION = "personalization"
    MEASUREMENT = "measurement"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Variant(_Strict):
    id: Slug
    weight: float = Field(gt=0, allow_inf_nan=False)
    content: Any = None
    paused: bool = False
    paused_reason: str | None = None


class Direction(StrEnum):
    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"


class GuardrailMetric(_Strict):
    """A guardrail metric with its direction and non-inferiority margin (docs/experiences.md)."""

    name: str = Field(min_length=1, description="revenue, conversion or an event name")
    direction: Direction = Direction.HIGHER_IS_BETTER
    margin: float = Field(default=GUARDRAIL_MARGIN, gt=0, lt=1, allow_inf_nan=False)


class MeasurementPlan(_Strict):
    hypothesis: str = Field(min_length=10)
    primary_metric: str = Field(min_length=1, description="conversion, revenue or an event name")
    guardrail_metrics: list[Annotated[str, Field(min_length=1)] | GuardrailMetric] = Field(
        default_factory=list
    )
    minimum_detectable_effect: float = Field(gt=0, lt=10, allow_inf_nan=False)
    min_units_per_arm: int = Field(ge=100)
    attribution_window_days: int = Field(default=7, ge=1, le=90)
    # Each unit's revenue is capped at this percentile of the units' positive revenues,
    # pooled over the arms (docs/statistics.md, "Revenue that survives outliers").
    revenue_cap_percentile: float = Field(
        default=DEFAULT_CAP_PERCENTILE, ge=0.5, le=1, allow_inf_nan=False
    )
    # Request fields the report splits each variant's lift by (docs/experiences.md,
    # "Lift by segment"): each value is its own comparison, against the same value's holdout.
    segments: list[str] = Field(default_factory=list)

    @field_validator("segments")
    @classmethod
    def _segment_paths(cls, paths: list[str]) -> list[str]:
        return checked_segments(paths)

    @field_validator("guardrail_metrics")
    @classmethod
    def _each_metric_once(cls, metrics: list[str | GuardrailMetric]) -> list[str | GuardrailMetric]:
        names = [m if isinstance(m, str) else m.name for m in metrics]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"each guardrail metric once: {', '.join(twice)} named twice")
        return metrics


def checked_segments(paths: list[str]) -> list[str]:
    """`paths` if they can be an experience's segments: each a segment path
    (`earnest.decide.segments.path_error`), each once, at most `MAX_PATHS`."""
    most = segment_paths.MAX_PATHS
    if len(paths) > most:
        raise ValueError(f"at most {most} segments, each its own split of the report")
    for path in paths:
        if error := segment_paths.path_error(path):
            raise ValueError(error)
    twice = sorted({p for p in paths if paths.count(p) > 1})
    if twice:
        raise ValueError(f"each segment once: {', '.join(twice)} named twice")
    return paths


class FrequencyCap(_Strict):
    """At most `max_exposures` exposures of a unit on the last `per_days` UTC days."""

    max_exposures: int = Field(ge=1, le=MAX_EXPOSURES, strict=True)
    per_days: int = Field(ge=1, le=MAX_WINDOW_DAYS, strict=True)


# A bandit's segment paths in this version: one (each value gets its own weights; a cross
# of several would split the traffic into cells too small to learn in).
MAX_ALLOCATION_SEGMENTS = 1


class AllocationMode(StrEnum):
    FIXED = "fixed"
    BANDIT = "bandit"


class Allocation(_Strict):
    """How the variants' weights move (docs/experiences.md, "allocation"): `fixed`, the
    file's, or `bandit`, re-weighted by the nightly run after `exploration_days` once every
    serving variant has `min_units_per_variant` units, never below `weight_floor`. The
    holdout share is the file's either way. `segments`: a bandit's one request field
    (earnest.decide.segments) whose every value gets its own weights."""

    mode: AllocationMode = AllocationMode.FIXED
    exploration_days: int = Field(default=3, ge=1, le=90)
    min_units_per_variant: int = Field(default=100, ge=100, le=10_000_000)
    weight_floor: float = Field(default=0.01, gt=0, le=0.2, allow_inf_nan=False)
    segments: list[str] = Field(default_factory=list, max_length=MAX_ALLOCATION_SEGMENTS)

    @field_validator("segments")
    @classmethod
    def _segment_paths(cls, paths: list[str]) -> list[str]:
        problems = [e for e in map(segment_paths.path_error, paths) if e]
        if problems:
            raise ValueError("; ".join(problems))
        return paths

    @field_validator("segments")
    @classmethod
    def _segments_need_a_bandit(cls, paths: list[str], info: ValidationInfo) -> list[str]:
        if paths and info.data.get("mode") != AllocationMode.BANDIT:
            raise ValueError("segments need mode: bandit (a fixed split has one allocation)")
        return paths


class Experience(_Strict):
    id: Slug
    placement: Slug
    owner: Email
    status: Status
    audience: dict[str, Any] = Field(default_factory=dict)
    requires_consent: list[Purpose] = Field(default_factory=list)
    min_identity_confidence: float | None = Field(default=None, ge=0, le=1)
    variants: list[Variant] = Field(min_length=1)
    default: Any
    holdout: float = Field(gt=0, lt=1)
    measurement_plan: MeasurementPlan
    review_every_days: int = Field(ge=1, le=366)
    last_reviewed: date
    ends_at: datetime | None = None
    priority: int = 0
    # What the unit's memory decides (docs/experiences.md, "Frequency caps and dismissals").
    frequency_cap: FrequencyCap | None = None
    dismiss_for_days: int | None = Field(default=None, ge=1, le=MAX_WINDOW_DAYS, strict=True)
    allocation: Allocation | None = None
    version: int | None = Field(default=None, ge=0)
    seed: str | None = None
    description: str | None = None

    @field_validator("variants")
    @classmethod
    def _unique_variant_ids(cls, variants: list[Variant]) -> list[Variant]:
        ids = [v.id for v in variants]
        if len(set(ids)) != len(ids):
            raise ValueError("variant ids must be unique within an experience")
        return variants

    @field_validator("allocation")
    @classmethod
    def _floor_leaves_room(
        cls, allocation: Allocation | None, info: ValidationInfo
    ) -> Allocation | None:
        variants = info.data.get("variants") or []
        if allocation is not None and allocation.weight_floor * len(variants) >= 1:
            raise ValueError(
                f"weight_floor {allocation.weight_floor} times {len(variants)} variants must be "
                "below 1, so the best variant can still gain weight"
            )
        return allocation

    @field_validator("allocation")
    @classmethod
    def _recorded_segments(
        cls, allocation: Allocation | None, info: ValidationInfo
    ) -> Allocation | None:
        """The plan's segments and a bandit's (issue 21's `allocation.segments`, where this
        version has them) are recorded together: at most `MAX_PATHS` distinct in all."""
        plan = info.data.get("measurement_plan")
        paths = {*(plan.segments if plan else ()), *getattr(allocation, "segments", ())}
        if len(paths) > segment_paths.MAX_PATHS:
            raise ValueError(
                f"measurement_plan.segments and allocation.segments record at most "
                f"{segment_paths.MAX_PATHS} distinct segments in all, not {len(paths)}"
            )
        return allocation

    @field_validator("default")
    @classmethod
    def _default_required(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("the strong default content is required")
        return value

    def review_due(self) -> date:
        from datetime import timedelta

        return self.last_reviewed + timedelta(days=self.review_every_days)


class SavedGroup(_Strict):
    name: Slug
    ids: list[str]
