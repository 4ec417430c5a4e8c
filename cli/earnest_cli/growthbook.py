"""`earnest import growthbook FEATURES.json`: GrowthBook experiment rules as Earnest files,
faithfully or not at all.

Reads a GrowthBook features payload (`{"features": {KEY: {"defaultValue", "rules": [...]}},
"savedGroups": {...}}`, what the SDKs fetch) and turns every experiment rule (one with
`variations`) into one experience file, or refuses it saying why. Nothing is lost quietly:

- one file per rule, ids distinct; every id, placement or variant id that differs from
  GrowthBook's key is noted in the file's header;
- each variation is served to the same share of the audience as GrowthBook serves it
  (`weights`, `coverage` and `ranges` read as GrowthBook's `getBucketRanges` reads them):
  the control (variation 0) becomes the `default` and the share GrowthBook leaves out of the
  experiment joins the holdout, which sees the same default and is measured;
- weight-0 variations are dropped, with a note; `filters` and `namespace` that exclude
  anyone, passthrough variations (GrowthBook holdouts), prerequisites (`parentConditions`),
  inactive and forced experiments have no Earnest equivalent: the rule is refused, naming them;
- the payload's saved groups are imported (`saved-groups.yaml`), those holding non-string
  ids refused with the rules that read them;
- an encrypted payload is refused with the hint to fetch it decrypted.

Earnest buckets with MurmurHash3, not GrowthBook's FNV, so visitors are assigned afresh, and
GrowthBook has no owner, measurement plan or review cadence, so every file is a `draft`.
docs/migrating-from-growthbook.md documents each mapping.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from earnest.experiences.validation import suggest_path
from earnest_cli import files
from earnest_cli.errors import CommandError

ANONYMOUS = frozenset({"id", "anonymous_id", "anonymousId", "deviceId", "device_id"})
LOGICAL = ("$and", "$or", "$nor")
GROUP_OPERATORS = ("$inGroup", "$notInGroup")
GROUPS_FILE = "saved-groups"  # <out>/saved-groups.yaml; no experience may take this id
# Rule fields read below; any other is named in the file's header as ignored.
KNOWN = frozenset(
    {"id", "key", "name", "variations", "weights", "coverage", "ranges", "condition", "seed",
     "hashAttribute", "fallbackAttribute", "hashVersion", "phase", "meta", "namespace",
     "filters", "parentConditions", "active", "force", "type", "disableStickyBucketing",
     "bucketVersion", "minBucketVersion", "tracks"}
)  # fmt: skip
SHARE_DIGITS = 6


class Refused(Exception):
    """A rule Earnest cannot serve as GrowthBook does; the message says why."""


@dataclass
class Draft:
    where: str  # `FEATURE rule N`
    doc: dict[str, Any]
    notes: list[str]


@dataclass
class Converted:
    drafts: list[Draft] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (where, why)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # rules that are no experiment
    groups: dict[str, list[str]] = field(default_factory=dict)
    group_notes: list[str] = field(default_factory=list)


def slug(text: str) -> str:
    out = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-_")
    return out[:64] or "x"


# -- who sees which variation ------------------------------------------------------------


def bucket_shares(rule: Mapping[str, Any], count: int) -> tuple[list[float], list[str]]:
    """Each variation's share of the matching audience as GrowthBook serves it (the widths
    of its bucket ranges), and notes on what GrowthBook did with invalid settings."""
    if rule.get("ranges") is not None:
        return _range_shares(rule["ranges"], count), []
    notes = []
    coverage = rule.get("coverage")
    coverage = 1.0 if coverage is None else float(coverage)
    if not 0 <= coverage <= 1:
        notes.append(f"GrowthBook clamps coverage {coverage:g} to {min(max(coverage, 0), 1):g}")
        coverage = min(max(coverage, 0.0), 1.0)
    equal = [1 / count] * count
    weights = rule.get("weights")
    if weights is None:
        weights = equal
    elif len(weights) != count or not 0.99 <= sum(float(w) for w in weights) <= 1.01:
        notes.append(
            f"GrowthBook serves equal weights: its weights {weights} do not give each of the "
            f"{count} variations a share adding up to 1"
        )
        weights = equal
    return [coverage * float(w) for w in weights], notes


def _range_shares(ranges: Any, count: int) -> list[float]:
    if not isinstance(ranges, list) or len(ranges) != count:
        raise Refused(f"ranges {ranges!r}: not one [start, end] per variation")
    spans: list[tuple[float, float]] = []
    for r in ranges:
        if not (isinstance(r, list) and len(r) == 2 and all(isinstance(x, int | float) for x in r)):
            raise Refused(f"ranges {ranges!r}: each is [start, end]")
        start, end = float(r[0]), float(r[1])
        if not 0 <= start <= end <= 1:
            raise Refused(f"ranges {ranges!r}: each within 0..1, start before end")
        spans.append((start, end))
    ordered = sorted(spans)
    if any(a[1] > b[0] for a, b in pairwise(ordered)):
        raise Refused(f"ranges {ranges!r} overlap: a visitor would be in two variations")
    return [end - start for start, end in spans]


def _excludes(rule: Mapping[str, Any]) -> str | None:
    """Why the rule's traffic filters cannot be imported (None: they exclude no one)."""
    for f in rule.get("filters") or []:
        covered = sum(e - s for s, e in (f.get("ranges") or []))
        if covered < 1:
            return (
                f"filters {json.dumps(f, sort_keys=True)}: it takes only part of the traffic to "
                "keep experiments apart; Earnest has no traffic filters"
            )
    namespace = rule.get("namespace")
    if namespace and not rule.get("filters") and float(namespace[2]) - float(namespace[1]) < 1:
        return (
            f"namespace {namespace}: it keeps the experiment apart from the others in "
            f"{namespace[0]!r}; Earnest has no namespaces, so they would overlap"
        )
    return None


