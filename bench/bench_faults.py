"""Faults survived: decide, /events and /consent with DynamoDB or S3 hung, and what was lost.

moto's server runs on 127.0.0.1 (one request at a time: MotoServer) behind two gates
(tests.builders.faults.Gate: a TCP proxy that, once hung, accepts and never answers; once
killed, resets every connection), one for DynamoDB and one for S3, so every client waits
its own real connect and read timeouts. The real handlers run in this process with their
template settings (the rules TTL at 10 s, so one run shows decide within it and past it).
For each fault it prints what a caller saw and how long it waited (p50, p99, max), then
heals the gate, retries what was refused as a sender would (same body, same
Idempotency-Key or webhook-id), and counts what reached the store: every acknowledged
event in S3 exactly once, the consent change stored. It also times a pause from its write
to decide's first default answer, with requests every 50 ms and after an idle spell.

    .venv/bin/python bench/bench_faults.py              # --requests N per fault (20)
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import logging
import os
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "shared"), str(ROOT / "cli"), str(ROOT)]

SECRET = "whsec_" + base64.b64encode(b"bench-faults-webhook-secret-0001").decode()
ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "EXPOSURE_TOKEN_KEYS": "bench:bench-exposure-token-secret-0001",
    "CONSENT_WEBHOOK_SECRETS": SECRET,
    "GLOBAL_HOLDOUT": "0",
    "RULES_TTL_SECONDS": "10",
    "POWERTOOLS_LOG_LEVEL": "CRITICAL",  # the functions' own warnings would drown the figures
    "POWERTOOLS_METRICS_DISABLED": "true",
}


class _Count(logging.Handler):
    """Counts the errors moto's server logs (a request it failed with a 500)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


MOTO_ERRORS = _Count()


TTL = float(ENV["RULES_TTL_SECONDS"])


def ms(seconds: list[float]) -> str:
    p50 = statistics.median(seconds) * 1000
    p99 = statistics.quantiles(seconds, n=100, method="inclusive")[98] * 1000
    return f"p50 {p50:,.0f} ms, p99 {p99:,.0f} ms, max {max(seconds) * 1000:,.0f} ms"


def timed(call: Any) -> tuple[float, Any]:
    """How long `call` took, and what it returned; its metrics lines (stdout) kept out."""
    with contextlib.redirect_stdout(io.StringIO()):
        t0 = time.perf_counter()
        out = call()
        took = time.perf_counter() - t0
    return took, out


class MotoServer:
    """moto's server on 127.0.0.1, applying one request at a time.

    moto's backends take no locks: two transactions at once on its threaded server can
    both pass their conditions, and a failed one restores a copy of the table over the
    other's write. DynamoDB applies the writes to one item one at a time; so does this.
    """

    def __init__(self) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        app = DomainDispatcherApplication(create_backend_app)
        lock = threading.Lock()

        def one_at_a_time(environ: Any, start_response: Any) -> Any:
            with lock:
                return list(app(environ, start_response))

        self._server = make_server(
            "127.0.0.1", 0, one_at_a_time, True, request_handler=MotoRequestHandler
        )
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()


class Stack:
    """moto on loopback behind the gates, the tables and bucket, the three handlers."""

    def __init__(self) -> None:
        from tests.builders.faults import Gate

        werkzeug = logging.getLogger("werkzeug")  # moto's request log: counted, not shown
        werkzeug.setLevel(logging.ERROR)
        werkzeug.propagate = False
        werkzeug.handlers = [MOTO_ERRORS]
        self.server = MotoServer()
        moto = self.server.url
        self.dynamodb, self.s3 = Gate(moto), Gate(moto)
        os.environ.update(ENV)
        os.environ["AWS_ENDPOINT_URL"] = moto
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = self.dynamodb.url
        os.environ["AWS_ENDPOINT_URL_S3"] = self.s3.url
        self._resources()
        from earnest_cli.local_stack import load_handler

        self.decide = load_handler("decide")
        self.events = load_handler("record_exposure")
        self.consent = load_handler("consent_update")

    def _resources(self) -> None:
        from earnest_aws.clients import client
        from earnest_aws.experiences_store import ExperiencesStore
        from earnest_aws.settings import settings
        from earnest_cli.template import create_resources
        from tests.builders.consent_state import put_state
        from tests.builders.experiences import experience

        self.settings = settings()
        create_resources(client("dynamodb"), client("s3"), self.settings)
        doc = experience(id="hero", audience={}, requires_consent=["personalization"])
        ExperiencesStore(self.settings.experiences_table).save(
            doc, None, actor="bench", action="create"
        )
        put_state(self.settings, "a-visitor", "granted")

    def stop(self) -> None:
        self.dynamodb.close()
        self.s3.close()
        self.server.stop()


