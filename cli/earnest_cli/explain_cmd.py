"""`earnest explain`: why a visitor gets what decide answers, candidate by candidate.

Given a decide request file (or a visitor's fields on the command line), it builds the
engine from the stored experiences exactly as decide does (the effective documents, the
saved groups, the configured global holdout and regime), reads the visitor's stored
consent as decide does, and prints per placement every candidate, live or not, with the
true reason it lost and the decision (`Engine.explain`, the engine's own checks).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from earnest_cli.arguments import number
from earnest_cli.errors import CommandError

HELP = (
    "Reads AWS_ENDPOINT_URL (the local stack), EXPERIENCES_TABLE, CONSENT_TABLE, "
    "GLOBAL_HOLDOUT and CONSENT_REGIME as decide does."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = f"Why a visitor gets its decision, per placement. {HELP}"
    p.add_argument("request", nargs="?", type=Path, help="a decide request body (JSON file)")
    p.add_argument("--placement", action="append", default=[], help="placement (repeatable)")
    p.add_argument("--anonymous-id", default="explain-visitor", help="default: explain-visitor")
    p.add_argument("--user-id", help="the visitor's user id, if any")
    p.add_argument(
        "--identity-confidence", type=number(0, 1), help="0..1 (default: absent, i.e. 1)"
    )
    p.add_argument(
        "--context", action="append", default=[], metavar="KEY=VALUE", help="e.g. country=DE"
    )
    p.add_argument(
        "--attribute", action="append", default=[], metavar="KEY=VALUE", help="e.g. ltv=120"
    )
    p.add_argument(
        "--consent",
        action="append",
        default=[],
        metavar="PURPOSE=STATE",
        help="what the request carries, e.g. personalization=granted (default: nothing)",
    )
    p.add_argument("--gpc", action="store_true", help="the browser sends Sec-GPC: 1")
    p.add_argument("--json", action="store_true", help="print the explanation as JSON")


def _pairs(items: list[str], flag: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise CommandError(f"{flag} takes KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(raw)  # numbers and booleans as such
        except ValueError:
            out[key] = raw
    return out


def request_from(args: argparse.Namespace) -> dict[str, Any]:
    if args.request is not None:
        try:
            body = json.loads(args.request.read_text())
        except (ValueError, RecursionError) as exc:
            why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            raise CommandError(f"{args.request}: not valid JSON: {why}") from None
        if not isinstance(body, dict):
            raise CommandError(f"{args.request}: a decide request is a JSON object")
        return body
    if not args.placement:
        raise CommandError("name a request file, or at least one --placement")
    visitor: dict[str, Any] = {"anonymous_id": args.anonymous_id}
    if args.user_id:
        visitor["user_id"] = args.user_id
    if args.identity_confidence is not None:
        visitor["identity_confidence"] = args.identity_confidence
    body = {"visitor": visitor, "placements": args.placement}
    if args.context:
        body["context"] = _pairs(args.context, "--context")
    if args.attribute:
        body["attributes"] = _pairs(args.attribute, "--attribute")
    if args.consent or args.gpc:
        body["consent"] = {"purposes": _pairs(args.consent, "--consent"), "gpc": args.gpc}
    return body


def run(args: argparse.Namespace) -> int:
    from earnest.consent.purposes import DENIED, most_restrictive
    from earnest.decide.engine import Engine
    from earnest.decide.request import validate_request
    from earnest.errors import InvalidRequest
    from earnest_aws.consent_store import ConsentStore
    from earnest_aws.experiences_store import ExperiencesStore
    from earnest_aws.settings import settings

    body = request_from(args)
    config = settings()
    try:
        validate_request(body, config.max_placements)  # as decide checks it
    except InvalidRequest as exc:
        raise CommandError(f"not a decide request: {exc.field}: {exc.message}") from None
    rules = ExperiencesStore(config.experiences_table).load_rules()
    engine = Engine(
        rules.experiences,
        global_holdout=config.global_holdout,
        consent_regime=config.consent_regime,
        saved_groups=rules.saved_groups,
        max_placements=config.max_placements,
        strict=False,
    )
    visitor = body.get("visitor") or {}
    subjects = [s for s in (visitor.get("anonymous_id"), visitor.get("user_id")) if s]
    stored, memory = (
        ConsentStore(config.consent_table).purposes_and_memory(subjects, subjects[0])
        if subjects
        else (None, None)
    )  # the unit's memory too, as decide reads it: caps and dismissals explained
    if args.gpc:
        stored = most_restrictive(stored, {"personalization": DENIED})
    explained = engine.explain(body, stored, memory=memory)
    explained["stored_consent"] = stored
    if args.json:
        print(json.dumps(explained, indent=2, sort_keys=True, default=str))
        return 0
    print(f"rules {explained['rules_version']}; stored consent: {stored or 'none'}")
    for placement, part in explained["placements"].items():
        d = part["decision"]
        served = f"{d['experience']}/{d['variant']}" if d["variant"] else d["experience"] or "—"
        print(f"{placement}: {d['reason']} -> {served}")
        for c in part["candidates"]:
            print(f"  {c['experience']:<28} {c['outcome']:<20} {c['detail']}")
        if not part["candidates"]:
            print("  (no experience names this placement)")
    return 0