def _refusal(rule: Mapping[str, Any], meta: list[Any]) -> str | None:
    """Why a rule cannot be served by Earnest as GrowthBook serves it, else None."""
    passthrough = [i for i, m in enumerate(meta) if isinstance(m, Mapping) and m.get("passthrough")]
    if passthrough:
        return (
            f"meta[{passthrough[0]}].passthrough: a GrowthBook holdout that passes its visitors "
            "on to the next rule; Earnest's holdout is each experience's own `holdout`"
        )
    if rule.get("parentConditions"):
        return "parentConditions: it depends on other features' values (prerequisites)"
    if rule.get("active") is False:
        return "active: false: GrowthBook runs no experiment (everyone sees variation 0)"
    if rule.get("force") is not None:
        return f"force: {rule['force']!r}: every visitor is forced to one variation"
    return _excludes(rule)


# -- one experiment rule -----------------------------------------------------------------


def remap(condition: Any, groups: Mapping[str, str] | None = None) -> Any:
    """A GrowthBook condition with its attribute names in the request's shape and its saved
    groups under their Earnest names."""
    if not isinstance(condition, Mapping):
        return condition
    out: dict[str, Any] = {}
    for key, value in condition.items():
        if key in LOGICAL and isinstance(value, list):
            out[key] = [remap(v, groups) for v in value]
        elif key == "$not":
            out[key] = remap(value, groups)
        elif key.startswith("$"):
            out[key] = value
        else:
            head, _, rest = key.partition(".")
            out[suggest_path(head) + (f".{rest}" if rest else "")] = _renamed(value, groups or {})
    return out


def _renamed(test: Any, groups: Mapping[str, str]) -> Any:
    """An attribute's test with `$inGroup` / `$notInGroup` naming Earnest's saved groups."""
    if isinstance(test, Mapping):
        return {
            k: groups.get(v, v)
            if k in GROUP_OPERATORS and isinstance(v, str)
            else _renamed(v, groups)
            for k, v in test.items()
        }
    return test


def _group_refs(condition: Any) -> set[str]:
    if isinstance(condition, Mapping):
        found = {v for k, v in condition.items() if k in GROUP_OPERATORS and isinstance(v, str)}
        return found.union(*(_group_refs(v) for v in condition.values()))
    if isinstance(condition, list):
        return set().union(*(_group_refs(v) for v in condition))
    return set()


def _variant_ids(meta: list[Any], kept: list[int], notes: list[str]) -> list[str]:
    names = []
    for i in kept:
        m = meta[i] if i < len(meta) and isinstance(meta[i], Mapping) else {}
        names.append(str(m.get("name") or m.get("key") or f"v{i}"))
    ids = [slug(n) for n in names]
    if len(set(ids)) != len(ids):
        ids = [f"v{i}" for i in kept]
        notes.append(f"variant ids v1, v2, … (GrowthBook's names {names} are not distinct)")
    else:
        notes += [
            f"variant {vid} is GrowthBook's {name!r}"
            for vid, name in zip(ids, names, strict=True)
            if vid != name
        ]
    return ids


