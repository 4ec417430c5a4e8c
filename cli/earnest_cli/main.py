"""`earnest`: author, push and inspect experiences; run the local stack and the demo."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from earnest_cli import files


def _actor() -> str:
    return os.environ.get("EARNEST_ACTOR") or os.environ.get("USER") or "unknown"


def cmd_validate(args: argparse.Namespace) -> int:
    from earnest.experiences.validation import validate_all

    authored = files.load(args.paths)
    problems = authored.problems + validate_all(authored.experiences, authored.saved_groups)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(
            f"{len(problems)} problem(s); nothing may launch until they are fixed", file=sys.stderr
        )
        return 1
    print(
        f"ok: {len(authored.experiences)} experience(s), "
        f"{len(authored.saved_groups)} saved group(s)"
    )
    return 0


def changed_fields(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    old = {k: v for k, v in (old or {}).items() if k != "version"}
    keys = sorted((set(old) | set(new)) - {"version"})
    return {k: {"from": old.get(k), "to": new.get(k)} for k in keys if old.get(k) != new.get(k)}


def cmd_push(args: argparse.Namespace) -> int:
    from earnest.errors import ConcurrentModification
    from earnest.experiences.validation import validate_all
    from earnest_aws.experiences_store import ExperiencesStore
    from earnest_aws.settings import settings

    authored = files.load(args.paths)
    problems = authored.problems + validate_all(authored.experiences, authored.saved_groups)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"{len(problems)} problem(s): nothing was pushed", file=sys.stderr)
        return 1
    store = ExperiencesStore(settings().experiences_table)
    actor = args.actor or _actor()
    for name, ids in sorted(authored.saved_groups.items()):
        store.save_group(name, ids, actor)
        print(f"saved group {name}: {len(ids)} id(s)")
    failed = 0
    for source, doc in authored.experiences:
        stored = store.get(doc["id"])
        declared = doc.get("version")
        if stored and declared is not None and declared != stored.version:
            print(
                f"{source}: {doc['id']}: refused: the stored version is {stored.version}, "
                f"your file says {declared}; someone changed it since (by {stored.updated_by} at "
                f"{stored.updated_at}). Pull their change, merge by hand, and push again.",
                file=sys.stderr,
            )
            failed += 1
            continue
        body = {k: v for k, v in doc.items() if k != "version"}
        changes = changed_fields(stored.doc if stored else None, body)
        if stored and not changes:
            print(f"{doc['id']}: unchanged (version {stored.version})")
            continue
        try:
            version = store.save(
                body,
                stored.version if stored else None,
                actor=actor,
                action="create" if stored is None else "update",
                reason=args.reason or f"pushed from {source}",
                changes=changes,
            )
        except ConcurrentModification as exc:
            print(f"{source}: {doc['id']}: refused: {exc.message}", file=sys.stderr)
            failed += 1
            continue
        print(f"{doc['id']}: {'created' if stored is None else 'updated'} -> version {version}")
    return 1 if failed else 0


def review_due(doc: dict[str, Any]) -> date | None:
    try:
        last = date.fromisoformat(str(doc["last_reviewed"]))
        return last + timedelta(days=int(doc["review_every_days"]))
    except (KeyError, ValueError, TypeError):
        return None


def cmd_list(args: argparse.Namespace) -> int:
    from earnest_aws.experiences_store import ExperiencesStore
    from earnest_aws.settings import settings

    stored = ExperiencesStore(settings().experiences_table).load_all()
    today = datetime.now(UTC).date()
    rows = [("ID", "PLACEMENT", "STATUS", "OWNER", "REVIEW DUE", "VERSION")]
    for s in stored:
        due = review_due(s.doc)
        due_text = "—" if due is None else due.isoformat() + ("  OVERDUE" if due < today else "")
        rows.append(
            (
                str(s.doc.get("id")),
                str(s.doc.get("placement")),
                str(s.doc.get("status")),
                str(s.doc.get("owner") or "UNOWNED"),
                due_text,
                str(s.version),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    if len(rows) == 1:
        print("(no experiences pushed yet)")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from earnest_cli.local_stack import serve_forever

    return serve_forever(args.api_port, args.aws_port, args.verbose, args.log)


def cmd_demo(args: argparse.Namespace) -> int:
    from earnest_cli.demo import run_demo

    return run_demo(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="earnest", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check experience files against the launch guardrails")
    p.add_argument("paths", nargs="+", help="files or folders of .yaml/.yml/.json")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("push", help="validate, then write experiences (optimistic concurrency)")
    p.add_argument("paths", nargs="+")
    p.add_argument("--actor", help="who is pushing (default: $EARNEST_ACTOR or $USER)")
    p.add_argument("--reason", help="why, for the audit entry")
    p.set_defaults(func=cmd_push)

    p = sub.add_parser("list", help="experiences with placement, status, owner, review due")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("serve", help="the local stack: moto's server and the HTTP routes")
    p.add_argument("--api-port", type=int, default=8787)
    p.add_argument("--aws-port", type=int, default=5000)
    p.add_argument(
        "--log",
        type=Path,
        default=Path(".earnest/serve.log"),
        help="where the functions' logs and metrics go (default .earnest/serve.log)",
    )
    p.add_argument("--verbose", action="store_true", help="show the functions' logs instead")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("demo", help="the whole loop on the embedded local stack")
    p.add_argument(
        "--visitors", type=int, default=4000, help="simulated visits, all days (default 4000)"
    )
    p.add_argument("--days", type=int, default=5, help="simulated days, up to 29 (default 5)")
    p.add_argument("--seed", type=int, default=20261123, help="the simulation's random seed")
    p.add_argument(
        "--out", type=Path, default=Path(".earnest/demo-report"), help="where to keep the report"
    )
    p.set_defaults(func=cmd_demo)

    from earnest_cli import consent_cmd, report_cmd

    for command, module in (("report", report_cmd), ("consent", consent_cmd)):
        module.add_parser(sub)
        if sub.choices[command].get_default("func") is None:
            sub.choices[command].set_defaults(func=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
