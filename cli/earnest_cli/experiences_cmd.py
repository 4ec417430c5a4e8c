"""The experience commands: push, pull, diff, list, history, rollback, pause, resume, revive,
review.

Thin: each reads its arguments and files, calls the lifecycle in the core
(earnest.experiences: push, operations) with the store, and prints what it says.
Authored content comes from files in git; operational state (pauses and retirements)
comes from the guardrails and operators, and no command on authored content ever undoes
it (earnest.experiences.lifecycle). A push is refused when a file has not seen the latest
authored change: its lineage (earnest_cli.lineage: its `version:`, its committed history
in git, what this checkout pushed or pulled from that revision of the file) says which
version it started from.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from earnest.decide import slices
from earnest.experiences import actions, lifecycle, operations, retirement, weights
from earnest.experiences import push as pushing
from earnest_aws.experiences_store import AUTHORED, ExperiencesStore
from earnest_cli import files, lineage, plan_cmd


def actor(args: argparse.Namespace) -> str:
    return (
        getattr(args, "actor", None)
        or os.environ.get("EARNEST_ACTOR")
        or os.environ.get("USER")
        or "unknown"
    )


def store() -> ExperiencesStore:
    from earnest_aws.settings import settings

    return ExperiencesStore(settings().experiences_table)


def today() -> date:
    return datetime.now(UTC).date()


def store_key(s: ExperiencesStore) -> str:
    """Which store a checkout's record is about (the endpoint and the table)."""
    return f"{os.environ.get('AWS_ENDPOINT_URL', 'aws')} {s.table}"


# -- field-by-field differences --------------------------------------------------------


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """`{"measurement_plan.hypothesis": …, "variants[1].weight": …}` for a document."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}[{i}]"))
        return out
    return {prefix: value}


def field_diff(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    before, after = flatten(old or {}), flatten(new)
    lines = []
    for key in sorted(set(before) | set(after)):
        if key in ("version", "") or before.get(key) == after.get(key):
            continue
        if key not in before:
            lines.append(f"  + {key}: {json.dumps(after[key])}")
        elif key not in after:
            lines.append(f"  - {key}: {json.dumps(before[key])}")
        else:
            lines.append(f"  ~ {key}: {json.dumps(before[key])} -> {json.dumps(after[key])}")
    return lines


def warn(authored: files.Authored) -> None:
    """Print what is allowed but almost surely wrong (audience paths outside the request),
    and every review overdue or due within a week (before a night retires one for it)."""
    from earnest.experiences.validation import shape_warnings

    for source, doc in authored.experiences:
        for warning in shape_warnings(doc, source):
            print(f"warning: {warning}", file=sys.stderr)
    for _, doc in authored.experiences:
        for notice in retirement.notices(doc, today()) if isinstance(doc, dict) else []:
            print(f"warning: {notice}", file=sys.stderr)


def traffic_warnings(
    s: ExperiencesStore, authored: files.Authored, args: argparse.Namespace
) -> list[str]:
    """The plan-against-cadence warnings of a push, from `--daily-units` or, for experiences
    already serving, their last week of events (earnest_cli.plan_cmd.cadence_warnings)."""
    from earnest.errors import EarnestError
    from earnest_cli.plan_cmd import DEFAULT_DAYS, cadence_warnings, observed_all

    docs = [doc for _, doc in authored.experiences]
    seen = {}
    if args.daily_units is None or args.base_rate is None:
        stored = [found.doc for d in docs if (found := s.get(str(d.get("id")))) is not None]
        try:
            seen = observed_all(stored, DEFAULT_DAYS)
        except EarnestError:
            seen = {}  # the events cannot be read: the warning says it cannot estimate
    return cadence_warnings(docs, args.daily_units, args.base_rate, seen)


def group_sources(paths: list[str]) -> dict[str, Path]:
    """Which file holds which saved group (files.load keeps the groups, not their files)."""
    return {name: path for path in files.expand(paths) for name in files.load([path]).saved_groups}


def push_items(
    s: ExperiencesStore, authored: files.Authored, paths: list[str]
) -> list[pushing.Item]:
    """Every saved group and experience of a push, each with its file's lineage."""
    key, where = store_key(s), group_sources(paths)
    items = [
        pushing.group_item(
            str(where[name]),
            name,
            ids,
            lineage.lineage(key, where[name], pushing.SAVED_GROUP, name),
        )
        for name, ids in sorted(authored.saved_groups.items())
    ]
    for source, doc in authored.experiences:
        found = lineage.lineage(key, Path(source), pushing.EXPERIENCE, str(doc["id"]))
        items.append(pushing.experience_item(source, doc, found))
    return items