def experience(
    feature: str, spec: Mapping[str, Any], rule: Mapping[str, Any], groups: Mapping[str, str]
) -> tuple[dict[str, Any], list[str]]:
    """One experiment rule as an Earnest draft and the notes for its header; raises Refused
    when Earnest cannot serve it as GrowthBook does."""
    variations = list(rule["variations"])
    if len(variations) < 2:
        raise Refused("an experiment needs a control and at least one variation")
    meta = list(rule.get("meta") or [])
    why = _refusal(rule, meta)
    if why:
        raise Refused(why)
    shares, notes = bucket_shares(rule, len(variations))
    dropped = [i for i in range(1, len(variations)) if shares[i] <= 0]
    kept = [i for i in range(1, len(variations)) if shares[i] > 0]
    if not kept:
        raise Refused("no variation but the control is served (coverage or weights 0)")
    holdout = round(1 - sum(shares[i] for i in kept), SHARE_DIGITS)
    if holdout <= 0:
        raise Refused(
            "weights: the control is served to no one, so nothing would be measured against "
            "the default; Earnest needs a holdout (give the control a weight)"
        )
    key = str(rule.get("key") or feature)
    doc: dict[str, Any] = {
        "id": slug(key),
        "placement": slug(feature),
        "status": "draft",
        "description": str(rule.get("name") or f"imported from GrowthBook feature {feature}"),
        "audience": remap(rule.get("condition") or {}, groups),
        "variants": [
            {"id": vid, "weight": round(shares[i], SHARE_DIGITS), "content": variations[i]}
            for vid, i in zip(_variant_ids(meta, kept, notes), kept, strict=True)
        ],
        "default": variations[0],
        "holdout": holdout,
        "seed": str(rule.get("seed") or key),
    }
    notes += [
        f"variation {i} ({json.dumps(variations[i])}) dropped: GrowthBook serves it to no one "
        "(weight 0)"
        for i in dropped
    ]
    notes += _served_notes(feature, spec, rule, shares, holdout)
    return doc, notes


def _served_notes(
    feature: str,
    spec: Mapping[str, Any],
    rule: Mapping[str, Any],
    shares: list[float],
    holdout: float,
) -> list[str]:
    """What a reader of the file should know about how it is served, as notes."""
    notes = []
    outside = 1 - sum(shares)
    if outside > 1e-9:
        notes.append(
            f"GrowthBook leaves {outside:.4g} of the audience out of the experiment (coverage "
            f"or ranges): here they join the holdout ({holdout:g} in all), see the default and "
            "are measured"
        )
    if spec.get("defaultValue") != rule["variations"][0]:
        notes.append(
            f"default: the control (variation 0); the feature's defaultValue was "
            f"{json.dumps(spec.get('defaultValue'))}"
        )
    hashed = rule.get("hashAttribute")
    if hashed and hashed not in ANONYMOUS:
        notes.append(f"GrowthBook hashed on {hashed!r}; Earnest buckets on visitor.anonymous_id")
    if rule.get("fallbackAttribute"):
        notes.append(f"fallbackAttribute {rule['fallbackAttribute']!r}: Earnest has one unit")
    if rule.get("namespace") or rule.get("filters"):
        notes.append("namespace / filters that cover all traffic: nothing to carry over")
    if rule.get("type") not in (None, "standard", "experiment"):
        notes.append(
            f"type {rule['type']!r}: imported at the weights in the payload; Earnest does not "
            "move them (its guardrails pause a losing variant instead)"
        )
    ignored = sorted(set(rule) - KNOWN)
    if ignored:
        notes.append(f"ignored GrowthBook field(s) Earnest does not know: {', '.join(ignored)}")
    return notes


# -- a payload ---------------------------------------------------------------------------


def _saved_groups(payload: Mapping[str, Any], converted: Converted) -> dict[str, str]:
    """The payload's saved groups into `converted`; GrowthBook id -> Earnest name of those
    imported."""
    names: dict[str, str] = {}
    raw = payload.get("savedGroups") or {}
    for gb_id, ids in sorted(raw.items() if isinstance(raw, Mapping) else []):
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            converted.group_notes.append(
                f"saved group {gb_id!r} not imported: it holds non-string values, and an "
                "Earnest saved group holds string ids"
            )
            continue
        name = slug(gb_id)
        while name in converted.groups:
            name = slug(f"{name}-2")
        if name != gb_id:
            converted.group_notes.append(f"saved group {name} is GrowthBook's {gb_id!r}")
        converted.groups[name] = list(ids)
        names[gb_id] = name
    return names


