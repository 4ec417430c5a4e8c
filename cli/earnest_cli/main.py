"""The `earnest` command: every command of `earnest_cli.commands`, plus `demo`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from earnest_cli.commands import build_parser, dispatch


def cmd_demo(args: argparse.Namespace) -> int:
    from earnest_cli.demo import run_demo

    return run_demo(args)


def add_demo(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="the whole loop on an embedded local stack",
        description="The whole loop on an embedded local stack (no AWS needed, nothing to export).",
    )
    p.add_argument(
        "--visitors", type=int, default=4000, help="simulated visits, all days (default 4000)"
    )
    p.add_argument("--days", type=int, default=5, help="simulated days, up to 29 (default 5)")
    p.add_argument("--seed", type=int, default=20261123, help="the simulation's random seed")
    p.add_argument(
        "--out", type=Path, default=Path(".earnest/demo-report"), help="where to keep the report"
    )
    p.set_defaults(func=cmd_demo)


def main(argv: Sequence[str] | None = None) -> int:
    return dispatch(build_parser(add_demo), argv)


if __name__ == "__main__":
    sys.exit(main())