def decide_under_dynamodb_faults(stack: Stack, n: int) -> None:
    """Healthy; hung with the rules fresh (the consent read's wait); hung past the rules TTL
    (the defaults); dead (every connection reset)."""
    from tests.builders.experiences import request
    from tests.builders.handlers import invoke

    def one() -> tuple[float, str]:
        took, (_, _, body) = timed(
            lambda: invoke("decide", request("a-visitor"), handler=stack.decide)
        )
        return took, body["decisions"]["home-hero"]["reason"]

    def show(what: str, runs: list[tuple[float, str]]) -> None:
        reasons = {r: sum(1 for _, x in runs if x == r) for r in sorted({x for _, x in runs})}
        print(f"decide, {what}: {n} requests, {ms([t for t, _ in runs])}; reasons {reasons}")

    show("DynamoDB healthy", [one() for _ in range(n)])
    fresh_rules(stack)
    stack.dynamodb.hang()
    show("DynamoDB hung, rules fresh (consent fails closed)", [one() for _ in range(n)])
    time.sleep(TTL + 0.1)  # past the TTL: the refresh in flight hangs too
    show("DynamoDB hung past the rules TTL (the defaults)", [one() for _ in range(n)])
    stack.dynamodb.heal()
    fresh_rules(stack)
    stack.dynamodb.kill()
    show("DynamoDB dead, rules fresh", [one() for _ in range(n)])
    time.sleep(TTL + 0.1)
    show("DynamoDB dead past the rules TTL", [one() for _ in range(n)])
    stack.dynamodb.heal()
    fresh_rules(stack)


def fresh_rules(stack: Stack) -> None:
    """Until decide answers from rules read after now (the TTL's clock starts again)."""
    from tests.builders.experiences import request
    from tests.builders.handlers import invoke

    time.sleep(TTL + 0.1)
    timed(lambda: invoke("decide", request("a-visitor"), handler=stack.decide))


def pause_to_first_default(stack: Stack) -> None:
    """From the pause's write to decide's first answer without the variant: busy (a request
    every 50 ms) and idle (the first request after twice the TTL with none)."""
    from earnest_aws.experiences_store import ExperiencesStore
    from tests.builders.experiences import request
    from tests.builders.handlers import invoke

    store = ExperiencesStore(stack.settings.experiences_table)

    def reason() -> str:
        _, (_, _, body) = timed(
            lambda: invoke("decide", request("a-visitor"), handler=stack.decide)
        )
        return str(body["decisions"]["home-hero"]["reason"])

    def set_status(status: str) -> float:
        current = store.get("hero")
        assert current is not None
        store.save({**current.doc, "status": status}, current.version, actor="bench", action=status)
        return time.perf_counter()

    fresh_rules(stack)
    paused = set_status("paused")
    while reason() == "personalized":
        time.sleep(0.05)
    busy = time.perf_counter() - paused
    set_status("live")
    fresh_rules(stack)
    paused = set_status("paused")
    time.sleep(2 * TTL)
    first = reason()
    print(
        f"decide, pause -> first default answer (rules TTL {TTL:.0f} s, bound TTL + 0.1 s): "
        f"busy {busy:.2f} s; idle {2 * TTL:.0f} s, then the first request answered {first!r}"
    )
    set_status("live")


def batch(events: int) -> tuple[bytes, list[str]]:
    import orjson

    now_ms = int(time.time() * 1000)
    ids = [f"c-{uuid.uuid4().hex}" for _ in range(events)]
    body = {
        "events": [
            {
                "type": "conversion",
                "event_id": i,
                "unit_id": "a-visitor",
                "name": "purchase",
                "ts": now_ms - 10_000,
            }
            for i in ids
        ]
    }
    return orjson.dumps(body), ids


def post_events(stack: Stack, data: bytes, key: str) -> tuple[float, int]:
    from tests.builders.handlers import invoke

    headers = {"idempotency-key": key}
    took, (status, _, _) = timed(
        lambda: invoke("events", None, headers, raw=data, handler=stack.events)
    )
    return took, status


def events_under(stack: Stack, gate: Any, what: str, n: int, acked: set[str]) -> None:
    """n batches of 50 while `gate` hangs: each 503 in how long; then resent until acknowledged."""
    batches = [(*batch(50), uuid.uuid4().hex) for _ in range(n)]
    gate.hang()
    refused = [post_events(stack, data, key) for data, _, key in batches]
    gate.heal()
    statuses = {s: sum(1 for _, x in refused if x == s) for s in sorted({x for _, x in refused})}
    resends = 0
    for data, ids, key in batches:
        status = 0
        while status != 202:
            _, status = post_events(stack, data, key)
            resends += 1
        acked.update(ids)
    print(
        f"/events, {what} hung: {n} batches of 50, answered {statuses} in "
        f"{ms([t for t, _ in refused])}; resent after healing: {resends} requests, all 202"
    )


