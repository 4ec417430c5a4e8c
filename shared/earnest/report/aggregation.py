"""Streaming aggregation of stored events into per-arm totals for the nightly report.

Owns how the report reads events (docs/report.md, "Counting"): records arrive one stored
object after another, partition by partition; duplicates are dropped by `event_id` per unit,
erased subjects and malformed records are skipped; each unit is assigned to the arm of
its first exposure to an experience (holdout or a variant); a conversion counts for that
arm only if it happened at or after that exposure and within the plan's attribution
window (and in the segment values that exposure recorded, `report.segment_totals`); every
exposure is counted by its decision reason (coverage); and the whole program's units are
split into the global holdout and everyone else.

State is per unit, never per event: the first exposure of each (experience, unit), each
unit's first program exposure and each converting unit's conversions. The one exception
is a short horizon of exposure ids (the current and previous day's partitions) that
drops a retried exposure from the `exposures` column (docs/report.md, "Duplicates").

Pure: stdlib and orjson only. It must not import boto3, pydantic or `earnest_aws`.
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from earnest.decide.reasons import ARM_REASONS, GLOBAL_HOLDOUT, PERSONALIZED, PROGRAM_REASONS
from earnest.events.batch import CONVERSION, EXPOSURE
from earnest.report.cuped import Covariate
from earnest.report.metrics import METRICS, Outcome, cuped_names
from earnest.report.segment_totals import FirstSegments
from earnest.report.totals import (
    DEFAULT_CAP_PERCENTILE,
    MAX_VALUE,
    PROGRAM_ARM,
    ArmKey,
    ArmTotals,
    Attribution,
    ExperienceTotals,
    Totals,
)
from earnest.timefmt import format_ms

# The program's units (PROGRAM_REASONS): the global holdout against everyone the program
# treats (an experience's own holdout is part of the program: it is what the program chose
# to do); an experience's own arms (ARM_REASONS): its variants and its holdout.
DAY_MS = 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def to_ms(text: str) -> int:
    """An ISO 8601 time with a zone as epoch milliseconds."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"time without a zone: {text!r}")
    return (moment - _EPOCH) // _MS


def _canonical_time(text: Any) -> str | None:
    """The stored time format, so times compare as strings; None when unreadable."""
    if not isinstance(text, str):
        return None
    if len(text) == 24 and text[23] == "Z" and text[10] == "T" and text[19] == ".":
        return text
    try:
        return format_ms(to_ms(text.replace("z", "Z")))
    except (ValueError, OverflowError):
        return None


def _arm_order(arm: ArmKey) -> str:
    # Ties on time break by arm name, holdout first: the same rule as the SQL's ORDER BY.
    return arm or ""


def revenue_cap(revenues: Iterable[float], percentile: float) -> float | None:
    """The cap of an analysis: the `percentile` of the units' positive revenues, pooled.

    Nearest rank (the smallest value at least `percentile` of them do not exceed), so the
    SQL path computes the same number exactly; zeros are left out, as Statsig does and
    GrowthBook's "ignore zeros" does, or a 5 % conversion rate would cap at 0. None when
    no unit has revenue.
    """
    positive = sorted(r for r in revenues if r > 0.0)
    if not positive:
        return None
    # 0.99 * 100 is 99.00000000000001: the epsilon keeps that rank 99. Clamped, so a stored
    # plan that skipped validation cannot stop the report.
    rank = min(len(positive), max(1, math.ceil(percentile * len(positive) - 1e-9)))
    return positive[rank - 1]


# A unit's outcome: (revenue after exposure, revenue before it, converted after, before).
_Outcome = tuple[float, float, bool, bool]


