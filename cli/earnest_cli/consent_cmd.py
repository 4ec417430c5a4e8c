"""`earnest consent show SUBJECT`: a subject's consent as decide sees it, and its history.

What an auditor asks for: the current state per regulation, the combined purposes decide
applies, every change received (with source, CMP event id, raw consent string, event and
receipt times, request id and what became of it), and any erasure receipt.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Inspect stored consent. Reads AWS_ENDPOINT_URL (the local stack) and "
        "CONSENT_TABLE (default earnest-consent)."
    )
    commands = parser.add_subparsers(dest="consent_command", required=True)
    show = commands.add_parser("show", help="a subject's current consent and its full history")
    show.add_argument("subject", help="the subject id (anonymous id or user id)")
    show.add_argument("--json", action="store_true", help="print one JSON document")


def run(args: argparse.Namespace) -> int:
    from earnest.errors import Unavailable
    from earnest_aws.consent_store import ConsentStore, state_purposes, to_attr
    from earnest_aws.settings import settings

    store = ConsentStore(settings().consent_table)
    try:
        state = store.state(args.subject)
        history = store.history(args.subject)
        receipts = store.receipts(args.subject)
    except Unavailable as exc:
        print(f"cannot read the consent store: {exc.message}", file=sys.stderr)
        return 2
    combined = state_purposes({k: to_attr(v) for k, v in state.items()}) if state else None
    report = {
        "subject_id": args.subject,
        "purposes": combined,
        "state": state,
        "history": history,
        "erasure_receipts": receipts,
    }
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        print_report(report)
    return 0 if state or history or receipts else 1


def _purposes(purposes: dict[str, str] | None) -> str:
    if not purposes:
        return "(none)"
    return " ".join(f"{k}={v}" for k, v in sorted(purposes.items()))


def print_report(report: dict[str, Any]) -> None:
    state = report["state"]
    print(f"subject: {report['subject_id']}")
    if state is None:
        print("state: no consent record (decide applies the configured regime's default)")
    elif "erased_at" in state:
        print(f"state: ERASED at {state['erased_at']}")
        print("  (tombstone: every purpose denied, later updates refused)")
    else:
        print(f"in force (most restrictive of all regulations): {_purposes(report['purposes'])}")
        for name in sorted(k for k in state if k.startswith("r_")):
            r = state[name]
            print(
                f"  {name[2:]:<10} {_purposes(r.get('purposes'))}  event {r.get('event_time')}"
                f"  id {r.get('event_id')}  from {r.get('source')}"
            )
    history = report["history"]
    print(f"history ({len(history)} change(s) received, oldest first):")
    for h in history:
        outcome = "applied" if h.get("applied") else "NOT applied"
        print(f"  received {h.get('receive_time')}  request {h.get('request_id')}")
        print(
            f"    {h.get('action')} under {h.get('regulation')}: {_purposes(h.get('purposes'))}"
            f"  -> {outcome} ({h.get('reason')})"
        )
        print(
            f"    event {h.get('event_time')}  id {h.get('event_id')}  from {h.get('source')}"
            + (f"  jurisdiction {h['jurisdiction']}" if h.get("jurisdiction") else "")
        )
        if h.get("consent_string"):
            print(f"    consent string: {h['consent_string']}")
    for r in report["erasure_receipts"]:
        print(f"erasure receipt: received {r.get('receive_time')}  request {r.get('request_id')}")
        print(
            f"  id {r.get('event_id')}  from {r.get('source')}"
            f"  deleted {r.get('deleted_items')} item(s)"
        )