def post_consent(stack: Stack, subject: str, when: str, value: str, msg_id: str) -> int:
    """One signed Standard Webhooks POST /consent, as a CMP sends it; its HTTP status."""
    import orjson

    from earnest.consent.webhooks import parse_secrets, sign
    from tests.builders.handlers import invoke

    data = orjson.dumps(
        {
            "subject_id": subject,
            "event_id": msg_id,
            "event_time": when,
            "source": "bench",
            "purposes": {"personalization": value, "measurement": value},
        }
    )
    ts = int(time.time())
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(parse_secrets(SECRET)[0], msg_id, ts, data),
    }
    with contextlib.redirect_stdout(io.StringIO()):  # its metrics line
        status: int = invoke("consent_update", None, headers, raw=data, handler=stack.consent)[0]
    return status


DENIED = {"personalization": "denied", "measurement": "denied"}
GRANTED = {"personalization": "granted", "measurement": "granted"}


def consent_under_hung_dynamodb(stack: Stack, n: int) -> None:
    from earnest_aws.consent_store import ConsentStore

    withdrawals = [(f"s-{i}", f"msg_{uuid.uuid4().hex}") for i in range(n)]
    when = "2026-11-20T10:00:00Z"
    stack.dynamodb.hang()
    refused = [
        timed(lambda s=s, m=m: post_consent(stack, s, when, "denied", m)) for s, m in withdrawals
    ]
    stack.dynamodb.heal()
    # the CMP's retry: the same webhook-id, a fresh signature
    retried = [post_consent(stack, s, when, "denied", m) for s, m in withdrawals]
    store = ConsentStore(stack.settings.consent_table)
    kept = sum(store.purposes_for([s]) == DENIED for s, _ in withdrawals)
    statuses = sorted({s for _, s in refused})
    print(
        f"/consent, DynamoDB hung: {n} withdrawals answered {statuses} in "
        f"{ms([t for t, _ in refused])}; retried with the same webhook-id: "
        f"{sum(s == 200 for s in retried)}/{n} answered 200, {kept}/{n} stored"
    )


def racing_consent_updates(stack: Stack, n: int) -> None:
    """Two updates of one subject at once, the older one (denied) and the newer (granted).

    A request answered 503 is retried as the CMP would (same webhook-id) until answered.
    """
    from earnest_aws.consent_store import ConsentStore

    store = ConsentStore(stack.settings.consent_table)
    newest, retries = 0, [0]
    for i in range(n):
        subject = f"race-{i}"
        start = threading.Barrier(2)

        def send(when: str, value: str, subject: str = subject, start: Any = start) -> None:
            msg_id = f"msg_{uuid.uuid4().hex}"
            start.wait()
            while post_consent(stack, subject, when, value, msg_id) == 503:
                retries[0] += 1

        with contextlib.redirect_stdout(io.StringIO()):
            threads = [
                threading.Thread(target=send, args=("2026-11-20T10:00:00Z", "denied")),
                threading.Thread(target=send, args=("2026-11-20T11:00:00Z", "granted")),
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        newest += store.purposes_for([subject]) == GRANTED
    print(
        f"/consent, two updates of one subject sent at once, {n} times: newest stored "
        f"{newest}/{n}; answered 503 and retried: {retries[0]}; moto's own errors: "
        f"{MOTO_ERRORS.count}"
    )


def stored_events(stack: Stack) -> list[str]:
    from earnest.events.objects import read_events
    from earnest_aws.clients import client

    s3, out = client("s3"), []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=stack.settings.events_bucket, Prefix="events/"
    ):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=stack.settings.events_bucket, Key=item["Key"])["Body"]
            out += [str(e["event_id"]) for e in read_events(body.read())]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20, help="requests per fault (20)")
    n = parser.parse_args().requests
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"python {sys.version.split()[0]}; {n} requests per fault; moto on 127.0.0.1; "
        f"load average {load}"
    )
    stack = Stack()
    try:
        acked: set[str] = set()
        decide_under_dynamodb_faults(stack, n)
        pause_to_first_default(stack)
        events_under(stack, stack.s3, "S3", n, acked)
        events_under(stack, stack.dynamodb, "DynamoDB (the consent read)", n, acked)
        consent_under_hung_dynamodb(stack, n)
        racing_consent_updates(stack, n)
        stored = stored_events(stack)
        lost = len(acked - set(stored))
        print(
            f"events acknowledged {len(acked):,}; in S3 {len(set(stored)):,} distinct, "
            f"{len(stored) - len(set(stored))} stored twice, "
            f"{len(set(stored) - acked)} never acknowledged; events lost: {lost}"
        )
    finally:
        stack.stop()
    sys.exit(1 if lost else 0)


if __name__ == "__main__":
    main()
