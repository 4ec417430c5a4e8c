"""record-exposure's speed: one 500-event batch validated, its tokens verified, gzipped and
handed to S3 (in-process moto, so no network). Prints its figures.

Scenario: a batch as an edge worker flushes it, 500 events, 80 % exposures (each with its
own token decide signed) and 20 % conversions (half with revenue), all valid, consent
granted. Figures, best of several rounds, single thread:

- floor: what no ingest can skip, in the same run: parse the body once, one HMAC-SHA256
  per token compared with its signature, one gzip of the body;
- core: parse + validate + verify tokens + encode (gzip), no AWS at all, as a ratio to
  the floor (the target: at most 2);
- core + PUT: the same plus the one PutObject to moto's in-process S3 (the target:
  at least 50,000 events per second on one core);
- handler: the whole invocation (Function URL event in, 202 out) including the consent
  BatchGetItem against moto's in-process DynamoDB.

    .venv/bin/python bench/bench_events.py [--quick]
"""

from __future__ import annotations

import base64
import gzip
import hmac
import io
import os
import random
import sys
import time
import uuid
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
TARGET = 50_000
KEYS = "bench:bench-exposure-token-secret"


def batch(n: int = 500, seed: int = 0) -> bytes:
    from earnest.tokens import TokenSigner
    from earnest_aws.settings import parse_keys

    signer = TokenSigner(parse_keys(KEYS, "EXPOSURE_TOKEN_KEYS"))
    rng = random.Random(seed)
    now_ms = int(time.time() * 1000)
    events: list[dict[str, Any]] = []
    for i in range(n):
        unit = f"anon-{seed}-{i % 50}"
        ts = now_ms - rng.randrange(60_000)  # an edge flushes what the last minute saw
        if i % 5:
            token = signer.sign(
                unit, f"exp-{i // 50:02d}", "b", "personalized", "rv-3f9a0c", ts // 1000 - 1
            )
            events.append(
                {"type": "exposure", "event_id": uuid.uuid4().hex, "token": token, "ts": ts}
            )
        else:
            event: dict[str, Any] = {
                "type": "conversion",
                "event_id": uuid.uuid4().hex,
                "unit_id": unit,
                "name": "purchase",
                "ts": ts,
            }
            if i % 10 == 0:
                event.update(value=59.9, currency="EUR")
            events.append(event)
    return orjson.dumps({"events": events})


def best_rate(run: Any, rounds: int, n: int, clock: Any = time.perf_counter) -> tuple[float, float]:
    run()  # warm up
    best = float("inf")
    for _ in range(rounds):
        start = clock()
        run()
        best = min(best, clock() - start)
    return n / best, best


def main() -> None:
    quick = "--quick" in sys.argv
    rounds = 5 if quick else 30
    os.environ.update(
        {
            "EXPOSURE_TOKEN_KEYS": KEYS,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_METRICS_NAMESPACE": "Earnest",
            "CONSENT_REGIME": "opt_out",
            "POWERTOOLS_LOG_LEVEL": "WARNING",  # one INFO line a request; not what is measured
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    from moto import mock_aws

    from earnest.events.batch import parse_batch, validate_batch
    from earnest.events.objects import GZIP_LEVEL, encode
    from earnest.tokens import TokenSigner
    from earnest_aws.clients import client, reset
    from earnest_aws.events_store import EventsStore
    from earnest_aws.settings import parse_keys, settings
    from earnest_cli.local_stack import LambdaContext, function_url_event, load_handler
    from earnest_cli.template import create_resources

    signer = TokenSigner(parse_keys(KEYS, "EXPOSURE_TOKEN_KEYS"))
    body = batch()
    n = 500

    def core() -> bytes:
        now = time.time()
        parsed = parse_batch(body, now=now)
        validated = validate_batch(parsed.events, signer, now, "bench-request")
        assert len(validated.records) == n
        return encode(validated.records)

    secret = parse_keys(KEYS, "EXPOSURE_TOKEN_KEYS")[0][1]

    def floor() -> bytes:
        for event in orjson.loads(body)["events"]:
            token = event.get("token")
            if token is not None:
                signed, _, signature = token.rpartition(".")
                mac = hmac.digest(secret, signed.encode(), "sha256")
                hmac.compare_digest(mac, base64.urlsafe_b64decode(signature + "="))
        return gzip.compress(body, GZIP_LEVEL, mtime=0)

    # CPU time for the floor and the core: no I/O in either, and on a shared machine their
    # wall time also counts other processes' turns (more often the longer one's).
    floor_rate, floor_seconds = best_rate(floor, rounds, n, time.process_time)
    print(
        f"floor (parse once, 400 HMAC checks, one gzip), CPU time: {floor_rate:,.0f} events/s "
        f"({floor_seconds * 1000:.2f} ms per 500-event batch)"
    )
    rate, seconds = best_rate(core, rounds, n, time.process_time)
    size = len(core())
    print(
        f"core (parse, validate, verify 400 tokens, gzip), CPU time: {rate:,.0f} events/s "
        f"({seconds * 1000:.2f} ms per 500-event batch; object {size / 1024:.1f} KiB, "
        f"{len(body) / size:.1f}x smaller than the request); "
        f"{seconds / floor_seconds:.2f}x the floor"
    )

    with mock_aws():
        reset()
        settings.cache_clear()
        create_resources(client("dynamodb"), client("s3"), settings())
        store = EventsStore(settings().events_bucket)
        keys = iter(range(10**9))

        def core_and_put() -> None:
            store.put(f"events/dt=bench/hour=00/{next(keys)}.ndjson.gz", core())

        rate, seconds = best_rate(core_and_put, rounds, n)
        verdict = "meets" if rate >= TARGET else "MISSES"
        print(
            f"core + one S3 PUT (moto in-process): {rate:,.0f} events/s "
            f"({seconds * 1000:.2f} ms per batch) - {verdict} the {TARGET:,} events/s target"
        )

        handler = load_handler("record_exposure")
        assert handler is not None
        context = LambdaContext("record_exposure", "bench")
        headers = {"content-type": "text/plain;charset=UTF-8"}
        sink = io.StringIO()

        def whole() -> None:
            event = function_url_event("POST", "/events", "", headers, body, "127.0.0.1")
            with redirect_stdout(sink):  # the handler's log and EMF lines
                response = handler(event, context)
            assert response["statusCode"] == 202, response
            assert orjson.loads(response["body"])["stored"] == n
            sink.seek(0)
            sink.truncate()

        rate, seconds = best_rate(whole, rounds, n)
        print(
            f"handler (Function URL event -> 202, incl. consent BatchGetItem of 50 units "
            f"and the PUT, moto in-process): {rate:,.0f} events/s ({seconds * 1000:.2f} ms)"
        )
        objects = client("s3").list_objects_v2(Bucket=settings().events_bucket, Prefix="events/")
        print(
            f"objects written: {objects['KeyCount']} for {rounds * 2 + 2} batches (one per request)"
        )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