def cmd_push(args: argparse.Namespace) -> int:
    from earnest.experiences.validation import validate_all

    authored = files.load(args.paths)
    warn(authored)
    problems = authored.problems + validate_all(authored.experiences, authored.saved_groups)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"{len(problems)} problem(s) (launch checks): nothing was pushed", file=sys.stderr)
        return 1
    s = store()
    for line in traffic_warnings(s, authored, args):
        print(line, file=sys.stderr)
    items = push_items(s, authored, args.paths)
    outcome = pushing.push(s, items, actor(args), args.reason, today(), force=args.force)
    for refusal in outcome.refusals:
        print(refusal, file=sys.stderr)
    print("\n".join(outcome.lines), file=sys.stderr if outcome.refusals else sys.stdout)
    sources = {(i.subject, i.id): Path(i.source) for i in items}
    lineage.remember(
        store_key(s), {k: (sources[k], v) for k, v in outcome.versions.items() if k in sources}
    )
    return 0 if outcome.ok else 1


def cmd_pull(args: argparse.Namespace) -> int:
    s = store()
    target = Path(args.dir)
    target.mkdir(parents=True, exist_ok=True)
    where = files.by_id([target])
    versions: dict[tuple[str, str], tuple[Path, int]] = {}
    for stored in s.load_all():
        path = where.get(stored.id, target / f"{stored.id}.yaml")
        text = files.dump(stored.authored)
        if path.exists() and files.load([path]).experiences == [(str(path), stored.authored)]:
            print(f"{stored.id}: unchanged ({path})")
        else:
            path.write_text(text)
            print(f"{stored.id}: version {stored.version} -> {path}")
        versions[(pushing.EXPERIENCE, stored.id)] = (path, stored.version)
    groups = {name: s.group(name) for name in s.groups()}
    if groups:
        path = target / "groups.yaml"
        path.write_text(files.dump({"saved_groups": {n: g.ids for n, g in groups.items() if g}}))
        for name, group in groups.items():
            if group is not None:
                versions[(pushing.SAVED_GROUP, name)] = (path, group.version)
    lineage.remember(store_key(s), versions)
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    authored = files.load(args.paths)
    for problem in authored.problems:
        print(problem, file=sys.stderr)
    s = store()
    changed = 0
    for source, doc in authored.experiences:
        exp_id = str(doc.get("id"))
        body = lifecycle.authored_only(doc)
        stored = s.get(exp_id)
        lines = field_diff(stored.authored if stored else None, body)
        if stored is None:
            print(f"{exp_id} ({source}): new")
        elif not lines:
            print(f"{exp_id} ({source}): unchanged (version {stored.version})")
        else:
            print(f"{exp_id} ({source}): version {stored.version} -> a push would change:")
        if stored is None or lines:
            changed += 1
            print("\n".join(lines))
        for line in actions.kept(exp_id, body, stored.ops if stored else {}):
            print(f"  {line}")
    return 1 if authored.problems else 0


# -- operational state -----------------------------------------------------------------


def _target(text: str) -> tuple[str, str | None]:
    exp_id, _, variant = text.partition("/")
    return exp_id, variant or None


def cmd_pause(args: argparse.Namespace) -> int:
    exp_id, variant = _target(args.target)
    print(operations.pause(store(), exp_id, variant, args.reason, actor(args)))
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    exp_id, variant = _target(args.target)
    print(operations.resume(store(), exp_id, variant, args.reason, actor(args)))
    return 0


