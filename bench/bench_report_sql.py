"""The nightly report's two aggregation paths over the same stored files: time and peak memory.

Writes N events (default 10 million; the generator of bench/bench_report.py: 14 days, 2
experiences, ~8.6 events a unit) as gzip NDJSON objects of 500 events under
events/dt=…/hour=…/ in a temporary folder, as record-exposure stores them. Then each path
runs in its own fresh interpreter, through the one interface the nightly run uses
(earnest.report.sources.Source), and prints its wall time and peak resident memory:

- python: `Streamed`, every object read one at a time into the Aggregator (one core);
- sql: `Queried`, the report's SQL run on DuckDB (2 threads) over the same files, the
  local stand-in for Athena (tests.builders.duckdb_queries).

Both reports are built from the totals, and their verdicts compared.

    .venv/bin/python bench/bench_report_sql.py                    # 10 million events
    .venv/bin/python bench/bench_report_sql.py --events 1000000   # smaller
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "shared"), str(ROOT / "cli"), str(ROOT)]

from bench_report import DAY, DAYS, DOCS, records  # noqa: E402

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


def run_path(path: str, root: Path) -> None:
    """One path in this (fresh) interpreter: print its figures and verdicts as JSON."""
    from earnest.report import build as report_build
    from earnest.report.sources import Queried, Streamed
    from earnest.report.window import Window
    from tests.builders.duckdb_queries import DuckDBQueries

    window = Window(DAY, DAYS)
    source = (
        Streamed(LocalEvents(root))
        if path == "python"
        else Queried(DuckDBQueries(root, threads=2), "earnest_events")
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


def measure(path: str, root: Path) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, __file__, "--run", path, "--root", str(root)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    figures: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000_000, help="events (10 million)")
    parser.add_argument("--run", choices=("python", "sql"), help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run_path(args.run, args.root)
        return
    import duckdb

    print(f"python {sys.version.split()[0]}, duckdb {duckdb.__version__}, window {DAYS} days")
    with tempfile.TemporaryDirectory(prefix="earnest-bench-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        n, objects, size = write_events(root, args.events)
        print(
            f"wrote {n:,} events in {objects:,} objects ({size / 2**20:,.0f} MiB gzip) "
            f"in {time.perf_counter() - t0:.0f} s"
        )
        results = {path: measure(path, root) for path in ("python", "sql")}
    labels = {"python": "python (Streamed, 1 core)", "sql": "sql (DuckDB, 2 threads)"}
    for path, label in labels.items():
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


if __name__ == "__main__":
    main()
