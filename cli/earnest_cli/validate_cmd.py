"""`earnest validate PATH...`: the launch checks over files and folders, every problem of
every file at once. Reads no AWS."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from earnest_cli import plan_cmd

    parser.description = (
        "Check experience files against the launch checks; every problem at once. Reads no AWS."
    )
    parser.add_argument("paths", nargs="+", help="files or folders of .yaml/.yml/.json")
    plan_cmd.add_traffic_arguments(parser)


def run(args: argparse.Namespace) -> int:
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
