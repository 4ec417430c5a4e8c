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
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from earnest_cli.arguments import integer
from earnest_cli.errors import CommandError

if TYPE_CHECKING:
    from earnest_aws.nightly_report import ReportOptions

MAX_LOOKBACK_DAYS = 400  # as REPORT_LOOKBACK_DAYS allows (earnest_aws.nightly_report)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Run the nightly report for a date (backfill); a re-run overwrites the same "
        "files and applies no guardrail twice. Reads AWS_ENDPOINT_URL (the local stack), "
        "EXPERIENCES_TABLE, CONSENT_TABLE, EVENTS_BUCKET, GLOBAL_HOLDOUT, REPORT_LOOKBACK_DAYS "
        "(default 28), REPORT_PROGRAM_ATTRIBUTION_DAYS, REPORT_PRE_EXPOSURE_DAYS (default 14) "
        "and EVENTS_MAX_AGE_SECONDS / EVENTS_MAX_FUTURE_SECONDS (how late and early events "
        "may be stamped)."
    )
    parser.add_argument(
        "--date", type=_date, help="the day to report, YYYY-MM-DD (default: yesterday, UTC)"
    )
    parser.add_argument(
        "--lookback-days",
        type=integer(1, MAX_LOOKBACK_DAYS, " days"),
        help="days the program (and an experience without a recorded allocation) is analysed "
        "over, ending at --date (default 28); an experience is analysed from its allocation's "
        "start",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="build and print; write nothing, change nothing"
    )
    parser.add_argument("--out", type=Path, help="also write the files into this folder")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args: argparse.Namespace) -> int:
    from earnest.errors import EarnestError
    from earnest_aws.nightly_report import run as run_report
    from earnest_aws.settings import settings

    day = args.date or (datetime.now(UTC) - timedelta(days=1)).date()
    options = _options(args)

    def log(name: str, fields: Any) -> None:
        if not args.json:
            print(f"  {name}: {json.dumps(dict(fields), sort_keys=True, default=str)}")

    try:
        result = run_report(day, settings(), options, log=log)
    except EarnestError as exc:  # the day could not be reported: exit 2, as for configuration
        raise CommandError(exc.message, code=2) from None
    if args.out:
        _keep_copies(args.out, result.files)
    summary = result.summary()
    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True))
        return 0
    print_summary(result.report, summary, dry_run=args.dry_run)
    return 0


def _options(args: argparse.Namespace) -> ReportOptions:
    """The environment's report options, with the command line's on top."""
    from earnest_aws.nightly_report import ReportOptions
    from earnest_aws.settings import ConfigError

    try:
        options = ReportOptions.from_env()
    except ConfigError as exc:
        raise CommandError(str(exc), code=2) from None
    if args.lookback_days is not None:
        options = replace(options, lookback_days=args.lookback_days)
    if args.dry_run:
        options = replace(options, apply_guardrails=False, write=False)
    return options


def _keep_copies(out: Path, files: Mapping[str, tuple[bytes, str]]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, (data, _) in files.items():
        (out / name).write_bytes(data)


def since(analysis: dict[str, Any]) -> str:
    """Where an experience's analysis starts, in words."""
    started = analysis["allocation_started_at"]
    days = f"{analysis['days']:g} days"
    if started is None:
        return f"no allocation recorded: the last {days}"
    if started == analysis["events_from"]:
        return f"allocation since {started}, {days}"
    return f"allocation since {started}; its last {days} (the longest analysed)"


def print_summary(report: dict[str, Any], summary: dict[str, Any], dry_run: bool) -> None:
    window = report["window"]
    print(
        f"report {report['date']}: events stamped before {window['events_before']}, "
        f"partitions {window['start']}..{window['last_partition']}, "
        f"{report['events']['records']:,} records read"
    )
    for exp in report["experiences"]:
        units = " ".join(f"{a['arm']}={a['units']}" for a in exp["arms"])
        verdicts = " ".join(
            f"{v['variant']}:{v['verdict'] or 'no verdict (SRM)'}" for v in exp["variants"]
        )
        print(f"  {exp['id']:<28} {units}  ->  {verdicts}  ({since(exp['analysis'])})")
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
