"""`earnest import growthbook FEATURES.json`: another tool's experiments as experience files
(earnest_cli.growthbook does the conversion). Reads no AWS."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Turn another tool's experiments into Earnest experience files, as drafts where it "
        "lacks an owner, a measurement plan or a default. Reads no AWS."
    )
    parser.add_argument("source", choices=["growthbook"], help="where the experiments come from")
    parser.add_argument("features", type=Path, help="a GrowthBook features payload (JSON)")
    parser.add_argument(
        "--out", type=Path, default=Path("imported"), help="folder (default: imported)"
    )


def run(args: argparse.Namespace) -> int:
    from earnest_cli.growthbook import write_drafts

    return write_drafts(args.features, args.out)