@dataclass
class _Sums:
    units: int = 0
    several: int = 0
    outcomes: list[_Outcome] = field(default_factory=list)  # units with any conversion
    events: dict[str, int] = field(default_factory=dict)

    def add(
        self,
        first_ms: int,
        conversions: list[tuple[int, float, str, str]] | None,
        attribution: Attribution,
        several: bool,
        pre_days: int = 0,
    ) -> None:
        self.units += 1
        if several:
            self.several += 1
        if not conversions:
            return
        end = first_ms + attribution.days * DAY_MS
        start = first_ms - pre_days * DAY_MS
        wanted, guarded = attribution.event, attribution.guardrail_events
        after: list[float] = []
        before: list[float] = []
        named: set[str] = set()
        for at, value, name, _ in conversions:
            if not start <= at <= end:
                continue
            if wanted is None or name == wanted:
                (after if at >= first_ms else before).append(value)
            if guarded and at >= first_ms and name in guarded:
                named.add(name)
        if after or before:
            # fsum: exact, so the sums do not depend on the order objects were read in.
            self.outcomes.append((math.fsum(after), math.fsum(before), bool(after), bool(before)))
        for name in named:
            self.events[name] = self.events.get(name, 0) + 1

    def revenues(self) -> list[float]:
        return [y for y, _, converted, _ in self.outcomes if converted]

    def totals(self, exposures: int, cap: float | None, pre_exposure: bool) -> ArmTotals:
        """Per declared metric, the sums of the units' values (and CUPED's covariate sums)."""
        after = [_outcome(converted, y, cap) for y, _, converted, _ in self.outcomes]
        values = {m.name: [m.value(o) for o in after] for m in METRICS.values()}
        covariates: dict[str, Covariate] | None = None
        if pre_exposure:
            before = [_outcome(was, x, cap) for _, x, _, was in self.outcomes]
            covariates = {}
            for name in cuped_names():
                xs, ys = [METRICS[name].value(o) for o in before], values[name]
                covariates[name] = Covariate(
                    math.fsum(xs),
                    math.fsum(x * x for x in xs),
                    math.fsum(x * y for x, y in zip(xs, ys, strict=True)),
                )
        return ArmTotals(
            units=self.units,
            exposures=exposures,
            # fsum: exact, so the sums do not depend on the order objects were read in.
            sums={name: (math.fsum(v), math.fsum(x * x for x in v)) for name, v in values.items()},
            units_in_several_arms=self.several,
            pre_exposure=covariates,
            events=dict(sorted(self.events.items())),
        )


def _outcome(converted: bool, revenue: float, cap: float | None) -> Outcome:
    return Outcome(converted, revenue, revenue if cap is None else min(revenue, cap))


def _arm_totals(
    sums: Mapping[ArmKey, _Sums],
    exposures: Mapping[ArmKey, int],
    percentile: float,
    pre_exposure: bool,
) -> tuple[dict[ArmKey, ArmTotals], float | None]:
    """Every arm's totals, with revenue capped at the arms' pooled percentile."""
    cap = revenue_cap((r for s in sums.values() for r in s.revenues()), percentile)
    arms = {
        arm: s.totals(exposures.get(arm, 0), cap, pre_exposure)
        for arm, s in sorted(sums.items(), key=lambda kv: _arm_order(kv[0]))
    }
    return arms, cap


