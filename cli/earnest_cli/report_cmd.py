"""`earnest report --date YYYY-MM-DD`: the nightly report for any date (backfill).

Runs exactly what the scheduled function runs (earnest_aws.nightly_report) against the
AWS that boto3 reaches (AWS_ENDPOINT_URL for the local stack): reads the events, writes
reports/dt=DATE/ (and latest/ when DATE is the newest), applies the guardrails. A re-run
of a date overwrites the same files and changes nothing twice. `--dry-run` writes and
changes nothing; `--out DIR` also keeps a local copy of the files.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "report",
        help="run the nightly report for a date (backfill); idempotent",
        description="Run the nightly report for a date (backfill); a re-run overwrites the same "
        "files and applies no guardrail twice. Reads AWS_ENDPOINT_URL (the local stack), "
        "EXPERIENCES_TABLE, CONSENT_TABLE, EVENTS_BUCKET, GLOBAL_HOLDOUT, REPORT_LOOKBACK_DAYS "
        "(default 28), REPORT_PROGRAM_ATTRIBUTION_DAYS and REPORT_PRE_EXPOSURE_DAYS (default 14).",
    )
    parser.add_argument(
        "--date", type=_date, help="the day to report, YYYY-MM-DD (default: yesterday, UTC)"
    )
    parser.add_argument(
        "--lookback-days", type=int, help="days of partitions read, ending at --date (default 28)"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="build and print; write nothing, change nothing"
    )
    parser.add_argument("--out", type=Path, help="also write the files into this folder")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from earnest.errors import EarnestError
    from earnest_aws.nightly_report import ReportOptions
    from earnest_aws.nightly_report import run as run_report
    from earnest_aws.settings import ConfigError, settings

    day = args.date or (datetime.now(UTC) - timedelta(days=1)).date()
    try:
        options = ReportOptions.from_env()
    except ConfigError as exc:
        print(f"earnest report: {exc}", file=sys.stderr)
        return 2
    if args.lookback_days is not None:
        if args.lookback_days < 1:
            print("earnest report: --lookback-days must be at least 1", file=sys.stderr)
            return 2
        options = replace(options, lookback_days=args.lookback_days)
    if args.dry_run:
        options = replace(options, apply_guardrails=False, write=False)

    def log(name: str, fields: Any) -> None:
        if not args.json:
            print(f"  {name}: {json.dumps(dict(fields), sort_keys=True, default=str)}")

    try:
        result = run_report(day, settings(), options, log=log)
    except EarnestError as exc:
        print(f"earnest report: {exc.message}", file=sys.stderr)
        return 2
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        for name, (data, _) in result.files.items():
            (args.out / name).write_bytes(data)
    summary = result.summary()
    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True))
        return 0
    print_summary(result.report, summary, dry_run=args.dry_run)
    return 0


def print_summary(report: dict[str, Any], summary: dict[str, Any], dry_run: bool) -> None:
    window = report["window"]
    print(
        f"report {report['date']}: partitions {window['start']}..{window['end']}, "
        f"{report['events']['records']:,} records read"
    )
    for exp in report["experiences"]:
        units = " ".join(f"{a['arm']}={a['units']}" for a in exp["arms"])
        verdicts = " ".join(
            f"{v['variant']}:{v['verdict'] or 'no verdict (SRM)'}" for v in exp["variants"]
        )
        print(f"  {exp['id']:<28} {units}  ->  {verdicts}")
    for alert in report["alerts"]:
        print(f"  ALERT {alert['message']}")
    for action in report["guardrails"]:
        target = action["experience"] + (f"/{action['variant']}" if action["variant"] else "")
        print(f"  {action['action']:<17} {target}: {action['reason']}")
    if dry_run:
        print("dry run: nothing written, no guardrail applied")
        return
    if summary["applied"]:
        print(f"guardrails applied to: {', '.join(summary['applied'])}")
    if summary["already_applied"]:
        print(f"already applied (re-run): {', '.join(summary['already_applied'])}")
    for key in summary["keys"]:
        print(f"wrote s3://…/{key}")
