"""`earnest serve`: the local stack on 127.0.0.1 (earnest_cli.local_stack)."""

from __future__ import annotations

import argparse
from pathlib import Path

from earnest_cli.arguments import PORT


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "The local stack on 127.0.0.1: moto's server and the HTTP routes; prints the "
        "AWS_ENDPOINT_URL to export for the CLI and boto3."
    )
    parser.add_argument("--api-port", type=PORT, default=8787, help="HTTP routes (default 8787)")
    parser.add_argument("--aws-port", type=PORT, default=5000, help="moto's server (default 5000)")
    parser.add_argument(
        "--log",
        type=Path,
        default=Path(".earnest/serve.log"),
        help="where the functions' logs and metrics go (default .earnest/serve.log)",
    )
    parser.add_argument("--verbose", action="store_true", help="show the functions' logs instead")


def run(args: argparse.Namespace) -> int:
    from earnest_cli.local_stack import serve_forever

    return serve_forever(args.api_port, args.aws_port, args.verbose, args.log)
