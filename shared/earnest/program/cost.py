"""What personalization costs: list prices times the requests and time Earnest measurably uses.

The arithmetic of docs/cost.md. Its inputs are a price table (bench/prices.toml: public
list prices with their dates, and the assumptions about traffic) and what
bench/bench_cost.py measures per invocation of each function (time outside AWS calls, the
AWS requests by how they are billed, log bytes). It answers: dollars per million decisions,
per million events, per night at three traffic sizes, and where the nightly run should
switch from aggregating in the function to Athena.

Pure: stdlib only (tomllib reads the table). It must not import boto3 or `earnest_aws`.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

GB = 2**30  # AWS bills data in binary units
TB = 2**40
MB = 2**20
DAYS_PER_MONTH = 365.25 / 12
MILLION = 1_000_000
ATHENA_MIN_BYTES = 10 * MB  # Athena bills at least 10 MB a query

PRICES = (
    "lambda_gb_second",
    "lambda_request",
    "dynamodb_read_unit",
    "dynamodb_write_unit",
    "s3_put",
    "s3_get",
    "s3_storage_gb_month",
    "athena_tb_scanned",
    "cloudfront_request",
    "logs_ingested_gb",
)
ASSUMPTIONS = (
    "dynamodb_round_trip_ms",
    "s3_put_round_trip_ms",
    "s3_get_round_trip_ms",
    "s3_list_round_trip_ms",
    "athena_wait_seconds",
    "events_per_decision",
    "events_per_request",
    "nightly_days_read",
    "retention_days",
    "events_through_cloudfront",
)


@dataclass(frozen=True, slots=True)
class Price:
    usd: float
    per: str
    published: str
    source: str


@dataclass(frozen=True)
class Prices:
    """The price table: list prices by name, the assumptions, the traffic sizes."""

    prices: Mapping[str, Price]
    assumptions: Mapping[str, Any]
    traffic: Mapping[str, int]
    meta: Mapping[str, str] = field(default_factory=dict)

    def usd(self, name: str) -> float:
        return self.prices[name].usd

    def assume(self, name: str) -> float:
        return float(self.assumptions[name])


def load(path: Path) -> Prices:
    """The table at `path`; ValueError naming the first price or assumption it lacks."""
    raw = tomllib.loads(path.read_text())
    prices = {
        name: Price(float(p["usd"]), str(p["per"]), str(p["published"]), str(p["source"]))
        for name, p in raw.get("prices", {}).items()
    }
    for name in PRICES:
        if name not in prices:
            raise ValueError(f"{path}: prices.{name} is missing")
    for name in ASSUMPTIONS:
        if name not in raw.get("assumptions", {}):
            raise ValueError(f"{path}: assumptions.{name} is missing")
    traffic = {str(k): int(v) for k, v in raw.get("traffic", {}).items()}
    if not traffic:
        raise ValueError(f"{path}: [traffic] names no traffic size")
    return Prices(prices, dict(raw["assumptions"]), traffic, dict(raw.get("meta", {})))


@dataclass(frozen=True, slots=True)
class Calls:
    """The AWS requests of one invocation, as they are billed and waited for."""

    dynamodb: float = 0.0  # calls (each one round trip)
    read_units: float = 0.0
    write_units: float = 0.0
    s3_puts: float = 0.0  # PUT, COPY, POST
    s3_lists: float = 0.0  # LIST: billed as a PUT, waited for as a list
    s3_gets: float = 0.0  # GET, HEAD and the rest
    log_bytes: float = 0.0

    def __add__(self, other: Calls) -> Calls:
        return Calls(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(Calls)))

    def times(self, k: float) -> Calls:
        return Calls(*(getattr(self, f.name) * k for f in fields(Calls)))


@dataclass(frozen=True, slots=True)
class Invocation:
    """One invocation of a function: its memory, its own time, its AWS requests."""

    memory_mb: int
    compute_ms: float  # measured time outside AWS calls
    calls: Calls
    cloudfront: bool = False  # the request passed CloudFront


def duration_ms(inv: Invocation, prices: Prices) -> float:
    """The invocation's time in AWS: its own time plus one round trip per AWS call."""
    return (
        inv.compute_ms
        + inv.calls.dynamodb * prices.assume("dynamodb_round_trip_ms")
        + inv.calls.s3_puts * prices.assume("s3_put_round_trip_ms")
        + inv.calls.s3_lists * prices.assume("s3_list_round_trip_ms")
        + inv.calls.s3_gets * prices.assume("s3_get_round_trip_ms")
    )


def invocation_cost(inv: Invocation, prices: Prices) -> dict[str, float]:
    """Dollars of one invocation, line by line (Lambda bills its duration rounded up to 1 ms)."""
    billed_seconds = math.ceil(duration_ms(inv, prices)) / 1000
    c = inv.calls
    return {
        "lambda_requests": prices.usd("lambda_request"),
        "lambda_duration": billed_seconds * inv.memory_mb / 1024 * prices.usd("lambda_gb_second"),
        "dynamodb": c.read_units * prices.usd("dynamodb_read_unit")
        + c.write_units * prices.usd("dynamodb_write_unit"),
        "s3_requests": (c.s3_puts + c.s3_lists) * prices.usd("s3_put")
        + c.s3_gets * prices.usd("s3_get"),
        "cloudfront": prices.usd("cloudfront_request") if inv.cloudfront else 0.0,
        "logs": c.log_bytes / GB * prices.usd("logs_ingested_gb"),
    }