class Aggregator:
    """Feed it records (or whole stored objects), partition by partition; then `totals()`.

    `experiences` maps each experience to report to the conversions that count for it;
    exposures of other experiences count only for coverage and the program. `erased` are
    unit ids whose events are skipped. Call `partition(dt)` when the reader moves to a new
    day's partitions (oldest first), so the exposure-id horizon can move on.

    Event time, not arrival, decides what counts (docs/report.md, "Which events"): `spans`
    maps an experience to the event times (start inclusive, end exclusive, stored format)
    whose exposures count for its arms (its current allocation); `program_span` bounds the
    exposures of coverage and the program, and its end every conversion. None: no bound.
    `pre_exposure_days` (N): each unit's conversions in the N days before its first
    exposure are CUPED's covariate. Feed the N days of partitions before the analysed ones
    first, each announced with `partition(dt, pre_exposure=True)`: only their conversions
    are kept (their exposures belong to no analysis and are counted as
    `exposures_before_window`).
    """

    def __init__(
        self,
        experiences: Mapping[str, Attribution],
        *,
        erased: Collection[str] = frozenset(),
        program_attribution_days: int = 7,
        spans: Mapping[str, tuple[str, str]] | None = None,
        program_span: tuple[str, str] | None = None,
        pre_exposure_days: int = 0,
    ) -> None:
        if pre_exposure_days < 0:
            raise ValueError("pre_exposure_days cannot be negative")
        self._attribution = dict(experiences)
        self._spans = dict(spans or {})
        self._program_span = program_span or ("", "\uffff")
        self._until_ms = to_ms(program_span[1]) if program_span else None
        self._pre_days = pre_exposure_days
        self._pre_partition = False
        self._erased = frozenset(erased)
        self._program_days = program_attribution_days
        # experience -> unit -> (first exposure time, arm, exposed to several arms)
        self._units: dict[str, dict[str, tuple[str, ArmKey, bool]]] = {
            e: {} for e in self._attribution
        }
        self._segments = FirstSegments(self._attribution)  # by segment, where recorded
        self._exposures: dict[tuple[str, ArmKey], int] = {}
        self._reasons: dict[tuple[str, str], int] = {}
        # unit -> (first program exposure time, in the global holdout, several groups)
        self._program: dict[str, tuple[str, bool, bool]] = {}
        self._program_exposures = {GLOBAL_HOLDOUT: 0, PROGRAM_ARM: 0}
        # unit -> [(time ms, value, name, event id)], deduplicated by event id
        self._conversions: dict[str, list[tuple[int, float, str, str]]] = {}
        # One string object per unit id and per variant or conversion name, however many
        # records and maps name it (each parsed record brings its own copy): memory per unit.
        self._strings: dict[str, str] = {}
        self._seen: set[int] = set()
        self._seen_before: set[int] = set()
        self._day: str | None = None
        self.counters = {
            "records": 0,
            "exposures": 0,
            "conversions": 0,
            "duplicates_dropped": 0,
            "erased_dropped": 0,
            "malformed_dropped": 0,
            "after_day_dropped": 0,  # stamped after the reported day
            "exposures_before_window": 0,
        }

    # ---------------------------------------------------------------- input

    def partition(self, dt: str, *, pre_exposure: bool = False) -> None:
        """The reader moved to day `dt` (YYYY-MM-DD, ascending): age the exposure ids.

        `pre_exposure`: a day before the analysed ones, read for CUPED's covariate only.
        """
        self._pre_partition = pre_exposure
        if dt == self._day:
            return
        self._seen_before = self._seen
        self._seen = set()
        self._day = dt

    def feed_object(self, data: bytes) -> None:
        """One stored object: gzip NDJSON, one record a line."""
        self.feed_ndjson(gzip.decompress(data))

    def feed_ndjson(self, data: bytes) -> None:
        loads = orjson.loads
        add = self.add
        for line in data.splitlines():
            if not line.strip():
                continue
            try:
                record = loads(line)
            except orjson.JSONDecodeError:
                self.counters["records"] += 1
                self.counters["malformed_dropped"] += 1
                continue
            add(record)

    def feed(self, records: Iterable[Mapping[str, Any]]) -> None:
        for record in records:
            self.add(record)

    def add(self, record: Any) -> None:
        counters = self.counters
        counters["records"] += 1
        if not isinstance(record, dict):
            counters["malformed_dropped"] += 1
            return
        kind = record.get("type")
        unit = record.get("unit_id")
        event_id = record.get("event_id")
        if not isinstance(unit, str) or not unit or not isinstance(event_id, str):
            counters["malformed_dropped"] += 1
        elif unit in self._erased:
            counters["erased_dropped"] += 1
        elif kind == EXPOSURE:
            if self._pre_partition:
                counters["exposures_before_window"] += 1
                return
            self._exposure(record, unit, event_id)
        elif kind == CONVERSION:
            self._conversion(record, unit, event_id)
        else:
            counters["malformed_dropped"] += 1

    def _exposure(self, record: dict[str, Any], unit: str, event_id: str) -> None:
        experience = record.get("experience")
        reason = record.get("reason")
        at = _canonical_time(record.get("event_time"))
        variant = record.get("variant") if reason == PERSONALIZED else None
        if (
            not isinstance(experience, str)
            or not isinstance(reason, str)
            or at is None
            or (reason == PERSONALIZED and not isinstance(variant, str))
        ):
            self.counters["malformed_dropped"] += 1
            return
        since, until = self._program_span
        if at >= until:
            self.counters["after_day_dropped"] += 1
            return
        # Per unit: one unit's events never remove another's. A copy keeps the horizon
        # going (it is dropped while the copy before it is this day's or the day before's),
        # as the SQL's rule is.
        key = hash((unit, event_id))
        duplicate = key in self._seen or key in self._seen_before
        self._seen.add(key)
        if duplicate:
            self.counters["duplicates_dropped"] += 1
            return
        self.counters["exposures"] += 1
        if since <= at:
            self._program_exposure(experience, reason, unit, at)
        units = self._units.get(experience)
        if units is not None and reason in ARM_REASONS:
            span = self._spans.get(experience)
            if span is None or span[0] <= at < span[1]:
                before = units.get(unit)
                self._arm_exposure(units, experience, variant, unit, at)
                self._segments.exposure(
                    experience, unit, before, at, variant, record.get("segments")
                )

    def _shared(self, text: str) -> str:
        return self._strings.setdefault(text, text)

    def _program_exposure(self, experience: str, reason: str, unit: str, at: str) -> None:
        rkey = (experience, reason)
        self._reasons[rkey] = self._reasons.get(rkey, 0) + 1
        if reason not in PROGRAM_REASONS:
            return
        in_global = reason == GLOBAL_HOLDOUT
        group = GLOBAL_HOLDOUT if in_global else PROGRAM_ARM
        self._program_exposures[group] += 1
        seen = self._program.get(unit)
        if seen is None:
            self._program[self._shared(unit)] = (at, in_global, False)
        else:
            # First exposure wins; on a tie in time the global holdout comes first.
            several = seen[2] or seen[1] != in_global
            if (at, not in_global) < (seen[0], not seen[1]):
                self._program[unit] = (at, in_global, several)
            elif several != seen[2]:
                self._program[unit] = (seen[0], seen[1], several)

    def _arm_exposure(
        self,
        units: dict[str, tuple[str, ArmKey, bool]],
        experience: str,
        variant: ArmKey,
        unit: str,
        at: str,
    ) -> None:
        akey = (experience, variant)
        self._exposures[akey] = self._exposures.get(akey, 0) + 1
        current = units.get(unit)
        if current is None:
            arm = None if variant is None else self._shared(variant)
            units[self._shared(unit)] = (at, arm, False)
        elif current[1] != variant or at < current[0]:
            earlier = (at, _arm_order(variant)) < (current[0], _arm_order(current[1]))
            several = current[2] or current[1] != variant
            units[unit] = (at, variant, several) if earlier else (current[0], current[1], several)

    def _conversion(self, record: dict[str, Any], unit: str, event_id: str) -> None:
        raw_time = record.get("event_time")
        value = record.get("value")
        name = record.get("name")
        try:
            at = to_ms(raw_time.replace("z", "Z")) if isinstance(raw_time, str) else None
        except (ValueError, OverflowError):
            at = None
        if value is None:
            value = 0.0
        if (
            at is None
            or not isinstance(value, int | float)
            or isinstance(value, bool)
            or not 0 <= value <= MAX_VALUE  # also refuses NaN and infinity
        ):
            self.counters["malformed_dropped"] += 1
            return
        if self._until_ms is not None and at >= self._until_ms:  # after the reported day
            self.counters["after_day_dropped"] += 1
            return
        mine = self._conversions.get(unit)
        if mine is None:
            self._conversions[self._shared(unit)] = [
                (at, float(value), self._shared(str(name or "")), event_id)
            ]
        elif any(c[3] == event_id for c in mine):
            self.counters["duplicates_dropped"] += 1
            return
        else:
            mine.append((at, float(value), self._shared(str(name or "")), event_id))
        self.counters["conversions"] += 1

    # ---------------------------------------------------------------- output

    def totals(self) -> Totals:
        experiences = {
            experience: self._experience_totals(experience, units)
            for experience, units in sorted(self._units.items())
        }
        coverage: dict[str, int] = {}
        for (_, reason), n in sorted(self._reasons.items()):
            coverage[reason] = coverage.get(reason, 0) + n

        conversions = self._conversions
        everyone = Attribution(self._program_days)
        groups: dict[ArmKey, _Sums] = {GLOBAL_HOLDOUT: _Sums(), PROGRAM_ARM: _Sums()}
        for unit, (first, in_global, several) in self._program.items():
            mine = conversions.get(unit)
            groups[GLOBAL_HOLDOUT if in_global else PROGRAM_ARM].add(
                to_ms(first) if mine else 0, mine, everyone, several
            )
        exposures: dict[ArmKey, int] = {g: n for g, n in self._program_exposures.items()}
        program, cap = _arm_totals(groups, exposures, DEFAULT_CAP_PERCENTILE, pre_exposure=False)
        return Totals(
            experiences,
            dict(sorted(coverage.items())),
            {g: program[g] for g in (GLOBAL_HOLDOUT, PROGRAM_ARM)},
            dict(self.counters),
            cap,
        )

    def _experience_totals(
        self, experience: str, units: Mapping[str, tuple[str, ArmKey, bool]]
    ) -> ExperienceTotals:
        attribution = self._attribution[experience]
        sums = self._unit_sums(attribution, units.items())
        exposures: dict[ArmKey, int] = {}
        for (exp, arm), n in self._exposures.items():
            if exp == experience:
                exposures[arm] = n
                sums.setdefault(arm, _Sums())  # exposed, but every unit counted elsewhere
        arms, cap = _arm_totals(
            sums, exposures, attribution.cap_percentile, pre_exposure=self._pre_days > 0
        )
        reasons = {
            reason: n for (exp, reason), n in sorted(self._reasons.items()) if exp == experience
        }
        pre = self._pre_days > 0

        def tally(members: list[str]) -> dict[ArmKey, ArmTotals]:
            within = self._unit_sums(attribution, ((u, units[u]) for u in members))
            ordered = sorted(within.items(), key=lambda kv: _arm_order(kv[0]))
            return {arm: replace(s.totals(0, cap, pre), events={}) for arm, s in ordered}

        return ExperienceTotals(arms, reasons, cap, self._segments.totals(experience, tally))

    def _unit_sums(
        self, attribution: Attribution, units: Iterable[tuple[str, tuple[str, ArmKey, bool]]]
    ) -> dict[ArmKey, _Sums]:
        """Each arm's sums over `units` (unit, (first exposure, arm, several arms))."""
        conversions = self._conversions
        sums: dict[ArmKey, _Sums] = {}
        for unit, (first, arm, several) in units:
            arm_sums = sums.get(arm)
            if arm_sums is None:
                arm_sums = sums[arm] = _Sums()
            mine = conversions.get(unit)
            arm_sums.add(to_ms(first) if mine else 0, mine, attribution, several, self._pre_days)
        return sums
