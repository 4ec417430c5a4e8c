"""`earnest plan ID`: how many days an experience needs for a verdict, before it is worth it.

Reads the experience from the store, estimates its traffic (units a day) and base rate
(its holdout's conversion rate) from the last `--days` days of its own events, or takes
`--daily-units` / `--base-rate`, and prints `earnest.report.planning.forecast`: days until
every arm has the plan's minimum, and until the plan's `minimum_detectable_effect` would be
found with 80 % power under the report's always-valid test. It says plainly when that is
longer than the review cadence: such an audience is not worth personalizing.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from earnest.decide.slices import MAX_SEGMENT_VALUES
from earnest_cli.arguments import integer, number

DEFAULT_DAYS = 7


DAILY_UNITS = number(0, exclusive=True)
BASE_RATE = number(0, 1, exclusive=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", help="the experience's id")
    parser.add_argument(
        "--daily-units", type=DAILY_UNITS, help="units a day (default: from events)"
    )
    parser.add_argument(
        "--base-rate", type=BASE_RATE, help="the default's conversion rate (default: from events)"
    )
    parser.add_argument(
        "--days",
        type=integer(1, 400, " days"),
        default=DEFAULT_DAYS,
        help="days of recent events read (default 7)",
    )
    parser.add_argument("--json", action="store_true", help="print the forecast as JSON")


Traffic = tuple[float | None, float | None]  # (units a day, holdout conversion rate)


def add_traffic_arguments(parser: argparse.ArgumentParser) -> None:
    """`--daily-units` and `--base-rate`, as `validate` and `push` take them for the warning."""
    parser.add_argument(
        "--daily-units",
        type=DAILY_UNITS,
        help="units a day, for the warning when a verdict takes longer than the review cadence "
        "(default: the experience's own recent events, when it has some)",
    )
    parser.add_argument(
        "--base-rate",
        type=BASE_RATE,
        help="the default's conversion rate for that warning (default: from recent events, "
        "else 5 %%)",
    )


def observed_all(docs: list[dict[str, Any]], days: int) -> dict[str, Traffic]:
    """Each serving experience's (units a day, holdout rate) over its last `days` of events,
    read in one pass over the partitions."""
    from earnest.report.plan import DEFAULT_ATTRIBUTION_DAYS
    from earnest.report.sources import Streamed
    from earnest.report.window import Window
    from earnest_aws.reports_store import ReportsStore
    from earnest_aws.settings import settings

    serving = [d for d in docs if d.get("status") in ("live", "paused")]
    if not serving:
        return {}  # no events of their own yet
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    window = Window(yesterday, days)
    source = Streamed(ReportsStore(settings().events_bucket))
    totals = source.totals(window, serving, set(), DEFAULT_ATTRIBUTION_DAYS)
    out: dict[str, Traffic] = {}
    for exp_id, found in totals.experiences.items():
        units = sum(a.units for a in found.arms.values())
        holdout = found.arms.get(None)
        rate = holdout.conversions / holdout.units if holdout and holdout.units else None
        out[exp_id] = ((units / days if units else None), rate)
    return out


def _observed(doc: dict[str, Any], days: int) -> Traffic:
    """(units a day, holdout conversion rate) from the experience's last `days` of events."""
    return observed_all([doc], days).get(str(doc["id"]), (None, None))


def cadence_warnings(
    docs: list[dict[str, Any]],
    daily_units: float | None,
    base_rate: float | None,
    seen: dict[str, Traffic] | None = None,
) -> list[str]:
    """A warning for each experience whose plan needs longer than its review cadence.

    Traffic comes from `daily_units`, else the experience's recent events (`seen`); with
    neither, a note says it cannot be estimated. The base rate: `base_rate`, else the
    events', else `planning.ASSUMED_BASE_RATE` (said so). A warning, never a refusal.
    """
    from earnest.report.planning import ASSUMED_BASE_RATE, forecast

    out = []
    for doc in docs:
        exp_id = str(doc.get("id") or "?")
        seen_daily, seen_rate = (seen or {}).get(exp_id, (None, None))
        daily = daily_units if daily_units is not None else seen_daily
        if daily is None:
            out.append(
                f"note: {exp_id}: days to a verdict not estimated (no recent traffic of its "
                "own): give --daily-units, or run `earnest plan` once it serves"
            )
            continue
        rate = base_rate if base_rate is not None else seen_rate
        assumed = rate is None
        try:
            said = forecast(doc, daily, ASSUMED_BASE_RATE if rate is None else rate)
        except ValueError as exc:
            out.append(f"note: {exp_id}: days to a verdict not estimated: {exc}")
            continue
        if not said.within_review:
            out.append(f"warning: {exp_id}: {_too_long(doc, said, assumed)}")
    return out


