"""Pages through the reference edge worker over loopback: decided at the edge beside /decide.

Scenario: `earnest serve` on free ports with the examples pushed (the push publishes the
edge's rules bundle to the stack's S3); two workers (clients/edge-worker) under Miniflare in
front of one local origin, one holding the bundle and the edge's token key, one asking
/decide on every page; a mobile visitor from a search engine who declined personalization
views `/` (placements home-hero and pdp-recs), the two workers interleaved, and `/about`
(no placements). Figures: p50/p99 per page view of each, what deciding adds over a page
with no placements, the engine's own time per decision (the same request in Node, tokens
signed), and the share of generated traffic over the examples the edge decides without
/decide (the agreement test's generator, tests/builders/edge_requests.py: every consent a
request carries, signed-in visitors, all placements).

    .venv/bin/python bench/bench_edge.py [--views N] [--requests N]

Needs Node 20 and `npm ci` in clients/edge-worker (make test does it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_local_stack import started

from earnest_aws.edge_bundle import EDGE_BUNDLE_KEY
from earnest_aws.settings import settings
from tests.builders.edge_requests import requests

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "clients" / "edge-worker"
EXAMPLES = ROOT / "examples" / "experiences"


def _bundle(aws_url: str, env: dict[str, str], into: Path) -> str:
    """The bundle as published, read back from the stack's S3 into `into`; its URL."""
    import boto3

    bucket = settings().events_bucket  # the stack's default names, as this process reads them
    s3 = boto3.client(
        "s3",
        endpoint_url=aws_url,
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"],
    )
    into.write_bytes(s3.get_object(Bucket=bucket, Key=EDGE_BUNDLE_KEY)["Body"].read())
    return f"{aws_url}/{bucket}/{EDGE_BUNDLE_KEY}"


def _share(bundle: Path, folder: Path, n: int) -> tuple[int, int, int, int]:
    """(placements decided at the edge, placements, pages with no hop, pages)."""
    (folder / "requests.jsonl").write_bytes(
        b"\n".join(orjson.dumps(b) for b in requests(n, seed=24))
    )
    (folder / "groups.json").write_text("{}")
    out = subprocess.run(
        [
            "node",
            "test/decide-batch.mjs",
            str(bundle),
            str(folder / "groups.json"),
            str(folder / "requests.jsonl"),
        ],
        cwd=WORKER,
        capture_output=True,
        text=True,
        check=True,
    )
    local = total = pages_local = 0
    lines = out.stdout.splitlines()
    for line in lines:
        row = json.loads(line)
        local += len(row["edge"])
        total += len(row["edge"]) + len(row["remote"])
        pages_local += not row["remote"]
    return local, total, pages_local, len(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--views", type=int, default=300)
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args()
    if not (WORKER / "node_modules" / "miniflare").exists():
        raise SystemExit(f"run `npm ci` in {WORKER} first")
    folder = Path(tempfile.mkdtemp(prefix="bench-edge-"))
    with started() as stack:
        url = _bundle(stack.aws_url, stack.env, folder / "bundle.json")
        edge_key = next(
            k for k in stack.env["EXPOSURE_TOKEN_KEYS"].split(",") if k.startswith("edge:")
        )
        out = subprocess.run(
            ["node", "bench.mjs", str(args.views)],
            cwd=WORKER,
            env={
                **os.environ,
                "EARNEST_API": stack.api_url,
                "EARNEST_PYTHON": sys.executable,
                "EARNEST_BUNDLE_URL": url,
                "EDGE_TOKEN_KEY": edge_key,
                "BUNDLE_FILE": str(folder / "bundle.json"),
            },
            capture_output=True,
            text=True,
            check=True,
        )
    f = json.loads(out.stdout.strip().splitlines()[-1])
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (2 cores); n={f['n']} each")
    rows = [
        ("local", "page view, decided at the edge"),
        ("remote", "page view, /decide in the path"),
        ("passthrough", "page view, no placements"),
    ]
    for key, label in rows:
        print(f"{label:<32} p50 {f[key]['p50']:6.2f} ms  p99 {f[key]['p99']:6.2f} ms")
    print(
        f"calls to /decide from the edge-deciding worker: {f['hops']} of {f['n']} views to /; "
        f"decisions forwarded to the origin: {f['decisions']} of {3 * f['n']} views"
    )
    added = f["local"]["p50"] - f["passthrough"]["p50"]
    saved = f["remote"]["p50"] - f["local"]["p50"]
    print(
        f"deciding at the edge adds {added:.2f} ms at p50 in the worker; "
        f"/decide adds {saved:.2f} more"
    )
    e = f["engine"]
    print(
        f"the engine alone (Node, 2 placements, tokens signed): p50 {e['p50']:.3f} ms  "
        f"p99 {e['p99']:.3f} ms; placements left to /decide: {f['engine_remote_placements']}"
    )
    local, total, pages_local, pages = _share(folder / "bundle.json", folder, args.requests)
    print(
        f"generated traffic over the examples ({pages} requests): {local / total:.1%} of "
        f"placements and {pages_local / pages:.1%} of pages decided at the edge"
    )


if __name__ == "__main__":
    main()
