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
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

DEFAULT_DAYS = 7


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "plan", help="days an experience needs for a verdict, at its traffic (power planning)"
    )
    parser.add_argument("id", help="the experience's id")
    parser.add_argument("--daily-units", type=float, help="units a day (default: from events)")
    parser.add_argument(
        "--base-rate", type=float, help="the default's conversion rate (default: from events)"
    )
    parser.add_argument(
        "--days", type=int, default=DEFAULT_DAYS, help="days of recent events read (default 7)"
    )
    parser.add_argument("--json", action="store_true", help="print the forecast as JSON")
    parser.set_defaults(func=run)
    return parser


def _observed(doc: dict[str, Any], days: int) -> tuple[float | None, float | None]:
    """(units a day, holdout conversion rate) from the experience's last `days` of events."""
    from earnest.report import build as report_build
    from earnest_aws.report_sources import Streamed
    from earnest_aws.reports_store import ReportsStore
    from earnest_aws.settings import settings

    if doc.get("status") not in ("live", "paused"):
        return None, None  # no events of its own yet
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    window = report_build.Window(yesterday, days)
    source = Streamed(ReportsStore(settings().events_bucket))
    totals = source.totals(
        window, report_build.tracked([doc]), set(), report_build.DEFAULT_ATTRIBUTION_DAYS
    )
    arms = totals.experiences.get(str(doc["id"]))
    if arms is None:
        return None, None
    units = sum(a.units for a in arms.arms.values())
    holdout = arms.arms.get(None)
    rate = holdout.conversions / holdout.units if holdout and holdout.units else None
    return (units / days if units else None), rate


def run(args: argparse.Namespace) -> int:
    from earnest.report.planning import forecast
    from earnest_aws.experiences_store import ExperiencesStore
    from earnest_aws.settings import settings

    if args.days < 1:
        print("earnest plan: --days must be at least 1", file=sys.stderr)
        return 2
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
    return 0