def cmd_revive(args: argparse.Namespace) -> int:
    lines = operations.revive(store(), args.id, args.reason, actor(args), today(), args.owner)
    print("\n".join(lines))
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    lines = operations.review(store(), args.id, args.reason or "reviewed", actor(args), today())
    print("\n".join(lines))
    return 0


# -- reading ---------------------------------------------------------------------------


def _minute(moment: str | None) -> str:
    """A stored time to the minute (`2026-11-01 09:00Z`); a dash when there is none."""
    return "—" if moment is None else f"{moment[:10]} {moment[11:16]}Z"


def _variant_lines(ops: dict[str, Any], served: dict[str, Any], status: str) -> list[str]:
    lines = []
    for v in served.get("variants") or []:
        e = lifecycle.get_entry(ops, v.get("id"))
        if e is not None:
            lines.append(f"  {v.get('id')}: paused: {lifecycle.describe(e)}")
        elif v.get("paused"):
            lines.append(f"  {v.get('id')}: paused in the file")
        else:
            lines.append(f"  {v.get('id')}: serving" if status == "live" else f"  {v.get('id')}")
    return lines


def cmd_list(args: argparse.Namespace) -> int:
    stored = store().load_all()
    day = today()
    rows = [("ID", "PLACEMENT", "STATUS", "OWNER", "REVIEW DUE", "VERSION", "ALLOCATION SINCE")]
    details: dict[str, list[str]] = {}
    for s in stored:
        served = s.effective
        due = retirement.review_due(s.authored)
        due_text = "—" if due is None else due.isoformat() + ("  OVERDUE" if due < day else "")
        decided = lifecycle.get_entry(s.ops, None)
        status = str(served.get("status"))
        if decided is not None and served.get("status") == decided.get("status"):
            status += f" ({decided.get('rule')})"
        rows.append(
            (
                s.id,
                str(served.get("placement")),
                status,
                str(served.get("owner") or "UNOWNED"),
                due_text,
                str(s.version),
                _minute(lifecycle.allocation_start(s.ops)),
            )
        )
        lines = _variant_lines(s.ops, served, status)
        if decided is not None:
            lines.append(f"  ({decided.get('status')}: {lifecycle.describe(decided)})")
        weights = slices.describe(served)
        if weights:
            lines.append(f"  {weights}")
        details[s.id] = lines
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        for line in details.get(row[0], []):
            print(line)
    if len(rows) == 1:
        print("(no experiences pushed yet)")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    s = store()
    found = s.get(args.id) is not None
    if found:
        print_history(s.audit(args.id))
    if s.group(args.id) is not None:
        print(("\n" if found else "") + f"saved group {args.id}:")
        print_history(s.group_audit(args.id))
    elif not found:
        operations.require(s, args.id)  # refused, naming what is stored
    return 0


def print_history(entries: list[dict[str, Any]]) -> None:
    for e in entries:
        print(f"v{e['version']}  {e['at']}  {e['actor']}  {e['action']} ({e['kind']})")
        if e["reason"]:
            print(f"    reason: {e['reason']}")
        if e["action"] == "create":
            print(f"    first version: {len(e['changes'] or {})} field(s)")
        elif e["kind"] == AUTHORED:
            for key, change in sorted((e["changes"] or {}).items()):
                print(f"    {key}: {authored_change(change)}")
        else:
            for line in operational_changes(e["changes"] or {}):
                print(f"    {line}")
        evidence = e["evidence"] or {}
        if evidence:
            print(f"    evidence: {json.dumps(evidence, sort_keys=True)[:300]}")


def authored_change(change: dict[str, Any]) -> str:
    """`0.1 -> 0.3`; for a list of ids (a saved group), what was added and removed."""
    before, after = change.get("from"), change.get("to")
    if (
        isinstance(before, list)
        and isinstance(after, list)
        and all(isinstance(i, str) for i in [*before, *after])
    ):
        added = sorted(set(after) - set(before))
        removed = sorted(set(before) - set(after))
        return f"added {json.dumps(added)}, removed {json.dumps(removed)}"
    return f"{json.dumps(before)} -> {json.dumps(after)}"