def scaled(lines: Mapping[str, float], k: float) -> dict[str, float]:
    return {name: usd * k for name, usd in lines.items()}


def per_million_decisions(decide: Invocation, prices: Prices) -> dict[str, float]:
    return scaled(invocation_cost(decide, prices), MILLION)


def per_million_events(
    request: Invocation, stored_bytes_per_event: float, prices: Prices
) -> dict[str, float]:
    """A million events in requests of `events_per_request`, and their storage for the
    retention period."""
    requests = MILLION / prices.assume("events_per_request")
    lines = scaled(invocation_cost(request, prices), requests)
    months = prices.assume("retention_days") / DAYS_PER_MONTH
    gb = MILLION * stored_bytes_per_event / GB
    lines["s3_storage"] = gb * months * prices.usd("s3_storage_gb_month")
    return lines


@dataclass(frozen=True, slots=True)
class Night:
    """What a nightly run costs apart from the window it reads: measured fixed and per-event."""

    memory_mb: int
    fixed_ms: float  # time outside AWS calls that does not grow with events
    per_event_ms: float  # time outside AWS calls per event read (the Python path)
    fixed_calls: Calls  # the experiences, the erased subjects, the report written
    stored_bytes_per_event: float  # gzip NDJSON as record-exposure stores it


@dataclass(frozen=True, slots=True)
class NightCost:
    path: str  # "python" (in the function) or "athena"
    events_read: float
    objects: float
    seconds: float  # the function's duration
    usd: dict[str, float]

    @property
    def total(self) -> float:
        return sum(self.usd.values())


def window(decisions_per_day: float, prices: Prices) -> tuple[float, float]:
    """(events, objects) a night reads at this traffic."""
    events = (
        decisions_per_day
        * prices.assume("events_per_decision")
        * prices.assume("nightly_days_read")
    )
    return events, events / prices.assume("events_per_request")


def listings(objects: float, prices: Prices) -> float:
    """LIST requests to find `objects`: a listing a day read, and one per 1,000 keys."""
    return prices.assume("nightly_days_read") + objects / 1000


def night_python(night: Night, decisions_per_day: float, prices: Prices) -> NightCost:
    """The Python path: every object of the window read by the function, one GET each."""
    events, objects = window(decisions_per_day, prices)
    reads = Calls(s3_gets=objects, s3_lists=listings(objects, prices))
    inv = Invocation(
        night.memory_mb,
        night.fixed_ms + night.per_event_ms * events,
        night.fixed_calls + reads,
    )
    return NightCost(
        "python", events, objects, duration_ms(inv, prices) / 1000, invocation_cost(inv, prices)
    )


def night_athena(night: Night, decisions_per_day: float, prices: Prices) -> NightCost:
    """The Athena path: one query scans the window's bytes (and GETs each object itself);
    the function waits for it."""
    events, objects = window(decisions_per_day, prices)
    waited = prices.assume("athena_wait_seconds") * 1000
    inv = Invocation(night.memory_mb, night.fixed_ms + waited, night.fixed_calls)
    usd = invocation_cost(inv, prices)
    scanned = max(events * night.stored_bytes_per_event, ATHENA_MIN_BYTES)
    usd["athena"] = scanned / TB * prices.usd("athena_tb_scanned")
    usd["s3_requests"] += objects * prices.usd("s3_get") + listings(objects, prices) * prices.usd(
        "s3_put"
    )
    return NightCost("athena", events, objects, duration_ms(inv, prices) / 1000, usd)


def decisions_within(night: Night, seconds: float, prices: Prices) -> float:
    """Decisions a day at which the Python path's night takes `seconds` (it grows linearly)."""
    base = night_python(night, 0, prices).seconds
    slope = night_python(night, 1_000_000, prices).seconds - base
    return max(0.0, (seconds - base) / slope * 1_000_000)


def cost_crossover(night: Night, prices: Prices, limit: float = 1e10) -> float | None:
    """Decisions a day from which the Athena path's night costs less (None: not below
    `limit`). Both grow with traffic, Athena's from its 10 MB minimum, so the first such
    traffic is found by doubling, then halving the interval."""

    def cheaper(d: float) -> bool:
        return night_athena(night, d, prices).total < night_python(night, d, prices).total

    high = 1000.0
    while not cheaper(high):
        high *= 2
        if high > limit:
            return None
    low = 0.0
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (low, mid) if cheaper(mid) else (mid, high)
    return high


def with_assumption(prices: Prices, **changes: Any) -> Prices:
    return replace(prices, assumptions={**prices.assumptions, **changes})


def price_table(prices: Prices) -> list[str]:
    """The prices as docs/cost.md shows them (Markdown), from the table the model reads."""
    out = ["| price | $ | per | published |", "|---|---|---|---|"]
    out += [f"| `{n}` | {p.usd:g} | {p.per} | {p.published} |" for n, p in prices.prices.items()]
    return out
