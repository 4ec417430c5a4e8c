"""The report's aggregation as SQL, for windows larger than one Lambda run can read.

Owns `report_aggregate.sql` (beside this module): the same counting rules as
`earnest.report.aggregation` as one Athena (Trino) query over the Glue events table, `render` to
fill it in for a window, and `totals_from_rows` to turn its result set into the
`Totals` that `earnest.report.build` takes, so either path feeds the same report.
The query also runs unchanged on DuckDB (the tests check it against the Python path).

Pure: stdlib only. It must not import boto3, pydantic or `earnest_aws`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from string import Template
from typing import Any

from earnest.decide.reasons import ARM_REASONS, GLOBAL_HOLDOUT, PERSONALIZED, PROGRAM_REASONS
from earnest.decide.segments import NONE, OTHER
from earnest.report.cuped import Covariate
from earnest.report.metrics import METRICS, cuped_names
from earnest.report.segment_totals import MAX_VALUES
from earnest.report.totals import (
    DEFAULT_CAP_PERCENTILE,
    MAX_VALUE,
    PROGRAM_ARM,
    ArmKey,
    ArmTotals,
    Attribution,
    ExperienceTotals,
    SegmentTotals,
    Totals,
)

SQL_PATH = Path(__file__).parent / "report_aggregate.sql"
DEFAULT_EVENTS_TABLE = "earnest_events"
_EARLIEST, _LATEST = "1970-01-01T00:00:00.000Z", "9999-12-31T00:00:00.000Z"  # no bound
_IDENTIFIER = frozenset('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_."')


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _rows(values: Sequence[str], empty: str) -> str:
    return "VALUES " + ", ".join(values) if values else empty


def render(
    start_dt: str,
    end_dt: str,
    experiences: Mapping[str, Attribution],
    erased: Iterable[str] = (),
    *,
    events_table: str = DEFAULT_EVENTS_TABLE,
    program_attribution_days: int = 7,
    spans: Mapping[str, tuple[str, str]] | None = None,
    program_span: tuple[str, str] = (_EARLIEST, _LATEST),
    pre_exposure_days: int = 0,
) -> str:
    """The query for partitions `start_dt`..`end_dt` (YYYY-MM-DD, inclusive).

    `spans` and `program_span` bound the event times counted, as for
    `earnest.report.aggregation.Aggregator` (`earnest.report.build.spans` and
    `Window.program_span` give them). `pre_exposure_days` (N): the conversions of the N
    days of partitions before `start_dt` are read too, for CUPED's covariate. The erased
    subjects go inline as a VALUES list; past tens of thousands of them, load them into a
    table and put its name in the query instead.
    """
    if not set(events_table) <= _IDENTIFIER:
        raise ValueError(f"not a table name: {events_table!r}")
    if pre_exposure_days < 0:
        raise ValueError("pre_exposure_days cannot be negative")
    bounds = spans or {}
    exp_rows = [
        f"({_quote(name)}, {int(a.days)}, "
        f"{_quote(a.event) if a.event is not None else 'CAST(NULL AS VARCHAR)'}, "
        + ", ".join(
            f"TIMESTAMP '{_timestamp(t)}'"
            for t in bounds.get(name, (program_span[0], program_span[1]))
        )
        + f", CAST({float(a.cap_percentile)!r} AS DOUBLE))"
        for name, a in sorted(experiences.items())
    ]
    event_rows = [
        f"({_quote(name)}, {_quote(event)})"
        for name, a in sorted(experiences.items())
        for event in a.guardrail_events
    ]
    segment_rows = [
        f"({_quote(name)}, {_quote(path)})"
        for name, a in sorted(experiences.items())
        for path in a.segments
    ]
    erased_rows = [f"({_quote(unit)})" for unit in sorted(set(erased))]
    start = date.fromisoformat(_date(start_dt))
    return Template(SQL_PATH.read_text()).substitute(
        events=events_table,
        start_dt=start.isoformat(),
        pre_start_dt=(start - timedelta(days=int(pre_exposure_days))).isoformat(),
        end_dt=_date(end_dt),
        experiences=_rows(
            exp_rows,
            "SELECT CAST(NULL AS VARCHAR), CAST(NULL AS INTEGER), CAST(NULL AS VARCHAR), "
            "CAST(NULL AS TIMESTAMP), CAST(NULL AS TIMESTAMP), CAST(NULL AS DOUBLE) WHERE 1 = 0",
        ),
        guardrail_events=_rows(
            event_rows, "SELECT CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR) WHERE 1 = 0"
        ),
        segment_paths=_rows(
            segment_rows, "SELECT CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR) WHERE 1 = 0"
        ),
        max_segment_values=int(MAX_VALUES),
        segment_none=_quote(NONE),
        segment_other=_quote(OTHER),
        erased=_rows(erased_rows, "SELECT CAST(NULL AS VARCHAR) WHERE 1 = 0"),
        program_attribution_days=int(program_attribution_days),
        program_since=_timestamp(program_span[0]),
        until=_timestamp(program_span[1]),
        program_cap_percentile=f"CAST({DEFAULT_CAP_PERCENTILE!r} AS DOUBLE)",
        pre_exposure_days=int(pre_exposure_days),
        personalized=_quote(PERSONALIZED),
        global_holdout=_quote(GLOBAL_HOLDOUT),
        arm_reasons=", ".join(_quote(r) for r in sorted(ARM_REASONS)),
        program_reasons=", ".join(_quote(r) for r in sorted(PROGRAM_REASONS)),
        program_arm=_quote(PROGRAM_ARM),
        max_value=f"CAST({MAX_VALUE!r} AS DOUBLE)",
        **metric_columns(int(pre_exposure_days)),
    )


def _sum(expression: str) -> str:
    return f"sum(CAST({expression} AS DOUBLE))"


def metric_columns(pre_exposure_days: int) -> dict[str, str]:
    """The query's per-metric parts, from the declarations in earnest.report.metrics.

    Per metric: the sum of its units' values (`Metric.sql`) and of their squares, and for
    one CUPED adjusts, over the same values in the days before exposure (x) against those
    after it (y): sum x, sum x squared, sum x * y.
    """
    sums: list[str] = []
    pre: list[str] = []
    for m in METRICS.values():
        y = m.sql_value()
        sums += [f"{_sum(y)} AS {m.name}_sum", f"{_sum(f'({y}) * ({y})')} AS {m.name}_sum_sq"]
        if m.cuped:
            x = m.sql_value("pre_")
            pre += [
                f"{_sum(x)} AS {m.name}_pre_sum",
                f"{_sum(f'({x}) * ({x})')} AS {m.name}_pre_sum_sq",
                f"{_sum(f'({x}) * ({y})')} AS {m.name}_pre_product",
            ]
    names = [c.rsplit(" AS ", 1)[1] for c in sums]
    pre_names = [c.rsplit(" AS ", 1)[1] for c in pre]
    with_pre = pre_exposure_days > 0
    return {
        "arm_metric_sums": ",\n         ".join(sums + pre),
        "program_metric_sums": ",\n         ".join(sums),
        "arm_metric_columns": ", ".join(
            [f"coalesce(t.{c}, 0.0) AS {c}" for c in names]
            + [
                f"coalesce(t.{c}, 0.0) AS {c}" if with_pre else f"CAST(NULL AS DOUBLE) AS {c}"
                for c in pre_names
            ]
        ),
        "program_metric_columns": ", ".join(
            [f"coalesce(t.{c}, 0.0)" for c in names] + ["NULL"] * len(pre)
        ),
        "no_metric_columns": ", ".join(["NULL"] * (len(names) + len(pre))),
    }


def _timestamp(text: str) -> str:
    """A stored time (YYYY-MM-DDTHH:MM:SS.mmmZ) as a SQL TIMESTAMP literal's text."""
    if len(text) != 24 or not text.endswith("Z") or text[10] != "T" or "'" in text:
        raise ValueError(f"not a stored time: {text!r}")
    return text[:10] + " " + text[11:23]


