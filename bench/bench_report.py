"""Nightly report aggregation: events per minute on one core, and peak memory.

Prints its figures (docs/report.md, "Scale"). Stored objects are generated in memory
first (gzip NDJSON, 500 events an object, as record-exposure writes them); what is timed
is what a run does with them: gunzip, parse, deduplicate, assign, attribute, total, then
build the report. Memory is measured with tracemalloc from just before the first object
is read, so it is the aggregation's own state; the objects themselves are read one at a
time in a run and are not counted.

    .venv/bin/python bench/bench_report.py            # the figures in docs/report.md
    .venv/bin/python bench/bench_report.py --quick
"""

from __future__ import annotations

import argparse
import gc
import gzip
import sys
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "shared")]

from earnest.report import build as report_build  # noqa: E402
from earnest.report.aggregation import Aggregator  # noqa: E402
from earnest.report.totals import Attribution  # noqa: E402
from earnest.report.window import Window, spans  # noqa: E402

DAY = date(2026, 11, 20)
DAYS = 14
EXPERIENCES = {"hero": Attribution(7), "recs": Attribution(7, "purchase")}
DOCS = [
    {
        "id": name,
        "placement": name,
        "owner": "bench@shop.example",
        "status": "live",
        "variants": [{"id": "a", "weight": 1}, {"id": "b", "weight": 1}],
        "default": {},
        "holdout": 0.2,
        "measurement_plan": {"primary_metric": "conversion", "min_units_per_arm": 1000},
        "review_every_days": 30,
        "last_reviewed": "2026-11-10",
    }
    for name in EXPERIENCES
]


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def records(units: int, exposures_per_unit: int) -> Iterator[tuple[str, bytes]]:
    """(receive_time, stored line) of every event, unit by unit: the same for both benches."""
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC) - timedelta(days=DAYS - 1)
    for u in range(units):
        unit = f"a-{u:08x}"
        bucket = (u * 2654435761) % 100
        reason, variant = (
            ("global_holdout", None)
            if bucket < 5
            else ("holdout", None)
            if bucket < 24
            else ("personalized", "a" if bucket % 2 else "b")
        )
        first = start + timedelta(minutes=(u * 37) % (DAYS * 1440 - 60 * exposures_per_unit))
        for k in range(exposures_per_unit):
            when = first + timedelta(minutes=45 * k, milliseconds=u % 1000)
            exp = "hero" if k % 2 == 0 else "recs"
            rec = {
                "event_id": f"x-{u}-{k}",
                "type": "exposure",
                "unit_id": unit,
                "experience": exp,
                "variant": variant,
                "reason": reason,
                "rules_version": "r1",
                "name": None,
                "value": None,
                "currency": None,
                "event_time": iso(when),
                "receive_time": iso(when + timedelta(seconds=1)),
                "request_id": f"req-{u}",
            }
            yield rec["receive_time"], orjson.dumps(rec)
            if k % 4 == 3 and bucket % 10 < 3:  # some units convert, some more than once
                conv = {
                    **rec,
                    "event_id": f"c-{u}-{k}",
                    "type": "conversion",
                    "experience": None,
                    "variant": None,
                    "reason": None,
                    "rules_version": None,
                    "name": "purchase",
                    "value": 19.99 + k,
                    "currency": "EUR",
                    "event_time": iso(when + timedelta(minutes=20)),
                    "receive_time": iso(when + timedelta(minutes=20, seconds=1)),
                }
                yield conv["receive_time"], orjson.dumps(conv)


def generate(
    units: int, exposures_per_unit: int, per_object: int = 500
) -> tuple[list[tuple[str, bytes]], int]:
    """(dt, object) in read order, and the number of events."""
    by_day: dict[str, list[bytes]] = {}
    n = 0
    for received, line in records(units, exposures_per_unit):
        by_day.setdefault(received[:10], []).append(line)
        n += 1
    objects: list[tuple[str, bytes]] = []
    for day in sorted(by_day):
        lines = by_day[day]
        for i in range(0, len(lines), per_object):
            objects.append((day, gzip.compress(b"\n".join(lines[i : i + per_object]) + b"\n", 6)))
    return objects, n


WINDOW = Window(DAY, DAYS)


def aggregate(objects: list[tuple[str, bytes]]) -> Aggregator:
    """As a nightly run aggregates: every event checked against its experience's span."""
    agg = Aggregator(
        EXPERIENCES,
        spans=spans(WINDOW, DOCS),
        program_span=WINDOW.program_span().bounds(),
    )
    for day, data in objects:
        agg.partition(day)
        agg.feed_object(data)
    return agg


def throughput(units: int, per_unit: int) -> None:
    objects, n = generate(units, per_unit)
    gc.collect()
    t0 = time.perf_counter()
    agg = aggregate(objects)
    totals = agg.totals()
    t1 = time.perf_counter()
    report_build.build(WINDOW, DOCS, totals, None, global_holdout=0.05)
    t2 = time.perf_counter()
    rate = n / (t1 - t0) * 60
    print(
        f"throughput: {n:,} events ({units:,} units, {len(objects):,} objects) aggregated in "
        f"{t1 - t0:.2f} s on one core = {rate:,.0f} events/minute "
        f"({n / (t1 - t0):,.0f}/s); report built in {(t2 - t1) * 1000:.0f} ms"
    )


def memory(units: int, per_unit: int) -> tuple[int, float]:
    objects, n = generate(units, per_unit)
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    agg = aggregate(objects)
    agg.totals()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del agg
    mib = peak / 2**20
    print(
        f"memory: {units:>9,} units x {per_unit:>2} exposures ({n:>10,} events): peak "
        f"{mib:7.1f} MiB = {peak / units:6.0f} bytes/unit, {peak / n:5.0f} bytes/event"
    )
    return n, mib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    args = parser.parse_args()
    scale = 5 if args.quick else 1
    print(f"python {sys.version.split()[0]}, window {DAYS} days, 2 experiences")
    throughput(200_000 // scale, 8)
    units = 50_000 // scale
    print("peak memory follows units, not events (same units, 4x the events):")
    memory(units, 4)
    memory(units, 16)
    print("... and doubles with the units:")
    memory(units * 2, 4)


if __name__ == "__main__":
    main()
