"""The nightly report's two aggregation paths over the same stored files: time and peak memory.

For each size (default 1, 2 and 4 million events; the generator of bench/bench_report.py:
14 days, 2 experiences, ~8.6 events a unit) writes the events as gzip NDJSON objects of
500 under events/dt=…/hour=…/ in a temporary folder, as record-exposure stores them. Then
each path runs in its own fresh interpreter, through the one interface the nightly run
uses (earnest.report.sources.Source), and prints its wall time and peak resident
memory:

- python: `Streamed`, every object read one at a time into the Aggregator (one core);
- sql: `Queried`, the report's SQL run on DuckDB (2 threads) over the same files, the
  local stand-in for Athena (tests.builders.duckdb_queries), with the memory limit it
  derives from the function's configured memory (`--memory-mb`, default the template's),
  spilling to a temporary folder past it.

Both reports are built from the totals, and their verdicts compared. Last, from the
sizes' peaks: each path's memory per million events and the largest night that fits the
configured memory and 10 GB (Lambda's most), the Python path's by its growth, the SQL
path's by its limit.

    .venv/bin/python bench/bench_report_sql.py                                # 1, 2, 4 M
    .venv/bin/python bench/bench_report_sql.py --events 10000000              # one size
    .venv/bin/python bench/bench_report_sql.py --memory-mb 1024 --events 2000000
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "shared"), str(ROOT / "cli"), str(ROOT)]

from bench_report import DAY, DAYS, DOCS, records  # noqa: E402

from tests.builders.duckdb_queries import configured_memory_mb, memory_limit_mb  # noqa: E402

PER_OBJECT = 500
EVENTS_PER_UNIT = 8  # exposures; with conversions a unit averages ~8.6 events


def write_events(root: Path, events: int) -> tuple[int, int, int]:
    """(events, objects, bytes) written under root/events/, hour by hour."""
    buffers: dict[tuple[str, str], list[bytes]] = {}
    counts: dict[tuple[str, str], int] = {}
    written = objects = size = 0

    def flush(key: tuple[str, str]) -> None:
        nonlocal objects, size
        dt, hour = key
        folder = root / "events" / f"dt={dt}" / f"hour={hour}"
        folder.mkdir(parents=True, exist_ok=True)
        data = gzip.compress(b"\n".join(buffers.pop(key)) + b"\n", 6)
        counts[key] = counts.get(key, 0) + 1
        (folder / f"{dt}T{hour}-{counts[key]:05d}.ndjson.gz").write_bytes(data)
        objects += 1
        size += len(data)

    # Every unit has at least EVENTS_PER_UNIT events: enough units, cut at exactly N.
    for received, line in records(events // EVENTS_PER_UNIT + 1, EVENTS_PER_UNIT):
        key = (received[:10], received[11:13])
        buffers.setdefault(key, []).append(line)
        written += 1
        if len(buffers[key]) == PER_OBJECT:
            flush(key)
        if written == events:
            break
    for key in list(buffers):
        flush(key)
    return written, objects, size


class LocalEvents:
    """The stored objects of a day from the folder, in key order (ReportsStore.event_objects)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def event_objects(self, day: object) -> list[tuple[str, bytes]]:
        folder = self.root / "events" / f"dt={day}"
        return [(str(p), p.read_bytes()) for p in sorted(folder.glob("hour=*/*.ndjson.gz"))]


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM: fresh at exec, unlike ru_maxrss)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_path(path: str, root: Path, memory_mb: int) -> None:
    """One path in this (fresh) interpreter: print its figures and verdicts as JSON."""
    from earnest.report import build as report_build
    from earnest.report.sources import Queried, Streamed
    from earnest.report.window import Window
    from tests.builders.duckdb_queries import DuckDBQueries

    window = Window(DAY, DAYS)
    source = (
        Streamed(LocalEvents(root))
        if path == "python"
        else Queried(DuckDBQueries(root, threads=2, memory_mb=memory_mb), "earnest_events")
    )
    if path == "sql":
        import duckdb  # noqa: F401  (imported before the clock starts, as at a cold start)
    before = peak_rss_mib()
    t0 = time.perf_counter()
    totals = source.totals(window, DOCS, set(), 7)
    seconds = time.perf_counter() - t0
    peak = peak_rss_mib()
    report = report_build.build(window, DOCS, totals, None, global_holdout=0.05)
    verdicts = {
        f"{e['id']}/{v['variant']}": v["verdict"]
        for e in report["experiences"]
        for v in e["variants"]
    }
    units = sum(a.units for e in totals.experiences.values() for a in e.arms.values())
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mib": peak,
                "start_mib": before,
                "exposures": totals.coverage and sum(totals.coverage.values()),
                "units": units,
                "verdicts": verdicts,
            }
        )
    )