def operational_changes(changes: dict[str, Any]) -> list[str]:
    """An operational audit entry's changes as `video paused: …` / `video resumed`."""
    lines = []
    whole = changes.get("experience")
    if isinstance(whole, dict):
        if whole.get("to"):
            to = whole["to"]
            lines.append(f"experience {to.get('status')}: {lifecycle.describe(to)}")
        elif whole.get("from"):
            lines.append(f"experience serving again (was {whole['from'].get('status')})")
    bandit = changes.get(lifecycle.BANDIT)
    if isinstance(bandit, dict) and isinstance(bandit.get("to"), dict):
        lines.append(weights.change(bandit.get("from"), bandit["to"]))
    variants = changes.get("variants")
    if isinstance(variants, dict):
        before, after = variants.get("from") or {}, variants.get("to") or {}
        for vid in sorted(set(after) - set(before)):
            lines.append(f"{vid} paused: {lifecycle.describe(after[vid])}")
        for vid in sorted(set(before) - set(after)):
            lines.append(f"{vid} serving again")
    return lines


def cmd_rollback(args: argparse.Namespace) -> int:
    lines = operations.rollback(store(), args.id, args.to, args.reason, actor(args))
    print("\n".join(lines))
    return 0


ENV_HELP = (
    "Reads AWS_ENDPOINT_URL (the local stack, whose test credentials are then used), "
    "EXPERIENCES_TABLE (default earnest-experiences) and EARNEST_ACTOR (default $USER)."
)


def add_parsers(sub: Any) -> None:
    def add(name: str, func: Any, help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(
            name, help=help_text, description=f"{help_text}. {ENV_HELP}"
        )
        p.set_defaults(func=func)
        return p

    def who(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--actor", help="who does it, for the audit (default: $EARNEST_ACTOR or $USER)"
        )

    p = add("push", cmd_push, "validate, then write experiences (refused if stale)")
    p.add_argument("paths", nargs="+", help="files or folders of .yaml/.yml/.json")
    p.add_argument("--reason", help="why, for the audit entry (default: pushed from FILE)")
    p.add_argument("--force", action="store_true", help="push over newer stored changes")
    plan_cmd.add_traffic_arguments(p)
    who(p)
    p = add("pull", cmd_pull, "write the stored experiences back as authored files")
    p.add_argument("dir", help="folder to write into (files already there are updated in place)")
    p = add("diff", cmd_diff, "what a push would change, field by field (writes nothing)")
    p.add_argument("paths", nargs="+", help="files or folders of .yaml/.yml/.json")
    add("list", cmd_list, "experiences: status, owner, review due, and per variant why")
    p = add("history", cmd_history, "every change of an experience: actor, time, reason, evidence")
    p.add_argument("id")
    p = add("rollback", cmd_rollback, "restore the authored content of a version (pauses stick)")
    p.add_argument("id")
    p.add_argument("--to", type=int, required=True, metavar="VERSION", help="version to restore")
    p.add_argument("--reason", help="why (default: rollback to version N)")
    who(p)
    for name, func, text in (
        ("pause", cmd_pause, "pause an experience or one variant (ID or ID/VARIANT)"),
        ("resume", cmd_resume, "serve a paused experience or variant again (audited)"),
    ):
        p = add(name, func, text)
        p.add_argument("target", metavar="ID[/VARIANT]")
        p.add_argument("--reason", required=True, help="why (required: it is audited)")
        who(p)
    p = add("revive", cmd_revive, "serve a retired experience again once its cause is fixed")
    p.add_argument("id")
    p.add_argument("--reason", required=True, help="why (required: it is audited)")
    p.add_argument("--owner", help="name the owner of an unowned experience (an email)")
    who(p)
    p = add("review", cmd_review, "record a review today (last_reviewed); revives if overdue")
    p.add_argument("id")
    p.add_argument("--reason", help="what the review found (default: reviewed)")
    who(p)
