"""`earnest`: author, push and inspect experiences; run the local stack and the reports.

Every command but `demo` is here; `earnest_cli.main` adds `demo`, which itself runs these
commands, so neither module imports the other's caller (no import cycle).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from earnest_cli.errors import run, use_local_credentials

PROG = "earnest"


def _version() -> str:
    try:
        return version("earnest")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def cmd_validate(args: argparse.Namespace) -> int:
    from earnest.experiences.validation import validate_all
    from earnest_cli import files
    from earnest_cli.experiences_cmd import warn
    from earnest_cli.plan_cmd import cadence_warnings

    authored = files.load(args.paths)
    warn(authored)
    docs = [doc for _, doc in authored.experiences]
    for line in cadence_warnings(docs, args.daily_units, args.base_rate):  # reads no AWS
        print(line, file=sys.stderr)
    problems = authored.problems + validate_all(authored.experiences, authored.saved_groups)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(
            f"{len(problems)} problem(s) (launch checks); nothing may launch until they are fixed",
            file=sys.stderr,
        )
        return 1
    print(
        f"ok: {len(authored.experiences)} experience(s), "
        f"{len(authored.saved_groups)} saved group(s)"
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from earnest_cli.local_stack import serve_forever

    return serve_forever(args.api_port, args.aws_port, args.verbose, args.log)


def build_parser(extra: Callable[[Any], None] | None = None) -> argparse.ArgumentParser:
    from earnest_cli import (
        consent_cmd,
        deployed,
        experiences_cmd,
        explain_cmd,
        growthbook,
        guardrails_cmd,
        plan_cmd,
        report_cmd,
    )

    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument(
        "--stack",
        metavar="NAME",
        help="a deployed stack (e.g. earnest-prod): table and bucket names from its outputs "
        "(default: the local names, or EXPERIENCES_TABLE, CONSENT_TABLE, EVENTS_BUCKET)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "validate",
        help="check experience files against the launch checks (reads no AWS)",
        description="Check experience files against the launch checks; every problem at once.",
    )
    p.add_argument("paths", nargs="+", help="files or folders of .yaml/.yml/.json")
    plan_cmd.add_traffic_arguments(p)
    p.set_defaults(func=cmd_validate)

    experiences_cmd.add_parsers(sub)
    explain_cmd.add_parser(sub)
    growthbook.add_parser(sub)

    p = sub.add_parser(
        "serve",
        help="the local stack: moto's server and the HTTP routes on 127.0.0.1",
        description="The local stack on 127.0.0.1: moto's server and the HTTP routes; prints "
        "the AWS_ENDPOINT_URL to export for the CLI and boto3.",
    )
    p.add_argument("--api-port", type=int, default=8787, help="HTTP routes (default 8787)")
    p.add_argument("--aws-port", type=int, default=5000, help="moto's server (default 5000)")
    p.add_argument(
        "--log",
        type=Path,
        default=Path(".earnest/serve.log"),
        help="where the functions' logs and metrics go (default .earnest/serve.log)",
    )
    p.add_argument("--verbose", action="store_true", help="show the functions' logs instead")
    p.set_defaults(func=cmd_serve)

    for module in (report_cmd, consent_cmd, plan_cmd, deployed, guardrails_cmd):
        module.add_parser(sub)
    if extra is not None:
        extra(sub)
    return parser


def dispatch(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parse and run one command under the one error handler."""
    args = parser.parse_args(argv)
    use_local_credentials()

    def command() -> int:
        if args.stack:
            from earnest_cli.deployed import use_stack

            use_stack(args.stack)
        return int(args.func(args))

    code: int = run(f"{PROG} {args.command}", command)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    return dispatch(build_parser(), argv)