def measure(path: str, root: Path, memory_mb: int) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--run",
            path,
            "--root",
            str(root),
            "--memory-mb",
            str(memory_mb),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    figures: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return figures


LAMBDA_MAX_MB = 10_240
LABELS = {"python": "python (Streamed, 1 core)", "sql": "sql (DuckDB, 2 threads)"}


def one_size(events: int, memory_mb: int) -> tuple[int, dict[str, dict[str, Any]]]:
    with tempfile.TemporaryDirectory(prefix="earnest-bench-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        n, objects, size = write_events(root, events)
        print(
            f"wrote {n:,} events in {objects:,} objects ({size / 2**20:,.0f} MiB gzip) "
            f"in {time.perf_counter() - t0:.0f} s"
        )
        results = {path: measure(path, root, memory_mb) for path in ("python", "sql")}
    for path, label in LABELS.items():
        r = results[path]
        seconds = float(r["seconds"])
        print(
            f"{label:<26} {seconds:7.1f} s = {n / seconds * 60:>12,.0f} events/minute; "
            f"peak RSS {float(r['peak_mib']):7.0f} MiB "
            f"(interpreter and imports {float(r['start_mib']):.0f} MiB); "
            f"{int(r['units']):,} units, {int(r['exposures']):,} exposures"
        )
    same = results["python"]["verdicts"] == results["sql"]["verdicts"]
    print(f"same verdicts on both paths: {'yes' if same else 'NO'} {results['sql']['verdicts']}")
    return n, results


def largest_nights(
    peaks: dict[str, list[tuple[int, float]]], rates: dict[str, float], memory_mb: int
) -> None:
    """Each path's memory per million events (least squares over the sizes), the largest
    night within the configured memory and within 10 GB, and what 15 minutes read."""
    limit = memory_limit_mb(memory_mb)
    for path, points in peaks.items():
        xs, ys = [n / 1e6 for n, _ in points], [p for _, p in points]
        mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
        spread = sum((x - mean_x) ** 2 for x in xs)
        slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread
        base = mean_y - slope * mean_x
        line = f"{LABELS[path]:<26} peaks {', '.join(f'{p:,.0f}' for p in ys)} MiB: "
        line += f"{slope:+,.0f} MiB per million events"
        if path == "sql":
            line += f" (DuckDB limited to {limit:,} MB, spilling past it)"
        for mb in (memory_mb, LAMBDA_MAX_MB):
            mib = mb * 1e6 / 2**20
            if path == "sql":
                held = f"memory bounded by the limit ({memory_limit_mb(mb):,} MB)"
            else:
                held = f"about {(mib - base) / slope:,.0f} million events" if slope > 0 else "-"
            line += f"; at {mb:,} MB: {held}"
        line += f"; 15 minutes at this run's rate: {rates[path] * 15 / 1e6:,.0f} million events"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--events", default="1000000,2000000,4000000", help="sizes, comma-separated (1, 2, 4 M)"
    )
    parser.add_argument(
        "--memory-mb", type=int, default=configured_memory_mb(), help="the function's memory"
    )
    parser.add_argument("--run", choices=("python", "sql"), help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run_path(args.run, args.root, args.memory_mb)
        return
    import duckdb

    print(
        f"python {sys.version.split()[0]}, duckdb {duckdb.__version__}, window {DAYS} days, "
        f"configured memory {args.memory_mb:,} MB (DuckDB's limit "
        f"{memory_limit_mb(args.memory_mb):,} MB)"
    )
    peaks: dict[str, list[tuple[int, float]]] = {"python": [], "sql": []}
    rates: dict[str, float] = {}  # events per minute at the largest size
    for events in (int(e) for e in args.events.split(",")):
        n, results = one_size(events, args.memory_mb)
        for path in peaks:
            peaks[path].append((n, float(results[path]["peak_mib"])))
            rates[path] = n / float(results[path]["seconds"]) * 60
    if len(peaks["python"]) > 1:
        largest_nights(peaks, rates, args.memory_mb)
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
