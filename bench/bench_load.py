"""Load on loopback: the local stack under many concurrent clients, then proof nothing was lost.

Starts `earnest serve` (moto's server and the three routes) as its own process on
127.0.0.1, pushes the example experiences and one hostile audience, then, from this
process, runs for a fixed time:

* decide clients (default 16) each posting a page decision of two placements;
* events clients (default 4) each posting batches (default 100 events: the exposures of
  tokens decide issued, and conversions);
* one client deciding a placement whose audience is `^(a+)+$` for a visitor sending
  `"a" * 30 + "b"` (issue 12: 24.9 s a decision under Python's `re`), so its latency is
  measured under the same load.

Then it reads every object under `events/` from S3 and checks that every acknowledged
event is stored exactly once, runs `earnest report` for the day and checks that the report
counts each once. It prints throughput, p50 and p99, errors and events lost, and exits
non-zero if any request failed or any event was lost or duplicated. It stops by itself.

    .venv/bin/python bench/bench_load.py [--seconds 15] [--decide-clients 16]
        [--events-clients 4] [--batch 100]
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
GRANTED = {"personalization": "granted", "measurement": "granted"}
HOSTILE_PLACEMENT = "load-hostile"


def hostile_experience(today: dt.date) -> dict[str, Any]:
    """An audience an author could write that backtracking regex engines cannot survive."""
    return {
        "id": "load-hostile-regex",
        "placement": HOSTILE_PLACEMENT,
        "owner": "bench@shop.example",
        "status": "live",
        "audience": {"attributes.name": {"$regex": "^(a+)+$"}},
        "requires_consent": ["personalization"],
        "variants": [{"id": "b", "weight": 1, "content": {"v": "b"}}],
        "default": {"v": "default"},
        "holdout": 0.1,
        "measurement_plan": {
            "hypothesis": "A bench audience; it never needs to win.",
            "primary_metric": "conversion",
            "minimum_detectable_effect": 0.05,
            "min_units_per_arm": 1000,
        },
        "review_every_days": 30,
        "last_reviewed": today.isoformat(),
        "priority": 0,
    }


class Stack:
    """`earnest serve` in a process of its own, stopped when the bench ends."""

    def __init__(self, workdir: Path) -> None:
        self.log_path = workdir / "serve.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        with self.log_path.open("w") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "earnest_cli",
                    "serve",
                    "--api-port",
                    "0",
                    "--aws-port",
                    "0",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + 60
        text = ""
        while time.monotonic() < deadline and "\nready\n" not in text:
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
            text = self.log_path.read_text()
        found = re.search(r"API (\S+)\s+AWS (\S+)", text)
        if not found or "\nready\n" not in text:
            self.stop()
            raise SystemExit(f"earnest serve did not start:\n{text}")
        self.api_url, self.aws_url = found.group(1), found.group(2)
        from earnest_cli.local_stack import LOCAL_ENV

        self.env = {**os.environ, **LOCAL_ENV, "AWS_ENDPOINT_URL": self.aws_url}

    def earnest(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "earnest_cli", *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=300,
        )
        if done.returncode != 0:
            raise SystemExit(f"earnest {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Client:
    """One HTTP/1.1 connection to the routes, reopened when the server closes it."""

    def __init__(self, api_url: str) -> None:
        parts = urlsplit(api_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.conn: http.client.HTTPConnection | None = None

    def post(
        self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> tuple[int, Any, float]:
        """(status, answer, seconds); status 0 when the connection failed twice."""
        raw = json.dumps(body).encode()
        started = time.perf_counter()
        for _attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.conn.request(
                    "POST", path, raw, {"content-type": "application/json", **(headers or {})}
                )
                response = self.conn.getresponse()
                payload = response.read()
                if response.getheader("connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return response.status, json.loads(payload), time.perf_counter() - started
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
        return 0, None, time.perf_counter() - started


class Results:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = {"decide": [], "events": [], "hostile": []}
        self.errors: Counter[str] = Counter()
        self.tokens: list[tuple[str, str]] = []  # (unit, token) decide handed out
        self.acknowledged: set[str] = set()  # event ids answered as accepted and stored
        self.kinds: Counter[str] = Counter()
        self.retried = 0  # events requests answered 503 (nothing acknowledged), then resent

    def record(self, kind: str, status: int, seconds: float, expected: int) -> bool:
        with self.lock:
            self.latencies[kind].append(seconds)
            if status != expected:
                self.errors[f"{kind} {status}"] += 1
                return False
        return True


def decide_client(api: str, stop: threading.Event, results: Results, n: int) -> None:
    client, k = Client(api), 0
    while not stop.is_set():
        unit = f"load-{n}-{k}"
        k += 1
        body = {
            "visitor": {"anonymous_id": unit},
            "placements": ["home-hero", "pdp-recs"],
            "context": {"country": "DE", "device": "mobile", "url": "https://shop.example/"},
            "attributes": {"ltv": k % 400},
            "consent": {"purposes": GRANTED},
        }
        status, answer, seconds = client.post("/decide", body)
        if results.record("decide", status, seconds, 200):
            tokens = [(unit, d["token"]) for d in answer["decisions"].values() if d["token"]]
            with results.lock:
                results.tokens.extend(tokens)


def hostile_client(api: str, stop: threading.Event, results: Results) -> None:
    client, k = Client(api), 0
    while not stop.is_set():
        k += 1
        body = {
            "visitor": {"anonymous_id": f"load-hostile-{k}"},
            "placements": [HOSTILE_PLACEMENT],
            "attributes": {"name": "a" * 30 + "b"},
            "consent": {"purposes": GRANTED},
        }
        status, answer, seconds = client.post("/decide", body)
        if results.record("hostile", status, seconds, 200):
            assert answer["decisions"][HOSTILE_PLACEMENT]["reason"] == "not_in_audience"
        time.sleep(0.01)


def events_client(
    api: str, stop: threading.Event, results: Results, n: int, batch_size: int
) -> None:
    client, k = Client(api), 0
    while not stop.is_set():
        with results.lock:  # each token decide issued is exposed once
            tokens = results.tokens[: batch_size // 2]
            del results.tokens[: batch_size // 2]
        now = time.time()
        events: list[dict[str, Any]] = []
        for _unit, token in tokens:
            events.append(
                {"type": "exposure", "event_id": uuid.uuid4().hex, "token": token, "ts": now}
            )
        while len(events) < batch_size:
            k += 1
            events.append(
                {
                    "type": "conversion",
                    "event_id": uuid.uuid4().hex,
                    "unit_id": f"load-{n}-{k}",
                    "name": "purchase",
                    "value": 10 + k % 50,
                    "currency": "EUR",
                    "ts": now,
                }
            )
        # As a sender should: a 503 acknowledged nothing, so resend the same body under the
        # same Idempotency-Key after Retry-After (a retry that did land stores no copy).
        body = {"events": events, "consent": {"purposes": GRANTED}}
        key = {"idempotency-key": uuid.uuid4().hex}
        for _retry in range(5):
            status, answer, seconds = client.post("/events", body, key)
            if status != 503:
                break
            with results.lock:
                results.retried += 1
            time.sleep(1)
        if not results.record("events", status, seconds, 202):
            continue  # nothing acknowledged: nothing to find in S3
        rejected = {r["index"] for r in answer["rejections"]}
        if answer["stored"] != answer["accepted"] or rejected:
            with results.lock:
                results.errors[f"events not stored: {answer['rejections'][:1]}"] += 1
        with results.lock:
            for i, event in enumerate(events):
                if i not in rejected:
                    results.acknowledged.add(event["event_id"])
                    results.kinds[event["type"]] += 1


def stored_event_ids(stack: Stack) -> Counter[str]:
    """How many times each event id is stored under `events/` in the stack's bucket."""
    from earnest.events.objects import read_events
    from earnest_aws.clients import client

    os.environ.update(stack.env)  # the adapters' one way to a client, pointed at the stack
    s3 = client("s3")
    bucket = stack.env.get("EVENTS_BUCKET", "earnest-data")
    counts: Counter[str] = Counter()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="events/"):
        for item in page.get("Contents", []):
            data = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            counts.update(record["event_id"] for record in read_events(data))
    return counts