def _date(text: str) -> str:
    if len(text) != 10 or not text.replace("-", "").isdigit():
        raise ValueError(f"not a date (YYYY-MM-DD): {text!r}")
    return text


def _int(value: Any) -> int:
    return int(value or 0)


def _float(value: Any) -> float:
    number = float(value or 0.0)
    return number if math.isfinite(number) else 0.0


def _optional(value: Any) -> float | None:
    return None if value is None else _float(value)


def _arm_totals(row: Mapping[str, Any]) -> ArmTotals:
    """An `arm` or `program` row, read by column name, as the aggregation's ArmTotals."""
    pre = None
    cuped = cuped_names()
    if any(row[f"{name}_pre_sum"] is not None for name in cuped):
        pre = {
            name: Covariate(
                _float(row[f"{name}_pre_sum"]),
                _float(row[f"{name}_pre_sum_sq"]),
                _float(row[f"{name}_pre_product"]),
            )
            for name in cuped
        }
    return ArmTotals(
        units=_int(row["units"]),
        exposures=_int(row["exposures"]),
        sums={
            name: (_float(row[f"{name}_sum"]), _float(row[f"{name}_sum_sq"])) for name in METRICS
        },
        units_in_several_arms=_int(row["units_in_several_arms"]),
        pre_exposure=pre,
    )


