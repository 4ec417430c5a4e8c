"""What personalization costs: measures the cost model's inputs and prints the cost tables.

Everything runs in this process against moto (no network). botocore's event hooks count
every AWS request each handler makes (by how AWS bills it: DynamoDB read and write units
from the items' sizes, S3 PUT/LIST and GET requests) and the time spent in those calls;
each handler is timed, its log output counted, decide's allocations traced. The prices
and the assumptions come from bench/prices.toml; the arithmetic is earnest.program.cost.

- decide: the shipped examples, requests for two placements (home-hero, pdp-recs), a
  third of the visitors signed in, half with a stored consent record; p50/p99 of its own
  time and of the memory one request allocates, and the requests per decision;
- one rules refresh (the table scan every RULES_TTL_SECONDS per warm container);
- record-exposure: requests of `events_per_request` events (80 % exposures with decide's
  tokens, 20 % conversions) from consented visitors; requests and stored bytes per event;
- the nightly run over two window sizes (a known effect, tests/builders/report_events),
  objects of `events_per_request` events: its fixed time and time per event, its requests,
  and the bytes Athena would scan (every gzip byte of the window's objects).

    .venv/bin/python bench/bench_cost.py            # the run docs/cost.md quotes
    .venv/bin/python bench/bench_cost.py --quick
"""

from __future__ import annotations

import argparse
import io
import math
import os
import platform
import random
import resource
import statistics
import sys
import time
import tracemalloc
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "shared"), str(ROOT / "cli"), str(ROOT)]

from earnest.program import cost  # noqa: E402

PRICES = ROOT / "bench" / "prices.toml"
ALARM_SECONDS = 600  # the nightly-report-p99-duration alarm: past it, aggregate in Athena
KEYS = "bench:bench-exposure-token-secret-0001"
PLACEMENTS = ["home-hero", "pdp-recs"]
NIGHT = date(2026, 11, 20)
ALLOCATED = "2026-10-01T00:00:00.000Z"
ENV = {
    "EXPOSURE_TOKEN_KEYS": KEYS,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_METRICS_NAMESPACE": "Earnest",
    "POWERTOOLS_LOG_LEVEL": "INFO",  # as the template deploys them
    "RULES_TTL_SECONDS": "3600",  # the refresh is measured on its own, not inside decisions
}


# -- counting AWS requests ------------------------------------------------------------------


def item_size(item: Mapping[str, Any]) -> int:
    """An item's size as DynamoDB bills it: attribute names plus values (low-level JSON)."""
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def _number_size(v: str) -> int:
    return len(v.lstrip("-").replace(".", "")) // 2 + 2


_SIZES: dict[str, Callable[[Any], int]] = {
    "S": lambda v: len(v.encode()),
    "N": _number_size,
    "B": len,
    "BOOL": lambda v: 1,
    "NULL": lambda v: 1,
    "SS": lambda v: sum(len(x.encode()) for x in v),
    "NS": lambda v: sum(_number_size(x) for x in v),
    "BS": lambda v: sum(len(x) for x in v),
    "L": lambda v: 3 + sum(1 + value_size(x) for x in v),
    "M": lambda v: 3 + sum(1 + len(k.encode()) + value_size(x) for k, x in v.items()),
}


def value_size(value: Mapping[str, Any]) -> int:
    ((kind, v),) = value.items()
    return _SIZES[kind](v)


def _units(size: int, block: int) -> int:
    return max(1, math.ceil(size / block))


def _batch_get(params: Mapping[str, Any], parsed: Mapping[str, Any]) -> float:
    units = 0.0
    for table, request in params["RequestItems"].items():
        got = parsed.get("Responses", {}).get(table, [])
        found = sum(_units(item_size(i), 4096) for i in got)
        units += (1.0 if request.get("ConsistentRead") else 0.5) * (
            found + len(request["Keys"]) - len(got)  # a key not found still costs a unit
        )
    return units


def _consistency(params: Mapping[str, Any]) -> float:
    return 1.0 if params.get("ConsistentRead") else 0.5


