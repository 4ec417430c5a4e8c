"""record-exposure's speed: one 500-event batch validated, its tokens verified, gzipped and
handed to S3 (in-process moto, so no network). Prints its figures.

Scenario: a batch as an edge worker flushes it, 500 events, 80 % exposures (each with its
own token decide signed) and 20 % conversions (half with revenue), all valid, consent
granted. Figures, best of several rounds, single thread:

- core: parse + validate + verify tokens + encode (gzip), no AWS at all;
- core + PUT: the same plus the one PutObject to moto's in-process S3 (the target:
  at least 50,000 events per second on one core);
- handler: the whole invocation (Function URL event in, 202 out) including the consent
  BatchGetItem against moto's in-process DynamoDB.

    .venv/bin/python bench/bench_events.py [--quick]
"""

from __future__ import annotations

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


def best_rate(run: Any, rounds: int, n: int) -> tuple[float, float]:
    run()  # warm up
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
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

    from earnest.events.batch import encode, parse_batch, validate_batch
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

    rate, seconds = best_rate(core, rounds, n)
    size = len(core())
    print(
        f"core (parse, validate, verify 400 tokens, gzip): {rate:,.0f} events/s "
        f"({seconds * 1000:.2f} ms per 500-event batch; object {size / 1024:.1f} KiB, "
        f"{len(body) / size:.1f}x smaller than the request)"
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


if __name__ == "__main__":
    main()
