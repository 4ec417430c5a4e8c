"""decide's speed: engine throughput, handler overhead and cold start. Prints its figures.

Scenario (the one existing SDKs were measured on): 50 live experiences, each with a
condition on attributes (country in a list, device equals, a number at least a threshold,
a boolean), 10 % holdout, 2-3 weighted variants; 20,000 distinct visitors; one page
decision evaluates all 50; single thread. The engine, its floor and GrowthBook are timed
in CPU time (`time.process_time`): single-threaded loops without I/O, whose wall time on a
shared machine also counts the other processes' turns.

    .venv/bin/python bench/bench_decide.py [--quick]
        [--only=floor,engine,growthbook,handler,memory,cold]

`memory` is decide's latency with the unit's memory against without, in one run: the same
50 experiences with and without frequency caps and dismissals, each request decided both
ways in turn (the order alternating), through decide's service and the real consent store
against in-process moto: the consent read (with the memory item in the same BatchGetItem
when a live experience remembers) plus the engine.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # infra.package: the build that is measured

from infra.package import (  # noqa: E402
    LAMBDA_PYTHON,
    compile_bytecode,
    find_python,
    package,
    pip_install,
    runtime_pins,
)

COUNTRIES = ["DE", "AT", "CH", "FR", "IT", "ES", "NL", "BE", "PL", "SE", "US", "GB"]
DEVICES = ["mobile", "desktop", "tablet"]
GRANTED = {"personalization": "granted", "measurement": "granted"}


def scenario(
    n_experiences: int = 50, n_visitors: int = 20_000, seed: int = 7
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(seed)
    experiences = []
    for i in range(n_experiences):
        n_variants = rng.choice([2, 3])
        experiences.append(
            {
                "id": f"exp-{i:02d}",
                "placement": f"slot-{i:02d}",
                "owner": "bench@shop.example",
                "status": "live",
                "audience": {
                    "context.country": {"$in": rng.sample(COUNTRIES, 4)},
                    "context.device": rng.choice(DEVICES),
                    "attributes.ltv": {"$gte": rng.choice([10, 50, 100, 200])},
                    "attributes.returning": rng.choice([True, False]),
                },
                "requires_consent": ["personalization"],
                "variants": [
                    {"id": f"v{j}", "weight": rng.randint(1, 5), "content": {"slot": i, "v": j}}
                    for j in range(n_variants)
                ],
                "default": {"slot": i, "v": "default"},
                "holdout": 0.1,
            }
        )
    placements = [e["placement"] for e in experiences]
    visitors = [
        {
            "visitor": {
                "anonymous_id": f"anon-{k}",
                "user_id": f"user-{k}",
                "identity_confidence": 1.0,
            },
            "placements": placements,
            "context": {"country": rng.choice(COUNTRIES), "device": rng.choice(DEVICES)},
            "attributes": {"ltv": rng.randint(0, 400), "returning": rng.random() < 0.5},
        }
        for k in range(n_visitors)
    ]
    return experiences, visitors


def bench_floor(quick: bool) -> float:
    """The floor the issue quotes: the same audiences as a bare dict-and-mmh3 loop, in a
    function (fast locals), no consent, no answers, no validation."""
    import mmh3

    experiences, visitors = scenario(n_visitors=5_000 if quick else 20_000)
    rules = [
        (
            frozenset(e["audience"]["context.country"]["$in"]),
            e["audience"]["context.device"],
            e["audience"]["attributes.ltv"]["$gte"],
            e["audience"]["attributes.returning"],
            mmh3.hash(e["id"], 0, signed=False),
        )
        for e in experiences
    ]

    def loop() -> None:
        for body in visitors:
            out = {}
            c, a, unit = body["context"], body["attributes"], body["visitor"]["anonymous_id"]
            for countries, device, ltv, returning, seed in rules:
                if (
                    c.get("country") in countries
                    and c.get("device") == device
                    and a.get("ltv", 0) >= ltv
                    and a.get("returning") == returning
                ):
                    out[seed] = mmh3.hash(unit, seed, signed=False) / 4294967296
                else:
                    out[seed] = None

    best = 0.0
    for _ in range(1 if quick else 3):
        start = time.process_time()
        loop()
        best = max(best, len(visitors) / (time.process_time() - start))
    print(f"floor: bare dict-and-mmh3 loop, same scenario: {best:,.0f} pages/s")
    return best


def bench_engine(quick: bool) -> float:
    """The engine as decide's service calls it: the request already checked (once, by
    `validate_request`, whose cost is printed beside it)."""
    from earnest.decide.engine import Engine
    from earnest.decide.request import validate_request

    experiences, visitors = scenario(n_visitors=5_000 if quick else 20_000)
    engine = Engine(experiences, global_holdout=0.05, max_placements=50)
    for body in visitors[:500]:  # warm up
        engine.decide(body, GRANTED, validate=False)
    best = best_check = 0.0
    for _ in range(1 if quick else 3):
        start = time.process_time()
        for body in visitors:
            engine.decide(body, GRANTED, validate=False)
        best = max(best, len(visitors) / (time.process_time() - start))
        start = time.process_time()
        for body in visitors:
            validate_request(body, 50, engine.known_placements)
        best_check = max(best_check, len(visitors) / (time.process_time() - start))
    reasons: dict[str, int] = {}
    for body in visitors[:2000]:
        for d in engine.decide(body, GRANTED)["decisions"].values():
            reasons[d["reason"]] = reasons.get(d["reason"], 0) + 1
    print(f"engine: {best:,.0f} page decisions/s ({1e6 / best:.1f} µs per page of 50 experiences)")
    print(f"request checks (validate_request, once per request): {1e6 / best_check:.1f} µs")
    print(f"engine: reasons over 2,000 pages: {dict(sorted(reasons.items()))}")
    return best


def bench_growthbook(quick: bool) -> float:
    """GrowthBook's Python SDK on the same scenario (the peers' comparison): one GrowthBook
    per visitor, its 50 experiments run (condition, 90 % coverage, weights), no tracking."""
    from growthbook import Experiment, GrowthBook

    experiences, visitors = scenario(n_visitors=1_000 if quick else 4_000)
    runs = []
    for e in experiences:
        weights = [float(v["weight"]) for v in e["variants"]]
        runs.append(
            Experiment(
                key=e["id"],
                variations=[v["id"] for v in e["variants"]],
                weights=[w / sum(weights) for w in weights],
                coverage=1 - e["holdout"],
                condition={k.split(".", 1)[1]: v for k, v in e["audience"].items()},
            )
        )
    pages = [
        {"id": b["visitor"]["anonymous_id"], **b["context"], **b["attributes"]} for b in visitors
    ]
    best = 0.0
    for _ in range(1 if quick else 3):
        start = time.process_time()
        for attributes in pages:
            gb = GrowthBook(attributes=attributes)
            for experiment in runs:
                gb.run(experiment)
        best = max(best, len(pages) / (time.process_time() - start))
    print(f"GrowthBook Python SDK, same scenario: {best:,.0f} page decisions/s")
    return best


def bench_handler(quick: bool) -> None:
    """Handler overhead: the whole invocation minus the engine and the consent read."""
    os.environ.setdefault("EXPOSURE_TOKEN_KEYS", "bench:bench-exposure-token-secret")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        os.environ.setdefault(key, "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ["MAX_PLACEMENTS"] = "50"
    os.environ["POWERTOOLS_METRICS_NAMESPACE"] = "Earnest"
    import io
    from contextlib import redirect_stdout

    import orjson
    from moto import mock_aws

    sys.path.insert(0, str(ROOT / "tests"))
    from earnest_aws.clients import client, reset
    from earnest_aws.experiences_store import ExperiencesStore
    from earnest_aws.settings import settings
    from earnest_cli.local_stack import LambdaContext, function_url_event, load_handler
    from earnest_cli.template import create_resources

    experiences, visitors = scenario(n_visitors=1_000 if quick else 5_000)
    with mock_aws():
        reset()
        settings.cache_clear()
        create_resources(client("dynamodb"), client("s3"), settings())
        store = ExperiencesStore(settings().experiences_table)
        for doc in experiences:
            store.save({**doc, "owner": "bench@shop.example"}, None, actor="bench", action="create")
        module_handler = load_handler("decide")
        assert module_handler is not None
        g = module_handler.__wrapped__.__globals__  # type: ignore[attr-defined]
        timings = {"engine": 0.0, "consent": 0.0}
        engine = g["RULES"].engine()
        real_decide, real_consent = engine.decide, g["CONSENT"].purposes_for

        def timed_decide(*a: Any, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return real_decide(*a, **k)
            finally:
                timings["engine"] += time.perf_counter() - t

        def timed_consent(*a: Any, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return real_consent(*a, **k)
            finally:
                timings["consent"] += time.perf_counter() - t

        engine.decide = timed_decide
        g["CONSENT"].purposes_for = timed_consent
        events = [
            function_url_event(
                "POST",
                "/decide",
                "",
                {"content-type": "application/json"},
                orjson.dumps(v),
                "127.0.0.1",
            )
            for v in visitors
        ]
        context = LambdaContext("decide", "bench")
        overheads, totals, sizes = [], [], []
        sink = io.StringIO()
        with redirect_stdout(sink):  # EMF metric lines; CloudWatch reads them, the bench doesn't
            for event in events:
                timings["engine"] = timings["consent"] = 0.0
                t = time.perf_counter()
                response = module_handler(event, context)
                total = time.perf_counter() - t
                assert response["statusCode"] == 200, response
                totals.append(total)
                overheads.append(total - timings["engine"] - timings["consent"])
                sizes.append(len(response["body"]))
                sink.seek(0)
                sink.truncate()
    overheads.sort()
    totals.sort()

    def pct(xs: list[float], p: float) -> float:
        return xs[min(len(xs) - 1, int(p * len(xs)))] * 1e6

    print(
        f"handler overhead (beyond engine + consent read), 50 placements: "
        f"p50 {pct(overheads, 0.5):.0f} µs, p99 {pct(overheads, 0.99):.0f} µs"
    )
    print(
        f"handler total incl. engine and in-process moto consent read: "
        f"p50 {pct(totals, 0.5):.0f} µs; response {statistics.median(sizes) / 1024:.1f} KiB"
    )


def bench_memory(quick: bool) -> None:
    """decide with memory against without: one interleaved run, wall time per request."""
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        os.environ.setdefault(key, "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from moto import mock_aws

    from earnest.decide.engine import Engine
    from earnest_aws.clients import client, reset
    from earnest_aws.consent_store import ConsentStore
    from earnest_aws.settings import settings
    from earnest_cli.template import create_resources

    experiences, visitors = scenario(n_visitors=300 if quick else 2_000)
    remembering = [
        {**e, "frequency_cap": {"max_exposures": 5, "per_days": 7}, "dismiss_for_days": 30}
        for e in experiences
    ]
    engines = {
        "without memory": Engine(experiences, global_holdout=0.05, max_placements=50),
        "with memory": Engine(remembering, global_holdout=0.05, max_placements=50),
    }
    now = time.time()
    with mock_aws():
        reset()
        settings.cache_clear()
        create_resources(client("dynamodb"), client("s3"), settings())
        consent = ConsentStore(settings().consent_table, client("dynamodb"))
        _remembered_visitors(consent, visitors, now)
        times, reasons = _interleaved(engines, consent, visitors, now)
        reads = [
            consent.purposes_and_memory(
                [v["visitor"]["anonymous_id"]], v["visitor"]["anonymous_id"]
            )
            for v in visitors
        ]
    medians = {}
    for name, xs in times.items():
        xs.sort()
        medians[name] = statistics.median(xs)
        p99 = xs[min(len(xs) - 1, int(0.99 * len(xs)))]
        print(
            f"decide {name} (consent read + engine, 50 placements, in-process moto): "
            f"p50 {medians[name] * 1e6:.0f} µs, p99 {p99 * 1e6:.0f} µs"
        )
    ratio = medians["with memory"] / medians["without memory"]
    print(f"decide with memory / without, p50, this run: {ratio:.2f}")
    cpu = {}
    for name, engine in engines.items():  # the engine alone, the memory already read
        start = time.process_time()
        for body, (_, memory) in zip(visitors, reads, strict=True):
            engine.decide(body, GRANTED, validate=False, memory=memory, now=now)
        cpu[name] = (time.process_time() - start) / len(visitors)
        print(f"engine alone {name}: {cpu[name] * 1e6:.0f} µs CPU per page of 50 placements")
    print(f"engine alone with memory / without: {cpu['with memory'] / cpu['without memory']:.2f}")
    print(f"with memory: reasons over {len(visitors)} pages: {dict(sorted(reasons.items()))}")


def _remembered_visitors(consent: Any, visitors: list[dict[str, Any]], now: float) -> None:
    """Each visitor's stored consent, and memory of a few experiences over the last days."""
    from earnest.memory import DAY_MS, Remembered, remember
    from earnest_aws.memory_store import MemoryStore

    now_ms, rng = int(now * 1000), random.Random(11)
    memory = MemoryStore(consent.table, consent.dynamodb)
    granted = {"M": {"personalization": {"S": "granted"}, "measurement": {"S": "granted"}}}
    for body in visitors:
        unit = body["visitor"]["anonymous_id"]
        state = {"subject_id": {"S": unit}, "record": {"S": "state"}}
        consent.dynamodb.put_item(
            TableName=consent.table, Item={**state, "r_default": {"M": {"purposes": granted}}}
        )
        seen = [
            Remembered(
                f"{unit}-{i}", f"exp-{rng.randrange(50):02d}", now_ms - rng.randrange(9) * DAY_MS
            )
            for i in range(rng.randrange(30))
        ]
        closed = [Remembered(f"{unit}-d", f"exp-{rng.randrange(50):02d}", now_ms)]
        closed = closed if rng.random() < 0.2 else []
        memory.update(unit, None, lambda m, x=seen, d=closed: remember(m, x, d, now_ms), now_ms)