def _too_long(doc: dict[str, Any], said: Any, assumed: bool) -> str:
    plan = doc.get("measurement_plan") or {}
    mde = float(plan.get("minimum_detectable_effect") or 0.0)
    days = f"about {said.days_to_detect} days" if said.days_to_detect else "more than 2 years"
    rate = f"{said.base_rate:.2%}" + (" (assumed; give --base-rate)" if assumed else "")
    return (
        f"finding its plan's {mde:+.0%} takes {days} at {said.daily_units:,.0f} units a day "
        f"and a base rate of {rate}, longer than its review cadence "
        f"({said.review_every_days} days): the audience may be too small or the effect too "
        "modest to be worth personalizing (earnest plan shows the numbers)"
    )


def run(args: argparse.Namespace) -> int:
    from earnest.report.planning import forecast
    from earnest_aws.experiences_store import ExperiencesStore
    from earnest_aws.settings import settings

    stored = ExperiencesStore(settings().experiences_table).get(args.id)
    if stored is None:
        print(f"earnest plan: no experience {args.id!r} in the store", file=sys.stderr)
        return 2
    doc = dict(stored.doc)
    daily, rate = args.daily_units, args.base_rate
    if daily is None or rate is None:
        seen_daily, seen_rate = _observed(doc, args.days)
        daily = seen_daily if daily is None else daily
        rate = seen_rate if rate is None else rate
    if daily is None or rate is None:
        missing = "--daily-units" if daily is None else "--base-rate"
        print(
            f"earnest plan: {args.id} has no usable events in the last {args.days} days; "
            f"give {missing}",
            file=sys.stderr,
        )
        return 2
    try:
        said = forecast(doc, daily, rate)
    except ValueError as exc:
        print(f"earnest plan: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"experience": args.id, **said.as_dict()}, sort_keys=True))
        return 0
    plan = doc.get("measurement_plan") or {}
    print(f"{args.id}: {daily:,.0f} units a day, base rate {rate:.2%}")
    print(f"  plan's minimum ({plan.get('min_units_per_arm')} units per arm): ", end="")
    print(f"{said.days_to_min_units} days" if said.days_to_min_units else "not within 2 years")
    mde = float(plan.get("minimum_detectable_effect") or 0.0)
    found = f"{said.days_to_detect} days" if said.days_to_detect else "not within 2 years"
    print(f"  a true {mde:+.0%} found with {said.power:.0%} power: {found}")
    if not said.within_review:
        print(
            f"  longer than its review cadence ({said.review_every_days} days): not worth "
            "personalizing (the audience is too small or the effect too modest)"
        )
    bandit = bandit_expectation(doc, daily)
    if bandit:
        print(f"  {bandit}")
    segmented = segment_expectation(doc, daily, rate)
    if segmented:
        print(f"  {segmented}")
    return 0


def segment_expectation(doc: dict[str, Any], daily: float, rate: float) -> str | None:
    """What a segmented plan needs (None without segments): each segment value is its own
    comparison with its own minimum per arm, so a value with half the traffic takes the
    days of an experience with half the traffic."""
    from earnest.report.planning import forecast

    paths = (doc.get("measurement_plan") or {}).get("segments") or []
    if not paths:
        return None
    half = forecast(doc, daily / 2, rate)
    minimum = f"{half.days_to_min_units} days" if half.days_to_min_units else "not within 2 years"
    found = f"{half.days_to_detect} days" if half.days_to_detect else "not within 2 years"
    return (
        f"segments {', '.join(paths)}: each value is its own comparison and needs the plan's "
        f"minimum per arm of its own, so the plan needs more traffic: a value with half the "
        f"units reaches its minimum in {minimum} and finds the effect in {found}"
    )


def bandit_expectation(doc: dict[str, Any], daily: float) -> str | None:
    """What a bandit's allocation will do at `daily` units (None for a fixed split)."""
    allocation = doc.get("allocation") or {}
    if allocation.get("mode") != "bandit":
        return None
    serving = [v for v in doc.get("variants") or [] if not v.get("paused")]
    holdout = float(doc.get("holdout") or 0)
    explore = int(allocation.get("exploration_days", 3))
    minimum = int(allocation.get("min_units_per_variant", 100))
    per_variant = daily * (1 - holdout) / max(1, len(serving))
    first = max(explore, math.ceil(minimum / per_variant)) if per_variant > 0 else None
    when = f"from night {first}" if first else "never at this traffic"
    segmented = "".join(
        f"; each value of {path} (at most {MAX_SEGMENT_VALUES}) its own weights once every "
        f"variant has {minimum} units in it"
        for path in allocation.get("segments") or []
    )
    return (
        f"bandit: the file's split for {explore} days, then re-weighted nightly toward the "
        f"variant most likely best ({when}: {minimum} units per variant), no variant below "
        f"{float(allocation.get('weight_floor', 0.01)):.0%}{segmented}; the holdout stays "
        f"{holdout:.0%}"
    )
