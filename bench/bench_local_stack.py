"""decide through `earnest serve` as an edge worker calls it: many requests over one reused
keep-alive connection, and a fresh connection per request. Prints p50/p99 of each.

Scenario: the examples pushed; one visitor body (German mobile visitor, consent granted)
posted N times. A reused connection is what a worker's HTTP client does; before replies
were sent in one write with Nagle off, each such request waited ~40 ms for a delayed ACK.

    .venv/bin/python bench/bench_local_stack.py [--requests N] [--url http://127.0.0.1:8787]

Without --url it starts `earnest serve` on free ports and pushes the examples itself.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the test builders' one way of starting the local stack
from tests.builders.stack import Stack, earnest, serving  # noqa: E402

BODY = json.dumps(
    {
        "visitor": {"anonymous_id": "a-bench-keepalive"},
        "placements": ["home-hero", "pdp-recs"],
        "context": {"country": "DE", "device": "mobile", "referrer": "google"},
        "consent": {"purposes": {"personalization": "granted"}},
    }
).encode()
HEADERS = {"content-type": "application/json"}


@contextmanager
def started_stack() -> Iterator[str]:
    """`earnest serve` on free ports (as the e2e tests start it), the examples pushed;
    yields the API URL."""
    with started() as stack:
        yield stack.api_url


@contextmanager
def started() -> Iterator[Stack]:
    """The same, yielding the whole stack (its AWS endpoint and environment too)."""
    folder = Path(tempfile.mkdtemp(prefix="bench-stack-"))
    with serving(folder / "serve.log") as stack:
        pushed = earnest("push", str(ROOT / "examples" / "experiences"), env=stack.env)
        if pushed.returncode != 0:
            raise SystemExit(f"earnest push failed:\n{pushed.stderr}")
        yield stack


def one(conn: http.client.HTTPConnection) -> float:
    started = time.perf_counter()
    conn.request("POST", "/decide", body=BODY, headers=HEADERS)
    reply = conn.getresponse()
    reply.read()
    if reply.status != 200:
        raise SystemExit(f"/decide answered {reply.status}")
    return (time.perf_counter() - started) * 1000


def measure(url: str, requests: int) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    reused = http.client.HTTPConnection(host, port, timeout=10)
    for _ in range(20):  # warm: rules loaded, connection open
        one(reused)
    kept = [one(reused) for _ in range(requests)]
    fresh = []
    for _ in range(requests):
        conn = http.client.HTTPConnection(host, port, timeout=10)
        fresh.append(one(conn))
        conn.close()
    for name, times in (("reused keep-alive connection", kept), ("new connection each", fresh)):
        cuts = statistics.quantiles(times, n=100)
        print(f"decide, {name:<29} n={len(times)}  p50 {cuts[49]:6.2f} ms  p99 {cuts[98]:6.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--url", help="an `earnest serve` already running, examples pushed")
    args = parser.parse_args()
    if args.url:
        measure(args.url, args.requests)
        return
    with started_stack() as url:
        measure(url, args.requests)


if __name__ == "__main__":
    main()