def _interleaved(
    engines: dict[str, Any], consent: Any, visitors: list[dict[str, Any]], now: float
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Each request decided by each engine in turn, the order alternating; after a warm-up."""
    from earnest.decide.service import decide

    times: dict[str, list[float]] = {name: [] for name in engines}
    reasons: dict[str, int] = {}
    order = list(engines)
    for warm in (True, False):
        for body in visitors[:100] if warm else visitors:
            order.reverse()
            for name in order:
                t = time.perf_counter()
                answer = decide(
                    body, engines[name], consent, max_placements=50, request_id="b", now=now
                )
                if warm:
                    continue
                times[name].append(time.perf_counter() - t)
                if name == "with memory":
                    for d in answer["decisions"].values():
                        reasons[d["reason"]] = reasons.get(d["reason"], 0) + 1
    return times, reasons


COLD_HANDLER = """
import sys, time
t, c = time.perf_counter(), time.process_time()
sys.path[:0] = sys.argv[1:]
import app
print(time.perf_counter() - t, time.process_time() - c)
"""
COLD_BASELINE = """
import sys, time
t, c = time.perf_counter(), time.process_time()
sys.path[:0] = sys.argv[1:]
import boto3
boto3.client("dynamodb")
print(time.perf_counter() - t, time.process_time() - c)
"""


def packaged(build: Path) -> tuple[str, list[Path], Path]:
    """decide as `make package` ships it (for this machine's architecture) and the runtime's
    boto3 beside it, both with their bytecode: (python, decide's sys.path, boto3's folder)."""
    import platform

    python = find_python(LAMBDA_PYTHON)
    if python is None:
        raise SystemExit(f"cold start is measured under CPython {LAMBDA_PYTHON}: none found")
    host = f"manylinux2014_{platform.machine()}"
    cache = ROOT / ".earnest" / "wheels"
    layer = package(build / "package", LAMBDA_PYTHON, host, cache) / "python"
    runtime = build / "runtime"  # Lambda's python3.12 ships boto3 compiled, as here
    pip_install(runtime_pins(LAMBDA_PYTHON, host), runtime, LAMBDA_PYTHON, host, cache)
    compile_bytecode([runtime], LAMBDA_PYTHON)
    return python, [build / "package" / "DecideFunction", layer, runtime], runtime


def bench_cold_start(quick: bool) -> None:
    """As packaged, under the runtime's Python: `python -I -S` sees only the function, the
    layer and boto3, as /var/task, /opt/python and the runtime's own folder."""
    import tempfile

    env = {
        "EXPOSURE_TOKEN_KEYS": "bench:bench-exposure-token-secret",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_SERVICE_NAME": "decide",
    }
    runs = 5 if quick else 15
    with tempfile.TemporaryDirectory(prefix="earnest-cold-") as tmp:
        python, paths, runtime = packaged(Path(tmp))
        handler_times: list[tuple[float, float]] = []
        baseline_times: list[tuple[float, float]] = []
        for _ in range(runs):  # interleaved, so both see the same machine state
            for code, path, times in (
                (COLD_HANDLER, paths, handler_times),
                (COLD_BASELINE, [runtime], baseline_times),
            ):
                out = subprocess.run(
                    [python, "-I", "-S", "-c", code, *map(str, path)],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                wall, cpu = out.stdout.strip().splitlines()[-1].split()
                times.append((float(wall), float(cpu)))
    version = subprocess.run([python, "-V"], capture_output=True, text=True).stdout.strip()
    for i, what in enumerate(("wall", "CPU")):  # CPU time: steadier on a shared machine
        h = statistics.median(t[i] for t in handler_times)
        b = statistics.median(t[i] for t in baseline_times)
        print(
            f"cold start, as packaged ({version}, bytecode shipped), {what} time: decide "
            f"handler import + clients {h * 1000:.0f} ms; import boto3 + one DynamoDB client "
            f"{b * 1000:.0f} ms; ratio {h / b:.2f} (median of {runs}, interleaved)"
        )


def main() -> None:
    quick = "--quick" in sys.argv
    only = [n for a in sys.argv if a.startswith("--only=") for n in a[7:].split(",")]
    rates: dict[str, float] = {}
    for name, bench in {
        "floor": bench_floor,
        "engine": bench_engine,
        "growthbook": bench_growthbook,
        "handler": bench_handler,
        "memory": bench_memory,
        "cold": bench_cold_start,
    }.items():
        if not only or name in only:
            rates[name] = bench(quick) or 0.0
    if rates.get("engine") and rates.get("floor"):
        print(f"engine / floor, this run: {rates['engine'] / rates['floor']:.2f}")
    if rates.get("engine") and rates.get("growthbook"):
        print(f"engine / GrowthBook, this run: {rates['engine'] / rates['growthbook']:.1f}x")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