def _distinct_id(doc: dict[str, Any], key: str, feature: str, taken: set[str]) -> str | None:
    """Give `doc` an id no other draft has; the note saying so when it is not the key."""
    wanted = doc["id"]
    if wanted in taken:
        doc["id"] = slug(f"{wanted}-{feature}")
        n = 2
        while doc["id"] in taken:
            doc["id"], n = slug(f"{wanted}-{feature}-{n}"), n + 1
        taken.add(doc["id"])
        return f"id {doc['id']}: GrowthBook's key {key!r} is used by another rule too"
    taken.add(wanted)
    return None if wanted == key else f"id {wanted} is GrowthBook's key {key!r}"


def convert(payload: Any) -> Converted:
    """Every rule of a features payload: drafted, refused (why), or skipped (no experiment)."""
    if (
        isinstance(payload, Mapping)
        and payload.get("encryptedFeatures")
        and not payload.get("features")
    ):
        raise CommandError(
            "the payload is encrypted (encryptedFeatures): fetch it decrypted — the SDK "
            "connection's features endpoint without encryption, or decrypt it with the "
            "connection's key first"
        )
    features = payload.get("features") if isinstance(payload, Mapping) else None
    if not isinstance(features, Mapping):
        raise CommandError('not a GrowthBook features payload: no "features" object')
    converted = Converted()
    groups = _saved_groups(payload, converted)
    taken = {GROUPS_FILE}
    for feature, spec in sorted(features.items()):
        rules = spec.get("rules") if isinstance(spec, Mapping) else None
        for i, rule in enumerate(rules if isinstance(rules, list) else []):
            where = f"{feature} rule {i}"
            if not isinstance(rule, Mapping) or "variations" not in rule:
                what = "force" if isinstance(rule, Mapping) and "force" in rule else "rule"
                converted.skipped.append((where, f"a {what} rule, not an experiment"))
                continue
            _one(converted, str(feature), spec, rule, where, groups, taken)
    return converted


def _one(
    converted: Converted,
    feature: str,
    spec: Mapping[str, Any],
    rule: Mapping[str, Any],
    where: str,
    groups: Mapping[str, str],
    taken: set[str],
) -> None:
    missing = sorted(_group_refs(rule.get("condition")) - set(groups))
    try:
        if missing:
            raise Refused(f"condition reads saved group(s) not imported: {', '.join(missing)}")
        doc, notes = experience(feature, spec, rule, groups)
    except Refused as exc:
        converted.refused.append((where, str(exc)))
        return
    except (TypeError, ValueError, KeyError, IndexError) as exc:
        converted.refused.append((where, f"not a rule GrowthBook documents: {exc}"))
        return
    renamed = _distinct_id(doc, str(rule.get("key") or feature), feature, taken)
    if doc["placement"] != feature:
        notes.insert(0, f"placement {doc['placement']} is GrowthBook's feature {feature!r}")
    if renamed:
        notes.insert(0, renamed)
    notes.insert(
        0,
        "draft imported from GrowthBook: add owner, measurement_plan, review_every_days and "
        "last_reviewed (and requires_consent if `earnest validate` asks) before status: live",
    )
    converted.drafts.append(Draft(where, doc, notes))


def write_drafts(features: Path, out: Path) -> int:
    """`earnest import growthbook FEATURES --out OUT`: one draft file per experiment rule."""
    try:
        payload = json.loads(features.read_text())
    except (ValueError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise CommandError(f"{features}: not valid JSON: {why}") from None
    converted = convert(payload)
    out.mkdir(parents=True, exist_ok=True)
    for draft in converted.drafts:
        path = out / f"{draft.doc['id']}.yaml"
        header = "".join(f"# {note}\n" for note in [f"from {draft.where}", *draft.notes])
        path.write_text(header + files.dump(draft.doc))
        print(f"{draft.doc['id']}: draft -> {path}")
    if converted.groups or converted.group_notes:
        path = out / f"{GROUPS_FILE}.yaml"
        header = "".join(f"# {note}\n" for note in converted.group_notes)
        path.write_text(header + files.dump({"saved_groups": converted.groups}))
        print(f"{len(converted.groups)} saved group(s) -> {path}")
        for note in converted.group_notes:
            print(f"  {note}")
    for where, why in converted.skipped:
        print(f"skipped {where}: {why}")
    for where, why in converted.refused:
        print(f"not importable: {where}: {why}")
    print(
        f"{len(converted.drafts)} experiment(s) imported as drafts, "
        f"{len(converted.refused)} not importable"
    )
    print(f"`earnest validate {out}` says what each needs before it may go live")
    return 1 if converted.refused and not converted.drafts else 0