READS: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], float]] = {
    "BatchGetItem": _batch_get,
    "GetItem": lambda p, r: _consistency(p) * _units(item_size(r.get("Item") or {}), 4096),
    "Query": lambda p, r: (
        _consistency(p) * _units(sum(item_size(i) for i in r.get("Items", [])), 4096)
    ),
    "TransactGetItems": lambda p, r: 2.0 * len(p["TransactItems"]),
}


def _put_units(put: Mapping[str, Any] | None) -> int:
    return _units(item_size(put["Item"]), 1024) if put else 1  # an update: at least one


WRITES: dict[str, Callable[[Mapping[str, Any]], float]] = {
    "PutItem": lambda p: _units(item_size(p["Item"]), 1024),
    "UpdateItem": lambda p: 1,  # at least one unit; the item's size is not in the call
    "DeleteItem": lambda p: 1,
    "TransactWriteItems": lambda p: sum(2 * _put_units(t.get("Put")) for t in p["TransactItems"]),
    "BatchWriteItem": lambda p: sum(
        _put_units(r.get("PutRequest")) for rs in p["RequestItems"].values() for r in rs
    ),
}


@dataclass
class Meter:
    """Every AWS call while on: how many, what they bill, how long they took."""

    on: bool = False
    ops: Counter[str] = field(default_factory=Counter)
    read_units: float = 0.0
    write_units: float = 0.0
    aws_seconds: float = 0.0
    event_gets: int = 0  # GETs and LISTs of events/ (the nightly run's window)
    event_lists: int = 0
    scans: list[str] = field(default_factory=list)
    _sending: float = 0.0

    def install(self, session: Any) -> None:
        """Hook `session`: moto answers in a `before-send` handler, so the time between the
        first and the last `before-send` handler is moto's, which a deployed function spends
        waiting for AWS instead (botocore's own work, serializing, signing, parsing, stays in
        the function's time, as it does in Lambda)."""
        events = session.get_component("event_emitter")
        events.register("before-parameter-build", self._params)
        events.register_first("before-send", self._start)
        events.register_last("before-send", self._sent)
        events.register("after-call", self._done)

    def reset(self) -> None:
        self.ops.clear()
        self.read_units = self.write_units = self.aws_seconds = 0.0
        self.event_gets = self.event_lists = 0
        self.scans.clear()

    def _params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["cost_params"] = dict(params)

    def _start(self, **_: Any) -> None:
        self._sending = time.perf_counter()

    def _sent(self, **_: Any) -> None:
        if self.on:
            self.aws_seconds += time.perf_counter() - self._sending

    def _done(
        self, model: Any, parsed: Mapping[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        if not self.on:
            return
        service, op = model.service_model.service_name, model.name
        self.ops[f"{service}.{op}"] += 1
        params = context.get("cost_params", {})
        if service == "dynamodb":
            self._dynamodb(op, params, parsed)
        elif service == "s3" and str(params.get("Key") or params.get("Prefix") or "").startswith(
            "events/"
        ):
            self.event_lists += op.startswith("List")
            self.event_gets += op == "GetObject"

    def _dynamodb(self, op: str, params: Mapping[str, Any], parsed: Mapping[str, Any]) -> None:
        if op == "Scan" and parsed.get("ScannedCount", 0) > parsed.get("Count", 0):
            self.scans.append(params["TableName"])  # billed on all it read: see table_units
        elif op == "Scan":
            self.read_units += READS["Query"](params, parsed)
        elif op in READS:
            self.read_units += READS[op](params, parsed)
        elif op in WRITES:
            self.write_units += WRITES[op](params)

    def calls(self) -> cost.Calls:
        return calls_of(self.ops, self.read_units, self.write_units)


def calls_of(
    ops: Mapping[str, float], read_units: float, write_units: float, log_bytes: float = 0.0
) -> cost.Calls:
    """The requests `ops` counts ("service.Operation": n), classed as AWS bills them."""

    def count(prefix: str) -> float:
        return sum(n for op, n in ops.items() if op.startswith(prefix))

    s3_puts, s3_lists = count("s3.Put"), count("s3.List")
    return cost.Calls(
        dynamodb=count("dynamodb."),
        read_units=read_units,
        write_units=write_units,
        s3_puts=s3_puts,
        s3_lists=s3_lists,
        s3_gets=count("s3.") - s3_puts - s3_lists,
        log_bytes=log_bytes,
    )


@dataclass
class Runs:
    """Invocations of one handler, each metered: its own and whole times, what it logged,
    and the AWS requests of all of them."""

    own_ms: list[float] = field(default_factory=list)
    total_ms: list[float] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)
    log_bytes: int = 0
    ops: Counter[str] = field(default_factory=Counter)
    read_units: float = 0.0
    write_units: float = 0.0

    def per_invocation(self) -> cost.Calls:
        n = len(self.own_ms)
        return calls_of(self.ops, self.read_units, self.write_units, self.log_bytes).times(1 / n)


def invoke_all(
    handler: Any, events: list[dict[str, Any]], context: Any, meter: Meter, sink: io.StringIO
) -> Runs:
    runs = Runs()
    for event in events:
        sink.seek(0)
        sink.truncate()
        with metered(meter):
            start = time.perf_counter()
            response = handler(event, context)
            elapsed = time.perf_counter() - start
        runs.responses.append(response)
        runs.total_ms.append(elapsed * 1000)
        runs.own_ms.append((elapsed - meter.aws_seconds) * 1000)
        runs.log_bytes += len(sink.getvalue().encode())
        runs.ops.update(meter.ops)
        runs.read_units += meter.read_units
        runs.write_units += meter.write_units
    return runs


@contextmanager
def metered(meter: Meter) -> Iterator[Meter]:
    meter.reset()
    meter.on = True
    try:
        yield meter
    finally:
        meter.on = False


def table_units(table: str) -> float:
    """What one eventually consistent scan of `table` reads, in read units: all of it."""
    from earnest_aws.clients import client

    size, start = 0, None
    while True:
        page = client("dynamodb").scan(
            TableName=table, **({"ExclusiveStartKey": start} if start else {})
        )
        size += sum(item_size(i) for i in page["Items"])
        start = page.get("LastEvaluatedKey")
        if not start:
            return 0.5 * _units(size, 4096)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


# -- the scenario ------------------------------------------------------------------------------


def consent_item(subject: str) -> dict[str, Any]:
    purposes = {"personalization": {"S": "granted"}, "measurement": {"S": "granted"}}
    return {
        "subject_id": {"S": subject},
        "record": {"S": "state"},
        "r_gdpr": {
            "M": {
                "purposes": {"M": purposes},
                "event_time": {"S": "2026-11-01T00:00:00.000Z"},
                "event_id": {"S": uuid.uuid4().hex},
                "source": {"S": "didomi"},
            }
        },
    }


def visitors(n: int, rng: random.Random) -> list[dict[str, Any]]:
    countries = ["DE", "AT", "CH", "FR", "US", "GB"]
    out = []
    for i in range(n):
        visitor: dict[str, Any] = {"anonymous_id": f"a-{i:06d}"}
        if i % 3 == 0:
            visitor.update(user_id=f"u-{i:06d}", identity_confidence=0.95)
        out.append(
            {
                "visitor": visitor,
                "placements": PLACEMENTS,
                "context": {
                    "country": rng.choice(countries),
                    "device": rng.choice(["mobile", "desktop"]),
                    "referrer": rng.choice(["google", "direct", "newsletter"]),
                    "url": "https://shop.example/",
                },
                "attributes": {"ltv": rng.randrange(400), "last_category": "hiking"},
                "consent": {"purposes": {"personalization": "granted", "measurement": "granted"}},
            }
        )
    return out


@dataclass(frozen=True)
class Decide:
    invocation: cost.Invocation
    p50_ms: float
    p99_ms: float
    p50_total_ms: float
    p99_total_ms: float
    p50_alloc_kib: float
    p99_alloc_kib: float
    rss_mib: float
    ops: dict[str, float]
    n: int


def bench_decide(n: int, meter: Meter, sink: io.StringIO, memory_mb: int) -> tuple[Decide, Any]:
    from earnest_cli.local_stack import LambdaContext, function_url_event, load_handler

    handler = load_handler("decide")
    assert handler is not None
    rng = random.Random(7)
    bodies = visitors(n, rng)
    context = LambdaContext("decide", "bench")
    events = [
        function_url_event(
            "POST",
            "/decide",
            "",
            {"content-type": "application/json"},
            orjson.dumps(b),
            "127.0.0.1",
        )
        for b in bodies
    ]
    for event in events[:50]:  # warm: the rules loaded, the code paths taken once
        handler(event, context)
    runs = invoke_all(handler, events, context, meter, sink)
    assert all(r["statusCode"] == 200 for r in runs.responses), runs.responses[0]
    tracemalloc.start()
    allocated = []
    for event in events[: min(n, 1000)]:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        handler(event, context)
        allocated.append((tracemalloc.get_traced_memory()[1] - before) / 1024)
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    own, total = runs.own_ms, runs.total_ms
    measured = Decide(
        cost.Invocation(memory_mb, statistics.fmean(own), runs.per_invocation()),
        pct(own, 0.5),
        pct(own, 0.99),
        pct(total, 0.5),
        pct(total, 0.99),
        pct(allocated, 0.5),
        pct(allocated, 0.99),
        rss,
        {k: v / n for k, v in runs.ops.items()},
        n,
    )
    return measured, handler


def bench_refresh(handler: Any, meter: Meter, table: str) -> tuple[float, float, dict[str, int]]:
    """(read units, milliseconds outside AWS) of one rules refresh."""
    rules = handler.__wrapped__.__globals__["RULES"]
    rules._content = None  # compile again, as a refresh that found a change does
    with metered(meter):
        start = time.perf_counter()
        rules.refresh()
        elapsed = time.perf_counter() - start
    scans = list(meter.scans)
    units = meter.read_units + sum(table_units(t) for t in scans)
    return units, (elapsed - meter.aws_seconds) * 1000, dict(meter.ops)


@dataclass(frozen=True)
class Events:
    invocation: cost.Invocation
    per_request: int
    stored_bytes_per_event: float
    p50_ms: float
    p99_ms: float
    ops: dict[str, float]


def event_batch(signer: Any, size: int, rng: random.Random, subjects: int) -> bytes:
    now_ms = int(time.time() * 1000)
    events: list[dict[str, Any]] = []
    for i in range(size):
        unit = f"a-{2 * rng.randrange(subjects // 2):06d}"  # one with a stored grant
        ts = now_ms - rng.randrange(60_000)
        if i % 5 < 4:
            variant = rng.choice(["a", "b", None])
            reason = "personalized" if variant else "holdout"
            token = signer.sign(unit, "hiking-hero", variant, reason, "rv-bench", ts // 1000 - 1)
            events.append(
                {"type": "exposure", "event_id": uuid.uuid4().hex, "token": token, "ts": ts}
            )
        else:
            events.append(
                {
                    "type": "conversion",
                    "event_id": uuid.uuid4().hex,
                    "unit_id": unit,
                    "name": "purchase",
                    "value": 59.9,
                    "currency": "EUR",
                    "ts": ts,
                }
            )
    return orjson.dumps({"events": events})


def bench_events(
    n: int, per_request: int, meter: Meter, sink: io.StringIO, memory_mb: int, subjects: int
) -> Events:
    from earnest.tokens import TokenSigner
    from earnest_aws.clients import client
    from earnest_aws.settings import parse_keys, settings
    from earnest_cli.local_stack import LambdaContext, function_url_event, load_handler

    handler = load_handler("record_exposure")
    assert handler is not None
    signer = TokenSigner(parse_keys(KEYS, "EXPOSURE_TOKEN_KEYS"))
    rng = random.Random(11)
    context = LambdaContext("record_exposure", "bench")
    headers = {"content-type": "text/plain;charset=UTF-8"}  # a beacon
    bodies = [event_batch(signer, per_request, rng, subjects) for _ in range(n)]
    for body in bodies[:20]:
        handler(function_url_event("POST", "/events", "", headers, body, "127.0.0.1"), context)
    s3 = client("s3")
    bucket = settings().events_bucket
    before = {o["Key"] for o in _objects(s3, bucket)}
    events = [function_url_event("POST", "/events", "", headers, b, "127.0.0.1") for b in bodies]
    runs = invoke_all(handler, events, context, meter, sink)
    assert all(r["statusCode"] == 202 for r in runs.responses), runs.responses[0]
    stored = sum(orjson.loads(r["body"])["stored"] for r in runs.responses)
    written = [o for o in _objects(s3, bucket) if o["Key"] not in before]
    assert stored == n * per_request, f"{stored} of {n * per_request} events stored"
    return Events(
        cost.Invocation(memory_mb, statistics.fmean(runs.own_ms), runs.per_invocation()),
        per_request,
        sum(o["Size"] for o in written) / stored,
        pct(runs.own_ms, 0.5),
        pct(runs.own_ms, 0.99),
        {k: v / n for k, v in runs.ops.items()},
    )


def _objects(s3: Any, bucket: str) -> list[dict[str, Any]]:
    out, token = [], None
    while True:
        page = s3.list_objects_v2(
            Bucket=bucket, Prefix="events/", **({"ContinuationToken": token} if token else {})
        )
        out += page.get("Contents", [])
        token = page.get("NextContinuationToken")
        if not token:
            return out


@dataclass(frozen=True)
class NightRun:
    events: int
    objects: int
    bytes: int
    seconds: float
    own_seconds: float
    meter_calls: cost.Calls
    event_gets: int
    event_lists: int
    ops: dict[str, int]


def bench_night(units: int, per_object: int, meter: Meter, tag: str) -> NightRun:
    """One nightly run over a window of `units` visitors' events (two experiences, a known
    effect, three days), stored in objects of `per_object` events."""
    from earnest_aws.clients import client
    from earnest_aws.experiences_store import ExperiencesStore
    from earnest_aws.nightly_report import ReportOptions, run, stores_from_settings
    from earnest_aws.settings import settings
    from tests.builders.experiences import allocated, one_variant, two_variants
    from tests.builders.report_events import objects, simulate

    s = settings()
    store = ExperiencesStore(s.experiences_table)
    docs = [one_variant(f"winner-{tag}", "home-hero"), two_variants(f"mixed-{tag}", "pdp-recs")]
    for doc in docs:
        store.save(doc, None, actor="bench", action="create", ops=allocated(doc, ALLOCATED))
    rates = {
        f"winner-{tag}": {None: 0.08, "b": 0.12},
        f"mixed-{tag}": {None: 0.10, "a": 0.10, "b": 0.04},
    }
    records = simulate(docs, units, rates, NIGHT, prefix=tag, days=3)
    s3 = client("s3")
    stored = objects(records, per_object)
    for key, data in stored.items():
        s3.put_object(
            Bucket=s.events_bucket, Key=key.replace(".ndjson", f"-{tag}.ndjson"), Body=data
        )
    options = ReportOptions()
    stores = stores_from_settings(s, options)
    with metered(meter):
        start = time.perf_counter()
        run(NIGHT, s, options, stores=stores)
        elapsed = time.perf_counter() - start
    scanned = sum(map(table_units, meter.scans))  # the experiences table as the run read it
    calls = replace(meter.calls(), read_units=meter.read_units + scanned)
    for doc in docs:  # the next size's night reads only its own experiences and events
        found = store.get(doc["id"])
        assert found is not None
        store.save(
            {**found.authored, "status": "retired"}, found.version, actor="bench", action="retire"
        )
    for o in _objects(s3, s.events_bucket):
        s3.delete_object(Bucket=s.events_bucket, Key=o["Key"])
    return NightRun(
        len(records),
        len(stored),
        sum(len(d) for d in stored.values()),
        elapsed,
        elapsed - meter.aws_seconds,
        calls,
        meter.event_gets,
        meter.event_lists,
        dict(meter.ops),
    )


def night_model(
    empty: NightRun, full: NightRun, memory_mb: int, stored_bytes_per_event: float
) -> cost.Night:
    """Fixed time from a night without events, time per event from a full one; the calls
    that are not the window's; the bytes an event takes as record-exposure stores it (what
    Athena scans)."""
    per_event = (full.own_seconds - empty.own_seconds) / full.events
    c = full.meter_calls
    fixed_calls = cost.Calls(
        dynamodb=c.dynamodb,
        read_units=c.read_units,
        write_units=c.write_units,
        s3_puts=c.s3_puts,
        s3_lists=c.s3_lists - full.event_lists,
        s3_gets=c.s3_gets - full.event_gets,
    )
    return cost.Night(
        memory_mb, empty.own_seconds * 1000, per_event * 1000, fixed_calls, stored_bytes_per_event
    )


# -- printing ---------------------------------------------------------------------------------


def usd(value: float) -> str:
    if value == 0:
        return "0"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:,.2f}"
    return f"{value:.2g}" if value < 0.01 else f"{value:.3f}"


def lines_table(title: str, lines: Mapping[str, float]) -> list[str]:
    out = [f"| {title} | $ |", "|---|---|"]
    out += [f"| {name} | {usd(v)} |" for name, v in lines.items()]
    out.append(f"| **total** | **{usd(sum(lines.values()))}** |")
    return out


def memory_of(function: str) -> int:
    from earnest_cli.template import load_template

    resources = load_template()["Resources"]
    props = resources[function]["Properties"]
    return int(props.get("MemorySize") or load_template()["Globals"]["Function"]["MemorySize"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests, smaller nights")
    args = parser.parse_args()
    prices = cost.load(PRICES)
    per_request = int(prices.assume("events_per_request"))
    n_decide, n_events = (400, 100) if args.quick else (3000, 600)
    night_units = (0, 8000) if args.quick else (0, 40000)
    os.environ.update(ENV)
    os.environ.pop("AWS_ENDPOINT_URL", None)

    from moto import mock_aws

    from earnest_aws.clients import _session, client, reset
    from earnest_aws.experiences_store import ExperiencesStore
    from earnest_aws.settings import settings
    from earnest_cli import files
    from earnest_cli.template import create_resources

    meter = Meter()
    sink = io.StringIO()
    out: Callable[[str], None] = print
    with mock_aws(), redirect_stdout(sink):  # the functions' log and metric lines are counted
        reset()
        settings.cache_clear()
        meter.install(_session())
        s = settings()
        create_resources(client("dynamodb"), client("s3"), s)
        authored = files.load([ROOT / "examples" / "experiences"])
        store = ExperiencesStore(s.experiences_table)
        for name, ids in authored.saved_groups.items():
            store.save_group(name, ids, "bench")
        for _, doc in authored.experiences:
            store.save(doc, None, actor="bench", action="create")
        subjects = n_decide
        for i in range(0, subjects, 2):  # half the visitors have a stored grant
            client("dynamodb").put_item(TableName=s.consent_table, Item=consent_item(f"a-{i:06d}"))
        decide, handler = bench_decide(n_decide, meter, sink, memory_of("DecideFunction"))
        refresh_units, refresh_ms, refresh_ops = bench_refresh(handler, meter, s.experiences_table)
        events = bench_events(
            n_events, per_request, meter, sink, memory_of("RecordExposureFunction"), subjects
        )
        nights = [bench_night(u, per_request, meter, f"n{u}") for u in night_units]
    night = night_model(*nights, memory_of("NightlyReportFunction"), events.stored_bytes_per_event)
    report(out, prices, decide, (refresh_units, refresh_ms, refresh_ops), events, nights, night)


def report(
    out: Callable[[str], None],
    prices: cost.Prices,
    decide: Decide,
    refresh: tuple[float, float, dict[str, int]],
    events: Events,
    nights: list[NightRun],
    night: cost.Night,
) -> None:
    load = os.getloadavg()
    when = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    loads = " ".join(f"{x:.2f}" for x in load)
    out(
        f"# bench_cost: {when}, Python {platform.python_version()}, "
        f"load average {loads}, {os.cpu_count()} cores"
    )
    out("")
    out("## Measured (moto in-process; the time moto takes to answer taken out)")
    out("")
    out("| input | figure |")
    out("|---|---|")
    d = decide
    out(
        f"| decide, {d.n} requests of 2 placements: own time p50 / p99 / mean | "
        f"{d.p50_ms:.2f} / {d.p99_ms:.2f} / {d.invocation.compute_ms:.2f} ms |"
    )
    out(
        f"| decide, with the in-process consent read: p50 / p99 | "
        f"{d.p50_total_ms:.2f} / {d.p99_total_ms:.2f} ms |"
    )
    out(
        f"| decide, memory one request allocates (tracemalloc peak): p50 / p99 | "
        f"{d.p50_alloc_kib:.0f} / {d.p99_alloc_kib:.0f} KiB |"
    )
    out(
        f"| decide, configured memory; the bench process's peak RSS (moto included) | "
        f"{d.invocation.memory_mb} MB; {d.rss_mib:.0f} MiB |"
    )
    ops = ", ".join(f"{k} {v:.2f}" for k, v in sorted(d.ops.items()))
    out(
        f"| decide, AWS requests per decision | {ops}; {d.invocation.calls.read_units:.2f} read "
        f"units (strongly consistent) |"
    )
    out(f"| decide, log bytes per decision | {d.invocation.calls.log_bytes:.0f} |")
    units, ms, rops = refresh
    rops_text = ", ".join(f"{k} {v}" for k, v in sorted(rops.items()))
    out(
        f"| rules refresh (every RULES_TTL_SECONDS per warm container): requests; read units; "
        f"own time | {rops_text}; {units:.1f}; {ms:.1f} ms |"
    )
    e = events
    out(
        f"| record-exposure, requests of {e.per_request} events: own time p50 / p99 / mean | "
        f"{e.p50_ms:.2f} / {e.p99_ms:.2f} / {e.invocation.compute_ms:.2f} ms |"
    )
    ops = ", ".join(f"{k} {v:.2f}" for k, v in sorted(e.ops.items()))
    out(
        f"| record-exposure, AWS requests per request | {ops}; "
        f"{e.invocation.calls.read_units:.2f} read units |"
    )
    out(
        f"| record-exposure, log bytes per request; stored bytes per event (gzip NDJSON) | "
        f"{e.invocation.calls.log_bytes:.0f}; {e.stored_bytes_per_event:.1f} |"
    )
    for n in nights:
        out(
            f"| nightly run, {n.events:,} events in {n.objects:,} objects ({n.bytes:,} bytes): "
            f"time; own time | {n.seconds:.2f} s; {n.own_seconds:.2f} s |"
        )
    big = nights[-1]
    ops = ", ".join(f"{k} {v}" for k, v in sorted(big.ops.items()))
    out(f"| nightly run, AWS requests of the night with events | {ops} |")
    out(
        f"| nightly run: fixed own time (the night without events); own time per event | "
        f"{night.fixed_ms:.0f} ms; "
        f"{night.per_event_ms * 1000:.2f} µs |"
    )
    out(
        f"| Athena bytes scanned per event: every gzip byte of the window, as record-exposure "
        f"stores it | {night.stored_bytes_per_event:.1f} |"
    )
    out("")
    out(
        f"## Prices ({prices.meta.get('region')}, as known in {prices.meta.get('as_known_on')}; "
        f"{prices.meta.get('checked')})"
    )
    out("")
    for line in cost.price_table(prices):
        out(line)
    out("")
    a = prices.assumptions
    out("Assumptions: " + "; ".join(f"{k} = {v}" for k, v in a.items()))
    out("")
    out("## Per million")
    out("")
    decide_inv = decide.invocation
    out(
        f"decide's modelled duration: {cost.duration_ms(decide_inv, prices):.2f} ms "
        f"(own {decide_inv.compute_ms:.2f} ms + {decide_inv.calls.dynamodb:.2f} DynamoDB round "
        f"trips), billed at {decide_inv.memory_mb} MB"
    )
    out("")
    for line in lines_table("a million decisions", cost.per_million_decisions(decide_inv, prices)):
        out(line)
    at_p99 = cost.Invocation(decide_inv.memory_mb, decide.p99_ms, decide_inv.calls)
    out("")
    out(
        f"If every decision took decide's p99 own time: "
        f"${usd(sum(cost.per_million_decisions(at_p99, prices).values()))} a million."
    )
    out("")
    ev = cost.Invocation(
        events.invocation.memory_mb,
        events.invocation.compute_ms,
        events.invocation.calls,
        bool(prices.assumptions["events_through_cloudfront"]),
    )
    million_events = cost.per_million_events(ev, events.stored_bytes_per_event, prices)
    for line in lines_table(f"a million events ({per_request(prices)} a request)", million_events):
        out(line)
    refresh_units = refresh[0]
    per_month = cost.DAYS_PER_MONTH * 86_400 / 30 * refresh_units * prices.usd("dynamodb_read_unit")
    out("")
    out(
        f"Rules refresh: ${usd(per_month)} a month per warm decide container "
        f"(RULES_TTL_SECONDS 30; each refresh scans the whole experiences table, audit "
        f"entries included)."
    )
    out("")
    out("## At three traffic sizes (decisions a day)")
    out("")
    out(
        "| traffic | decisions a day | events a day | decide $ a day | events $ a day "
        "| night in the function: $ (s) | night with Athena: $ (s) | $ a month |"
    )
    out("|---|---|---|---|---|---|---|---|")
    per_decision = sum(cost.per_million_decisions(decide_inv, prices).values()) / cost.MILLION
    per_event = sum(million_events.values()) / cost.MILLION
    for name, decisions in prices.traffic.items():
        n_events = decisions * prices.assume("events_per_decision")
        py = cost.night_python(night, decisions, prices)
        ath = cost.night_athena(night, decisions, prices)
        fits = py.seconds <= ALARM_SECONDS
        chosen = py if fits else ath
        month = cost.DAYS_PER_MONTH * (
            decisions * per_decision + n_events * per_event + chosen.total
        )
        python_night = f"{usd(py.total)} ({py.seconds:,.0f})" + ("" if fits else ": too long")
        out(
            f"| {name} | {decisions:,} | {n_events:,.0f} | {usd(decisions * per_decision)} | "
            f"{usd(n_events * per_event)} | {python_night} | {usd(ath.total)} "
            f"({ath.seconds:,.0f}) | {usd(month)} ({chosen.path}) |"
        )
    out("")
    largest = max(prices.traffic.values())
    for label, nc in (
        ("python", cost.night_python(night, largest, prices)),
        ("athena", cost.night_athena(night, largest, prices)),
    ):
        lines = ", ".join(f"{k} {usd(v)}" for k, v in nc.usd.items())
        out(f"Night at {largest:,} decisions a day, {label}: {lines}")
    out("")
    out("How many events a request carries moves the request counts most (the function's own")
    out("time per event, measured at the assumed size, held):")
    out("")
    out(
        "| events a request | S3 PUTs per million events | objects a night reads (medium) "
        "| S3 $ a night (medium) |"
    )
    out("|---|---|---|---|")
    medium = sorted(prices.traffic.values())[len(prices.traffic) // 2]
    for size in (1, 10, 100):
        varied = cost.with_assumption(prices, events_per_request=size)
        _, objects = cost.window(medium, varied)
        night_s3 = cost.night_python(night, medium, varied).usd["s3_requests"]
        out(f"| {size} | {cost.MILLION / size:,.0f} | {objects:,.0f} | {usd(night_s3)} |")
    out("")
    out("## Where Athena takes over")
    out("")
    for seconds, what in (
        (ALARM_SECONDS, "the nightly-report-p99-duration alarm"),
        (900, "Lambda's 15 minutes"),
    ):
        d = cost.decisions_within(night, seconds, prices)
        events_read, objects = cost.window(d, prices)
        out(
            f"- the Python path's night reaches {seconds} s ({what}) at {d:,.0f} decisions a day "
            f"({events_read:,.0f} events in {objects:,.0f} objects read)"
        )
    crossover = cost.cost_crossover(night, prices)
    out(
        "- the Athena night costs less from "
        + (f"{crossover:,.0f} decisions a day" if crossover is not None else "no traffic size")
    )


def per_request(prices: cost.Prices) -> int:
    return int(prices.assume("events_per_request"))


if __name__ == "__main__":
    main()
