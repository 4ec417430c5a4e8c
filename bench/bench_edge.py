"""decide's latency through the reference edge worker, over loopback. Prints p50/p99.

Scenario: `earnest serve` on free ports with the examples pushed; the worker
(clients/edge-worker) under Miniflare on a local port, fronting a local origin page; a
mobile visitor from a search engine views `/` (placements home-hero and pdp-recs) N
times, one after another. Figures: the whole page view through the worker with decide
in the path, and the same worker and origin on a path with no placements (no decide),
so the difference is what decide adds to a page.

    .venv/bin/python bench/bench_edge.py [--views N]

Needs Node 20 and `npm ci` in clients/edge-worker (make test does it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_local_stack import started_stack

WORKER = Path(__file__).resolve().parents[1] / "clients" / "edge-worker"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--views", type=int, default=300)
    args = parser.parse_args()
    if not (WORKER / "node_modules" / "miniflare").exists():
        raise SystemExit(f"run `npm ci` in {WORKER} first")
    with started_stack() as api:
        out = subprocess.run(
            ["node", "bench.mjs", str(args.views)],
            cwd=WORKER,
            env={**os.environ, "EARNEST_API": api, "EARNEST_PYTHON": sys.executable},
            capture_output=True,
            text=True,
            check=True,
        )
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    for name in ("decided", "passthrough"):
        f = figures[name]
        label = "page view, decide in the path" if name == "decided" else "page view, no placements"
        print(f"{label:<31} n={figures['n']}  p50 {f['p50']:6.2f} ms  p99 {f['p99']:6.2f} ms")
    views = figures["n"] + 30
    print(f"decisions forwarded to the origin: {figures['decisions']} of {views} views to /")
    added = figures["decided"]["p50"] - figures["passthrough"]["p50"]
    print(f"decide adds {added:.2f} ms at p50 through the worker (loopback)")


if __name__ == "__main__":
    main()