def percentile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--decide-clients", type=int, default=16)
    parser.add_argument("--events-clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="earnest-load-") as tmp:
        workdir = Path(tmp)
        stack = Stack(workdir)
        try:
            return run(stack, workdir, args)
        finally:
            stack.stop()


def run(stack: Stack, workdir: Path, args: argparse.Namespace) -> int:
    import yaml

    today = dt.datetime.now(dt.UTC).date()
    experiences = workdir / "experiences"
    experiences.mkdir()
    for source in (ROOT / "examples" / "experiences").glob("*.yaml"):
        (experiences / source.name).write_text(source.read_text())
    (experiences / "load-hostile.yaml").write_text(yaml.safe_dump(hostile_experience(today)))
    stack.earnest("push", str(experiences), "--actor", "bench")

    results, stop = Results(), threading.Event()
    threads = [
        threading.Thread(target=decide_client, args=(stack.api_url, stop, results, n))
        for n in range(args.decide_clients)
    ]
    threads += [
        threading.Thread(target=events_client, args=(stack.api_url, stop, results, n, args.batch))
        for n in range(args.events_clients)
    ]
    threads.append(threading.Thread(target=hostile_client, args=(stack.api_url, stop, results)))
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(args.seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started

    stored = stored_event_ids(stack)
    lost = len(results.acknowledged - stored.keys())
    duplicated = sum(1 for event_id in results.acknowledged if stored[event_id] > 1)
    unexpected = len(stored.keys() - results.acknowledged)
    report_dir = workdir / "report"
    stack.earnest("report", "--date", today.isoformat(), "--out", str(report_dir))
    counted = json.loads((report_dir / "report.json").read_text())["events"]

    print(f"load on 127.0.0.1 for {elapsed:.1f} s (`earnest serve` in its own process)")
    for kind, label in (
        ("decide", f"decide, {args.decide_clients} clients, 2 placements"),
        ("events", f"events, {args.events_clients} clients, batches of {args.batch}"),
        ("hostile", "decide of the ^(a+)+$ audience on 'a'*30+'b', under the same load"),
    ):
        values = results.latencies[kind]
        p50, p99 = percentile(values, 50) * 1000, percentile(values, 99) * 1000
        print(
            f"{label}: {len(values):,} requests, {len(values) / elapsed:,.0f}/s, "
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"
        )
    errors = sum(results.errors.values())
    print(
        f"errors: {errors}"
        + (f" {dict(results.errors)}" if errors else "")
        + f"; events requests answered 503 and resent: {results.retried}"
    )
    acknowledged = len(results.acknowledged)
    print(
        f"events acknowledged: {acknowledged:,} ({results.kinds['exposure']:,} exposures, "
        f"{results.kinds['conversion']:,} conversions); in S3: {len(stored):,} distinct; "
        f"lost: {lost}; stored twice: {duplicated}; unexpected: {unexpected}"
    )
    report_ok = (
        counted["exposures"] == results.kinds["exposure"]
        and counted["conversions"] == results.kinds["conversion"]
        and counted["duplicates_dropped"] == 0
    )
    print(
        f"earnest report --date {today}: exposures {counted['exposures']:,}, conversions "
        f"{counted['conversions']:,}, duplicates dropped {counted['duplicates_dropped']} "
        f"({'each acknowledged event counted once' if report_ok else 'MISMATCH'})"
    )
    return 0 if not errors and not lost and not duplicated and not unexpected and report_ok else 1


if __name__ == "__main__":
    sys.exit(main())
