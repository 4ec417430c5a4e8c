"""`earnest inventory`: every experience ever pushed, whether it earns its place, and the
program across its history (`--program`).

Thin: reads the experiences with their audit trails and the stored nightly reports
(newest first, up to the first that carries the inventory forward) through the stores,
and prints what the core builds (earnest.program.inventory, earnest.program.history) as a
table, `--json` or `--csv`.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

MONTH_COLUMNS = (
    "month",
    "launched",
    "active",
    "kept",
    "paused",
    "retired",
    "withdrawn",
    "variants_paused",
    "personalized_share",
    "lift",
    "lift_low",
    "lift_high",
    "report_date",
)
NIGHT_COLUMNS = ("date", "lift", "lift_low", "lift_high", "verdict", "personalized_share")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Every experience ever pushed (live, paused, retired, draft): owner, default, holdout, "
        "days live, units, latest verdict and lift against its holdout, each pause and "
        "retirement with why, review status and standing (harming, costing, paused, learning, "
        "earning, draft, retired), the ones to act on first. `--program`: the global "
        "holdout's lift night by night and per month the experiences launched, kept, paused "
        "and retired and the share of traffic personalized. Reads AWS_ENDPOINT_URL, "
        "EXPERIENCES_TABLE and EVENTS_BUCKET (the stored nightly reports)."
    )
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="print one JSON document")
    form.add_argument("--csv", action="store_true", help="print CSV, one row per experience")
    parser.add_argument(
        "--program",
        action="store_true",
        help="the program across its history instead (with --csv: one row per month)",
    )


def run(args: argparse.Namespace) -> int:
    from earnest.program import inventory, timeline
    from earnest_aws.experiences_store import ExperiencesStore
    from earnest_aws.reports_store import ReportsStore
    from earnest_aws.settings import settings

    now = datetime.now(UTC)
    found, history = inventory.sections(
        timeline.read(ExperiencesStore(settings().experiences_table)),
        inventory.stored_reports(ReportsStore(settings().events_bucket)),
        now.date(),
        now,
    )
    if args.program:
        show_program(history, args)
    elif args.json:
        print(json.dumps(found, indent=2, sort_keys=True, default=str))
    elif args.csv:
        write_csv(inventory.COLUMNS, [inventory.flat(r) for r in found["experiences"]])
    else:
        show_rows(found)
    return 0


def write_csv(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({c: "" if r.get(c) is None else r.get(c) for c in columns})
    sys.stdout.write(out.getvalue())


def table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())


def _pct(value: Any, signed: bool = False) -> str:
    if not isinstance(value, int | float):
        return "—"
    return f"{value * 100:+.1f} %" if signed else f"{value * 100:.1f} %"


def show_rows(found: Mapping[str, Any]) -> None:
    from earnest.program import inventory

    rows = found["experiences"]
    if not rows:
        print("(no experiences pushed yet)")
        return
    head = ("STANDING", "ID", "STATUS", "OWNER", "DAYS LIVE", "UNITS", "REVIEW DUE")
    table(
        [
            head,
            *(
                (
                    r["standing"],
                    r["id"],
                    r["status"],
                    str(r["owner"] or "UNOWNED"),
                    f"{r['days_live']:g}",
                    "—" if r["units"] is None else f"{r['units']:,}",
                    f"{r['review_due'] or '—'} ({r['review'].replace('_', ' ')})",
                )
                for r in rows
            ),
        ]
    )
    print()
    for r in rows:
        flat = inventory.flat(r)
        print(f"{r['id']}: {r['why']}")
        print(f"  default {flat['default']}; holdout {_pct(r['holdout'])}")
        if r["measured_on"]:
            print(f"  report of {r['measured_on']}: {flat['verdicts']}")
        for c in r["changes"]:
            target = f" {c['variant']}" if c["variant"] else ""
            print(
                f"  {c['at'][:16].replace('T', ' ')}Z {c['event'].replace('_', ' ')}{target} "
                f"({c['rule']}, by {c['actor']}): {c['reason']}"
            )
    counts = ", ".join(f"{n} {s}" for s, n in found["counts"].items() if n)
    print(f"\n{len(rows)} experiences: {counts}")


def month_rows(history: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            **m,
            "lift": m["lift"].get("relative"),
            "lift_low": m["lift"].get("relative_low"),
            "lift_high": m["lift"].get("relative_high"),
        }
        for m in history["months"]
    ]


def night_rows(history: Mapping[str, Any]) -> list[dict[str, Any]]:
    metric = history["metric"]
    out = []
    for p in history["lift"]:
        lift = p["lift"].get(metric) or {}
        out.append(
            {
                "date": p["date"],
                "lift": lift.get("relative"),
                "lift_low": lift.get("relative_low"),
                "lift_high": lift.get("relative_high"),
                "verdict": p["verdicts"].get(metric),
                "personalized_share": p["coverage"].get("personalized"),
            }
        )
    return out


def show_program(history: Mapping[str, Any], args: argparse.Namespace) -> None:
    if args.json:
        print(json.dumps(history, indent=2, sort_keys=True))
        return
    if args.csv:
        write_csv(MONTH_COLUMNS, month_rows(history))
        return
    print("per month: experiences that served in it, by where they stood at its end")
    table(
        [
            ("MONTH", "LAUNCHED", "ACTIVE", "KEPT", "PAUSED", "RETIRED", "WITHDRAWN",
             "VARIANTS PAUSED", "PERSONALIZED", "PROGRAM LIFT (95 %)"),
            *(
                (
                    m["month"], str(m["launched"]), str(m["active"]), str(m["kept"]),
                    str(m["paused"]), str(m["retired"]), str(m["withdrawn"]),
                    str(m["variants_paused"]), _pct(m["personalized_share"]),
                    f"{_pct(m['lift'], True)} [{_pct(m['lift_low'], True)}, "
                    f"{_pct(m['lift_high'], True)}]",
                )
                for m in month_rows(history)
            ),
        ]
    )  # fmt: skip
    nights = night_rows(history)
    print(f"\nthe global holdout's lift ({history['metric']}), night by night:")
    if not nights:
        print("  (no nightly report stored yet)")
    for n in nights:
        print(
            f"  {n['date']}  {_pct(n['lift'], True)} [{_pct(n['lift_low'], True)}, "
            f"{_pct(n['lift_high'], True)}]  {n['verdict'] or '—'}  "
            f"personalized {_pct(n['personalized_share'])}"
        )