def totals_from_rows(rows: Iterable[Mapping[str, Any]], tracked: Iterable[str] = ()) -> Totals:
    """The query's result set (each row by column name) as aggregation `Totals`, with an
    entry for every `tracked` experience, as the Python path has: one whose exposures all
    fall outside its arms (before its allocation, in the global holdout) has no arm rows,
    yet its exposures by reason are reported."""
    arms: dict[str, dict[ArmKey, ArmTotals]] = {}
    caps: dict[str, float | None] = {}
    events: dict[tuple[str, ArmKey], dict[str, int]] = {}
    segments: dict[str, SegmentTotals] = {}
    reasons: dict[str, dict[str, int]] = {}
    # A group without units has no row: every declared metric's sums are 0.
    program: dict[str, ArmTotals] = {GLOBAL_HOLDOUT: ArmTotals(), PROGRAM_ARM: ArmTotals()}
    program_cap: float | None = None
    coverage: dict[str, int] = {}
    for row in rows:
        section, experience, arm = row["section"], row["experience"], row["arm"]
        if section == "coverage":
            n = _int(row["exposures"])
            reasons.setdefault(str(experience), {})[str(arm)] = n
            coverage[str(arm)] = coverage.get(str(arm), 0) + n
        elif section == "event":
            events.setdefault((str(experience), arm), {})[str(row["name"])] = _int(row["units"])
        elif section == "program":
            program[str(arm)] = _arm_totals(row)
            program_cap = _optional(row["revenue_cap"])
        elif section == "arm":
            arms.setdefault(str(experience), {})[arm] = _arm_totals(row)
            caps[str(experience)] = _optional(row["revenue_cap"])
        elif section == "segment":
            by_value = segments.setdefault(str(experience), {}).setdefault(row["segment_path"], {})
            by_value.setdefault(str(row["segment_value"]), {})[arm] = _arm_totals(row)
        else:
            raise ValueError(f"unknown section {section!r}")
    experiences = {
        name: ExperienceTotals(
            {
                arm: replace(totals, events=dict(sorted(events.get((name, arm), {}).items())))
                for arm, totals in sorted(by_arm.items(), key=lambda kv: kv[0] or "")
            },
            dict(sorted(reasons.get(name, {}).items())),
            caps.get(name),
            _sorted_segments(segments.get(name, {})),
        )
        for name in sorted(set(arms) | set(tracked))
        for by_arm in [arms.get(name, {})]
    }
    return Totals(
        experiences,
        dict(sorted(coverage.items())),
        program,
        {"exposures": sum(coverage.values())},
        program_cap,
    )


def _sorted_segments(found: SegmentTotals) -> SegmentTotals:
    """The Python path's order: paths as read, values by name, arms holdout first."""
    return {
        path: {
            value: dict(sorted(arms.items(), key=lambda kv: kv[0] or ""))
            for value, arms in sorted(by_value.items())
        }
        for path, by_value in found.items()
    }
