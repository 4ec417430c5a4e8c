"""`earnest report-url`: a presigned link to the latest report in the private bucket."""

from __future__ import annotations

import argparse

from earnest_cli.arguments import integer

# S3 refuses a presigned URL that lives longer than seven days (SigV4).
MAX_EXPIRES_IN = 7 * 24 * 3600


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Print a presigned URL of reports/latest/index.html in EVENTS_BUCKET (from --stack, or "
        "the environment); anyone holding it can open the report until it expires."
    )
    parser.add_argument(
        "--expires-in",
        type=integer(1, MAX_EXPIRES_IN, " seconds (S3's longest is 7 days)"),
        default=900,
        help=f"seconds, 1 to {MAX_EXPIRES_IN} (default 900)",
    )


def run(args: argparse.Namespace) -> int:
    from earnest_aws.settings import settings
    from earnest_cli.deployed import latest_report_url

    print(latest_report_url(settings().events_bucket, args.expires_in))
    return 0
