"""Events for report tests, in the stored schema (docs/architecture.md), with known effects.

Units are assigned by the real engine (so arms have their configured shares) and convert
with a chosen probability per arm, from a seeded generator: the true effect is known.
Written as gzip NDJSON objects under events/dt=YYYY-MM-DD/hour=HH/, to a folder or to S3.
"""

from __future__ import annotations

import gzip
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from earnest.decide.engine import Engine


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def at(day: date, hour: int = 10, minute: int = 0, second: float = 0.0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) + timedelta(
        seconds=second
    )


def exposure(
    unit: str,
    experience: str,
    variant: str | None,
    reason: str,
    when: datetime,
    event_id: str | None = None,
    segments: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An exposure as /events stores it (`segments`: its token's, when it has some)."""
    record: dict[str, Any] = {
        "event_id": event_id or f"x-{experience}-{unit}-{when.timestamp():.3f}",
        "type": "exposure",
        "unit_id": unit,
        "experience": experience,
        "variant": variant,
        "reason": reason,
        "rules_version": "test",
        "name": None,
        "value": None,
        "currency": None,
        "event_time": iso(when),
        "receive_time": iso(when + timedelta(seconds=1)),
        "request_id": "req-test",
    }
    if segments is not None:
        record["segments"] = segments
    return record


def conversion(
    unit: str,
    when: datetime,
    value: float | None = 25.0,
    name: str = "purchase",
    event_id: str | None = None,
) -> dict[str, Any]:
    return {
        "event_id": event_id or f"c-{unit}-{name}-{when.timestamp():.3f}",
        "type": "conversion",
        "unit_id": unit,
        "experience": None,
        "variant": None,
        "reason": None,
        "rules_version": None,
        "name": name,
        "value": value,
        "currency": "EUR" if value is not None else None,
        "event_time": iso(when),
        "receive_time": iso(when + timedelta(seconds=1)),
        "request_id": "req-test",
    }


def simulate(
    docs: Sequence[Mapping[str, Any]],
    units: int,
    rates: Mapping[str, Mapping[str | None, float]],
    day: date,
    *,
    global_holdout: float = 0.0,
    global_rate: float | None = None,
    seed: int = 7,
    prefix: str = "u",
    value: float = 25.0,
    days: int = 1,
) -> list[dict[str, Any]]:
    """Each unit visits every placement once, on one of `days` days ending with `day`.

    `rates[experience][arm]` is the true conversion probability of a unit whose first
    exposure was to that arm (None: the holdout); units in the global holdout convert at
    `global_rate` (default: the experience's holdout rate). Converters spend `value`.
    """
    engine = Engine(list(docs), global_holdout=global_holdout)
    placements = sorted({str(d["placement"]) for d in docs})
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    for i in range(units):
        unit = f"{prefix}-{i:06d}"
        when = at(day - timedelta(days=i % days), 8 + (i % 12), i % 60, (i % 997) / 17)
        response = engine.decide(
            {"visitor": {"anonymous_id": unit}, "placements": placements}, None
        )
        converted_value = 0.0
        for decision in response["decisions"].values():
            exp = decision["experience"]
            if exp is None:
                continue
            records.append(exposure(unit, exp, decision["variant"], decision["reason"], when))
            reason = decision["reason"]
            if reason == "global_holdout":
                p = global_rate if global_rate is not None else rates[exp][None]
            elif reason in ("holdout", "personalized"):
                p = rates[exp][decision["variant"]]
            else:
                continue
            if rng.random() < p:
                converted_value = value
        if converted_value:
            records.append(conversion(unit, when + timedelta(minutes=30), converted_value))
    return records


def partition_of(record: Mapping[str, Any]) -> tuple[str, str]:
    received = str(record["receive_time"])
    return received[:10], received[11:13]


def objects(records: Iterable[Mapping[str, Any]], per_object: int = 500) -> dict[str, bytes]:
    """key -> gzip NDJSON, as record-exposure stores them (one object per request)."""
    by_partition: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for record in records:
        by_partition[partition_of(record)].append(record)
    out: dict[str, bytes] = {}
    for (dt, hour), recs in sorted(by_partition.items()):
        for n in range(0, len(recs), per_object):
            chunk = recs[n : n + per_object]
            data = b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in chunk)
            key = f"events/dt={dt}/hour={hour}/{dt}T{hour}-{n // per_object:05d}.ndjson.gz"
            out[key] = gzip.compress(data, mtime=0)
    return out


def write_files(root: Path, records: Iterable[Mapping[str, Any]]) -> list[Path]:
    paths = []
    for key, data in objects(records).items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        paths.append(path)
    return paths


def write_requests(root: Path, records: Iterable[Mapping[str, Any]]) -> int:
    """Each request's records as one object named as record-exposure names it:
    `<receive time>-<request id>.ndjson.gz` (key order is arrival order), or, for a request
    id starting `idem-` (one sent with an Idempotency-Key), `<request id>.ndjson.gz`."""
    by_request: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for record in records:
        by_request[(str(record["receive_time"]), str(record["request_id"]))].append(record)
    for (received, request_id), recs in by_request.items():
        dt, hour = received[:10], received[11:13]
        name = request_id if request_id.startswith("idem-") else f"{received}-{request_id}"
        path = root / f"events/dt={dt}/hour={hour}/{name}.ndjson.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in recs)
        path.write_bytes(gzip.compress(data, mtime=0))
    return len(by_request)


def put_s3(s3: Any, bucket: str, records: Iterable[Mapping[str, Any]], tag: str = "") -> int:
    written = 0
    for key, data in objects(records).items():
        if tag:
            key = key.replace(".ndjson.gz", f"-{tag}.ndjson.gz")
        s3.put_object(Bucket=bucket, Key=key, Body=data)
        written += 1
    return written


EVENTS_BUCKET = "earnest-data"  # the default EVENTS_BUCKET, which the local stack creates


def s3_client(stack: Any) -> Any:
    """A botocore S3 client on the local stack (`tests.builders.stack.Stack`)."""
    import botocore.session

    session = botocore.session.get_session()
    return session.create_client(
        "s3",
        region_name=stack.env["AWS_DEFAULT_REGION"],
        endpoint_url=stack.aws_url,
        aws_access_key_id=stack.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=stack.env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=stack.env["AWS_SESSION_TOKEN"],
    )


def download(s3: Any, bucket: str, root: Path) -> int:
    """Copy every stored events object to `root`, under the same keys (DuckDB reads them)."""
    copied = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="events/"):
        for item in page.get("Contents", []):
            path = root / item["Key"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
            copied += 1
    return copied
