"""The `earnest` command: its table of commands, the parser, and the one runner.

Each command is a module of `earnest_cli` with `add_arguments(parser)` and `run(args)`,
imported only when that command is the one asked for: `earnest --help` and `--version`
load none of them (tests/unit/cli/test_startup.py counts the modules). The experience
commands register themselves in `earnest_cli.experiences_cmd.add_parsers`; the table points
at them there.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any, NamedTuple

from earnest_cli.arguments import Parser

PROG = "earnest"
EXPERIENCES = "experiences_cmd"  # registers its commands itself (add_parsers)


class Command(NamedTuple):
    name: str
    module: str  # earnest_cli.<module>, imported only when this command runs
    help: str


COMMANDS = (
    Command("validate", "validate_cmd", "check experience files against the launch checks"),
    Command("push", EXPERIENCES, "validate, then write experiences (refused if stale)"),
    Command("pull", EXPERIENCES, "write the stored experiences back as authored files"),
    Command("diff", EXPERIENCES, "what a push would change, field by field (writes nothing)"),
    Command("list", EXPERIENCES, "experiences: status, owner, review due, and per variant why"),
    Command("history", EXPERIENCES, "every change of an experience: actor, time, reason, evidence"),
    Command("rollback", EXPERIENCES, "restore the authored content of a version (pauses stick)"),
    Command("pause", EXPERIENCES, "pause an experience or one variant (ID or ID/VARIANT)"),
    Command("resume", EXPERIENCES, "serve a paused experience or variant again (audited)"),
    Command("revive", EXPERIENCES, "serve a retired experience again once its cause is fixed"),
    Command("review", EXPERIENCES, "record a review today (last_reviewed); revives if overdue"),
    Command("explain", "explain_cmd", "why a visitor gets its decision: every candidate and why"),
    Command("import", "import_cmd", "turn another tool's experiments into experience files"),
    Command("serve", "serve_cmd", "the local stack: moto's server and the HTTP routes"),
    Command("report", "report_cmd", "run the nightly report for a date (backfill); idempotent"),
    Command("consent", "consent_cmd", "inspect stored consent (proof of consent for an auditor)"),
    Command(
        "guardrails", "guardrails_cmd", "the guardrails enforced: where, by which code, which tests"
    ),
    Command(
        "inventory",
        "inventory_cmd",
        "every experience ever pushed and whether it earns its place; --program: the history",
    ),
    Command("plan", "plan_cmd", "days an experience needs for a verdict, at its traffic"),
    Command("report-url", "report_url_cmd", "a presigned link to the latest report (private)"),
    Command("demo", "demo", "the whole loop on an embedded local stack"),
)


def load(command: Command) -> argparse.ArgumentParser:
    """The command's full parser, its module imported now; `func` set to what runs it."""
    module: Any = importlib.import_module(f"earnest_cli.{command.module}")
    if command.module == EXPERIENCES:
        registered = Parser(prog=PROG).add_subparsers()
        module.add_parsers(registered)
        built: argparse.ArgumentParser = registered.choices[command.name]
        return built
    parser = Parser(prog=f"{PROG} {command.name}", description=command.help)
    module.add_arguments(parser)
    parser.set_defaults(func=module.run)
    return parser


class _Commands(argparse._SubParsersAction):  # type: ignore[type-arg]
    """Subcommands whose parsers are built when chosen, not when `earnest` starts."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        found = next((c for c in COMMANDS if c.name == values[0]), None)
        if found is not None:
            self._name_parser_map[found.name] = load(found)
        super().__call__(parser, namespace, values, option_string)


class _Version(argparse.Action):
    """`--version`: the package's version, as pyproject.toml declares it."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        from earnest_cli import __version__

        print(f"{PROG} {__version__}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=PROG,
        description="Author, push and inspect experiences; run the local stack and the reports.",
    )
    parser.add_argument("--version", action=_Version)
    parser.add_argument(
        "--stack",
        metavar="NAME",
        help="a deployed stack (e.g. earnest-prod): table and bucket names from its outputs "
        "(default: the local names, or EXPERIENCES_TABLE, CONSENT_TABLE, EVENTS_BUCKET)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", action=_Commands)
    for command in COMMANDS:
        sub.add_parser(command.name, help=command.help)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse and run one command; a failure a user can cause is `earnest COMMAND: <one
    line>` on stderr and its exit code (earnest_cli.errors.describe), never a traceback."""
    args = build_parser().parse_args(argv)
    try:
        from earnest_cli.endpoint import use_endpoint

        use_endpoint()
        if args.stack:
            from earnest_cli.deployed import use_stack

            use_stack(args.stack)
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from earnest_cli.errors import describe

        said = describe(exc)
        if said is None:
            raise
    message, code = said
    print(f"{PROG} {args.command}: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
