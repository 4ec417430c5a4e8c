"""`earnest report --date YYYY-MM-DD`: run the nightly report for any date (backfill)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "report", help="run the nightly report for a date (backfill); idempotent"
    )
    parser.add_argument("--date", help="YYYY-MM-DD (default: yesterday, UTC)")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    print("earnest report: not implemented yet", file=sys.stderr)
    return 2
