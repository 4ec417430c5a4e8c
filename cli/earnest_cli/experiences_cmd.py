"""The experience commands: push, pull, diff, list, history, rollback, pause, resume, revive,
review.

Authored content comes from files in git; operational state (pauses and retirements) comes
from the guardrails and operators, and no command on authored content ever undoes it
(earnest.experiences.lifecycle). A push is refused when the checkout has not seen the
latest authored change: the base it started from is the file's `version:`, else the
stored version whose content the file equals, else the version this checkout last pushed
or pulled (kept in `$EARNEST_STATE_DIR/base.json`, default `.earnest/`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from earnest.experiences import lifecycle
from earnest.report import guardrails
from earnest_aws.experiences_store import ExperiencesStore, StoredExperience, now_iso
from earnest_cli import files, plan_cmd
from earnest_cli.errors import CommandError

LIFECYCLE_RULES = frozenset({guardrails.UNOWNED, guardrails.REVIEW_OVERDUE, guardrails.ENDED})


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


def today() -> Any:
    return datetime.now(UTC).date()


def require(s: ExperiencesStore, exp_id: str) -> StoredExperience:
    stored = s.get(exp_id)
    if stored is None:
        raise CommandError(f"no experience {exp_id!r} is stored (earnest list shows them)")
    return stored


# -- the checkout's record of what it last saw ----------------------------------------


def _state_file() -> Path:
    return Path(os.environ.get("EARNEST_STATE_DIR", ".earnest")) / "base.json"


def _state_key(s: ExperiencesStore) -> str:
    return f"{os.environ.get('AWS_ENDPOINT_URL', 'aws')} {s.table}"


def seen(s: ExperiencesStore) -> dict[str, int]:
    try:
        data = json.loads(_state_file().read_text())
    except (OSError, ValueError):
        return {}
    got = data.get(_state_key(s), {}) if isinstance(data, dict) else {}
    return {k: v for k, v in got.items() if isinstance(v, int)}


def remember(s: ExperiencesStore, versions: dict[str, int]) -> None:
    path = _state_file()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    data.setdefault(_state_key(s), {}).update(versions)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True))


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


# -- push ------------------------------------------------------------------------------


def stale(
    s: ExperiencesStore, stored: StoredExperience, body: dict[str, Any], declared: Any
) -> str | None:
    """Why a push of `body` over `stored` must be refused, or None when it may go."""
    authored = [e for e in s.audit(stored.id) if e["kind"] == lifecycle.AUTHORED]
    digest = lifecycle.content_hash(body)
    same = [e["version"] for e in authored if e.get("content_hash") == digest]
    base: int | None
    if isinstance(declared, int):
        base, basis = declared, f"your file says version {declared}"
    elif same:
        base, basis = max(same), f"your file is the content of version {max(same)}"
    elif (last_seen := seen(s).get(stored.id)) is not None:
        base, basis = last_seen, f"this checkout last saw version {last_seen}"
    else:
        base, basis = None, "this checkout has never pulled or pushed it"
    newer = [e for e in authored if base is None or e["version"] > base]
    if not newer:
        return None
    last = newer[-1]
    fields = ", ".join(sorted(last.get("changes") or {})) or "its content"
    return (
        f"refused: {basis}; since then it was changed by {last['actor']} at {last['at']}: "
        f"{fields} (version {last['version']}). Run `earnest pull DIR` (or `earnest diff`), merge, "
        "and push again; --force pushes over it."
    )


def push_one(
    s: ExperiencesStore, source: str, doc: dict[str, Any], args: argparse.Namespace
) -> bool:
    exp_id = str(doc["id"])
    declared = doc.get("version")
    body = lifecycle.authored_only(doc)
    stored = s.get(exp_id)
    if stored is not None and stored.authored == body:
        print(f"{exp_id}: unchanged (version {stored.version})")
        for line in lifecycle.kept(exp_id, body, stored.ops):
            print(f"  {line}")
        remember(s, {exp_id: stored.version})
        return True
    if stored is not None and not args.force:
        refusal = stale(s, stored, body, declared)
        if refusal:
            print(f"{source}: {exp_id}: {refusal}", file=sys.stderr)
            return False
    version = s.save(
        body,
        stored.version if stored else None,
        actor=actor(args),
        action="create" if stored is None else "update",
        reason=args.reason or f"pushed from {source}",
        changes=guardrails.changes(stored.authored if stored else {}, body),
        ops=stored.ops if stored else None,
    )
    print(f"{exp_id}: {'created' if stored is None else 'updated'} -> version {version}")
    if stored is not None:
        revived = revive_if_remedied(s, exp_id, f"pushed from {source}", args)
        ops = require(s, exp_id).ops if revived else stored.ops
        for line in lifecycle.kept(exp_id, body, ops):
            print(f"  {line}")
        version = revived or version
    remember(s, {exp_id: version})
    return True


def revive_if_remedied(
    s: ExperiencesStore, exp_id: str, how: str, args: argparse.Namespace
) -> int | None:
    """Lift a guardrail retirement whose causes the new authored content has remedied
    (a review recorded, an owner named, a later `ends_at`): the natural way to revive."""
    stored = require(s, exp_id)
    decided = lifecycle.get_entry(stored.ops, None)
    if decided is None or decided.get("status") != lifecycle.RETIRED:
        return None
    if decided.get("rule") not in LIFECYCLE_RULES or guardrails.lifecycle(stored.authored, today()):
        return None
    version = s.save_ops(
        stored,
        lifecycle.without(stored.ops, None),
        actor=actor(args),
        action="revive",
        reason=f"{decided.get('rule')} remedied: {how}",
        evidence={"lifted": dict(decided)},
        changes={"experience": {"from": dict(decided), "to": None}},
    )
    print(f"  {exp_id} revived: {decided.get('rule')} remedied ({how}) -> version {version}")
    return version


def warn(authored: files.Authored) -> None:
    """Print what is allowed but almost surely wrong (audience paths outside the request)."""
    from earnest.experiences.validation import shape_warnings

    for source, doc in authored.experiences:
        for warning in shape_warnings(doc, source):
            print(f"warning: {warning}", file=sys.stderr)


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
    for name, ids in sorted(authored.saved_groups.items()):
        s.save_group(name, ids, actor(args))
        print(f"saved group {name}: {len(ids)} id(s)")
    ok = [push_one(s, source, doc, args) for source, doc in authored.experiences]
    return 0 if all(ok) else 1


def cmd_pull(args: argparse.Namespace) -> int:
    s = store()
    target = Path(args.dir)
    target.mkdir(parents=True, exist_ok=True)
    where = files.by_id([target])
    versions = {}
    for stored in s.load_all():
        path = where.get(stored.id, target / f"{stored.id}.yaml")
        text = files.dump(stored.authored)
        if path.exists() and files.load([path]).experiences == [(str(path), stored.authored)]:
            print(f"{stored.id}: unchanged ({path})")
        else:
            path.write_text(text)
            print(f"{stored.id}: version {stored.version} -> {path}")
        versions[stored.id] = stored.version
    groups = s.groups()
    if groups:
        (target / "groups.yaml").write_text(files.dump({"saved_groups": groups}))
    remember(s, versions)
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
        for line in lifecycle.kept(exp_id, body, stored.ops if stored else {}):
            print(f"  {line}")
    return 1 if authored.problems else 0


# -- operational state -----------------------------------------------------------------


def _target(text: str) -> tuple[str, str | None]:
    exp_id, _, variant = text.partition("/")
    return exp_id, variant or None


def cmd_pause(args: argparse.Namespace) -> int:
    exp_id, variant = _target(args.target)
    s = store()
    stored = require(s, exp_id)
    if variant is not None and variant not in {v.get("id") for v in stored.authored["variants"]}:
        raise CommandError(f"{exp_id} has no variant {variant!r}")
    if lifecycle.get_entry(stored.ops, variant) is not None:
        print(f"{args.target}: already {lifecycle.get_entry(stored.ops, variant)}")
        return 0
    e = lifecycle.entry(
        lifecycle.PAUSED, lifecycle.OPERATOR, args.reason, actor(args), now_iso(), {}
    )
    new_ops = lifecycle.set_entry(stored.ops, variant, e)
    version = s.save_ops(
        stored,
        new_ops,
        actor=actor(args),
        action="pause_variant" if variant else "pause_experience",
        reason=args.reason,
        changes=guardrails.changes(stored.ops, new_ops),
    )
    print(
        f"{args.target}: paused -> version {version} "
        f'(earnest resume {args.target} --reason "…" to undo)'
    )
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    exp_id, variant = _target(args.target)
    s = store()
    stored = require(s, exp_id)
    found = lifecycle.get_entry(stored.ops, variant)
    if found is None or found.get("status") != lifecycle.PAUSED:
        if found is not None:
            raise CommandError(f"{exp_id} is retired: earnest revive {exp_id} --reason …")
        raise CommandError(f"{args.target} is not paused by operations; nothing to resume")
    new_ops = lifecycle.without(stored.ops, variant)
    whole = lifecycle.get_entry(new_ops, None)
    if variant and whole and whole.get("rule") == guardrails.ALL_VARIANTS_PAUSED:
        new_ops = lifecycle.without(new_ops, None)  # a variant serves again, so may the whole
    version = s.save_ops(
        stored,
        new_ops,
        actor=actor(args),
        action="resume",
        reason=args.reason,
        evidence={"lifted": dict(found)},
        changes=guardrails.changes(stored.ops, new_ops),
    )
    print(
        f"{args.target}: serving again -> version {version} (was {lifecycle.describe(found)}); "
        "the next nightly report judges it again"
    )
    return 0


def cmd_revive(args: argparse.Namespace) -> int:
    s = store()
    stored = require(s, args.id)
    found = lifecycle.get_entry(stored.ops, None)
    if found is None or found.get("status") != lifecycle.RETIRED:
        raise CommandError(f"{args.id} is not retired by operations; nothing to revive")
    if args.owner:
        body = {**stored.authored, "owner": args.owner}
        s.save(
            body,
            stored.version,
            actor(args),
            "update",
            args.reason,
            changes=guardrails.changes(stored.authored, body),
            ops=stored.ops,
        )
        stored = require(s, args.id)
    broken = guardrails.lifecycle(stored.authored, today())
    if broken:
        fixes = {
            guardrails.UNOWNED: "name one with --owner EMAIL",
            guardrails.REVIEW_OVERDUE: f"record a review: earnest review {args.id}",
            guardrails.ENDED: "push a later ends_at",
        }
        raise CommandError(
            f"{args.id} would be retired again tonight: "
            + "; ".join(f"{why} ({fixes[rule]})" for rule, why in broken)
        )
    version = s.save_ops(
        stored,
        lifecycle.without(stored.ops, None),
        actor=actor(args),
        action="revive",
        reason=args.reason,
        evidence={"lifted": dict(found)},
        changes={"experience": {"from": dict(found), "to": None}},
    )
    print(f"{args.id}: revived -> version {version} (was {lifecycle.describe(found)})")
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    s = store()
    stored = require(s, args.id)
    body = {**stored.authored, "last_reviewed": today().isoformat()}
    reason = args.reason or "reviewed"
    if body == stored.authored:
        print(f"{args.id}: already reviewed today (version {stored.version})")
    else:
        version = s.save(
            body,
            stored.version,
            actor(args),
            "review",
            reason,
            changes=guardrails.changes(stored.authored, body),
            ops=stored.ops,
        )
        print(f"{args.id}: reviewed {body['last_reviewed']} -> version {version}")
        print("  (put the same last_reviewed in your file, or run earnest pull, before pushing)")
    revive_if_remedied(s, args.id, f"review recorded by {actor(args)}", args)
    return 0


# -- reading ---------------------------------------------------------------------------


def _minute(moment: str | None) -> str:
    """A stored time to the minute (`2026-11-01 09:00Z`); a dash when there is none."""
    return "—" if moment is None else f"{moment[:10]} {moment[11:16]}Z"


def cmd_list(args: argparse.Namespace) -> int:
    stored = store().load_all()
    day = today()
    rows = [("ID", "PLACEMENT", "STATUS", "OWNER", "REVIEW DUE", "VERSION", "ALLOCATION SINCE")]
    details: dict[str, list[str]] = {}
    for s in stored:
        served = s.effective
        due = guardrails.review_due(s.authored)
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
        lines = []
        for v in served.get("variants") or []:
            e = lifecycle.get_entry(s.ops, v.get("id"))
            if e is not None:
                lines.append(f"  {v.get('id')}: paused: {lifecycle.describe(e)}")
            elif v.get("paused"):
                lines.append(f"  {v.get('id')}: paused in the file")
            else:
                lines.append(
                    f"  {v.get('id')}: serving" if status == "live" else f"  {v.get('id')}"
                )
        if decided is not None:
            lines.append(f"  ({decided.get('status')}: {lifecycle.describe(decided)})")
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
    require(s, args.id)
    for e in s.audit(args.id):
        print(f"v{e['version']}  {e['at']}  {e['actor']}  {e['action']} ({e['kind']})")
        if e["reason"]:
            print(f"    reason: {e['reason']}")
        if e["action"] == "create":
            print(f"    first version: {len(e['changes'] or {})} field(s)")
        elif e["kind"] == lifecycle.AUTHORED:
            for key, change in sorted((e["changes"] or {}).items()):
                before, after = json.dumps(change.get("from")), json.dumps(change.get("to"))
                print(f"    {key}: {before} -> {after}")
        else:
            for line in operational_changes(e["changes"] or {}):
                print(f"    {line}")
        evidence = e["evidence"] or {}
        if evidence:
            print(f"    evidence: {json.dumps(evidence, sort_keys=True)[:300]}")
    return 0


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
    variants = changes.get("variants")
    if isinstance(variants, dict):
        before, after = variants.get("from") or {}, variants.get("to") or {}
        for vid in sorted(set(after) - set(before)):
            lines.append(f"{vid} paused: {lifecycle.describe(after[vid])}")
        for vid in sorted(set(before) - set(after)):
            lines.append(f"{vid} serving again")
    return lines


def cmd_rollback(args: argparse.Namespace) -> int:
    s = store()
    stored = require(s, args.id)
    target = next((e for e in s.audit(args.id) if e["version"] == args.to), None)
    if target is None or target["kind"] != lifecycle.AUTHORED:
        raise CommandError(f"{args.id} has no authored version {args.to} (earnest history)")
    if target["doc"] is None:
        raise CommandError(f"version {args.to} was stored before content was kept per version")
    body = target["doc"]
    if body == stored.authored:
        print(f"{args.id}: unchanged: version {stored.version} already has that content")
        return 0
    version = s.save(
        body,
        stored.version,
        actor(args),
        "rollback",
        args.reason or f"rollback to version {args.to}",
        changes=guardrails.changes(stored.authored, body),
        ops=stored.ops,
    )
    print(f"{args.id}: rolled back to the content of version {args.to} -> version {version}")
    for line in lifecycle.kept(args.id, body, stored.ops):
        print(f"  {line}")
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
