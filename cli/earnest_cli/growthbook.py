"""`earnest import growthbook FEATURES.json`: GrowthBook experiment rules as Earnest files.

Reads a GrowthBook features payload (`{"features": {KEY: {"defaultValue", "rules": [...]}}}`,
what the SDKs fetch from the features endpoint) and turns every experiment rule (one with
`variations`) into one experience file:

- placement: the feature key; id: the rule's `key` (the experiment's tracking key);
- audience: the rule's `condition`, its flat attribute names moved into the request's
  shape (`country` -> `context.country`, `id` -> `visitor.anonymous_id`, the rest under
  `attributes.`; earnest.experiences.validation.suggest_path);
- default: the control (variation 0), whose traffic share becomes the holdout;
  variants: the other variations with their weights (ids from `meta`);
- seed: the rule's `seed` or key. Earnest buckets with MurmurHash3, not GrowthBook's FNV,
  so visitors are assigned afresh.

GrowthBook has no owner, no measurement plan and no review cadence, so every file is a
`draft` that says what to add before it may go live. `coverage` below 1, a `hashAttribute`
other than an anonymous id, namespaces and `force` rules have no Earnest equivalent: each is
named in the file's header (or skipped, and said so) rather than silently dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from earnest.experiences.validation import suggest_path
from earnest_cli import files
from earnest_cli.errors import CommandError

ANONYMOUS = frozenset({"id", "anonymous_id", "anonymousId", "deviceId", "device_id"})
LOGICAL = ("$and", "$or", "$nor")


def slug(text: str) -> str:
    out = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-_")
    return out[:64] or "x"


def remap(condition: Any) -> Any:
    """A GrowthBook condition with its attribute names in the request's shape."""
    if not isinstance(condition, Mapping):
        return condition
    out: dict[str, Any] = {}
    for key, value in condition.items():
        if key in LOGICAL and isinstance(value, list):
            out[key] = [remap(v) for v in value]
        elif key == "$not":
            out[key] = remap(value)
        elif key.startswith("$"):
            out[key] = value
        else:
            head, _, rest = key.partition(".")
            out[suggest_path(head) + (f".{rest}" if rest else "")] = value
    return out


def experience(
    feature: str, spec: Mapping[str, Any], rule: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """One experiment rule as an Earnest draft, and the notes for its header."""
    variations = list(rule["variations"])
    if len(variations) < 2:
        raise ValueError("an experiment needs a control and at least one variation")
    weights = [float(w) for w in rule.get("weights") or [1 / len(variations)] * len(variations)]
    total = sum(weights) or 1.0
    meta = list(rule.get("meta") or [])
    key = str(rule.get("key") or feature)
    ids = []
    for i in range(1, len(variations)):
        m = meta[i] if i < len(meta) and isinstance(meta[i], Mapping) else {}
        ids.append(slug(str(m.get("name") or m.get("key") or f"v{i}")))
    if len(set(ids)) != len(ids):
        ids = [f"v{i}" for i in range(1, len(variations))]
    doc: dict[str, Any] = {
        "id": slug(key),
        "placement": slug(feature),
        "status": "draft",
        "description": str(rule.get("name") or f"imported from GrowthBook feature {feature}"),
        "audience": remap(rule.get("condition") or {}),
        "variants": [
            {"id": vid, "weight": round(w / total, 6), "content": v}
            for vid, w, v in zip(ids, weights[1:], variations[1:], strict=True)
        ],
        "default": variations[0],
        "holdout": round(weights[0] / total, 6),
        "seed": str(rule.get("seed") or key),
    }
    notes = [
        "draft imported from GrowthBook: add owner, measurement_plan, review_every_days and "
        "last_reviewed (and requires_consent if `earnest validate` asks) before status: live",
        f"default: the control (variation 0); the feature's defaultValue was "
        f"{json.dumps(spec.get('defaultValue'))}",
    ]
    coverage = rule.get("coverage")
    if coverage is not None and float(coverage) < 1:
        notes.append(
            f"GrowthBook coverage {coverage}: Earnest includes every visitor the audience "
            "matches; narrow the audience if only part should take part"
        )
    hash_attribute = rule.get("hashAttribute")
    if hash_attribute and hash_attribute not in ANONYMOUS:
        notes.append(
            f"GrowthBook hashed on {hash_attribute!r}; Earnest buckets on visitor.anonymous_id"
        )
    if rule.get("namespace"):
        notes.append(f"GrowthBook namespace {rule['namespace']} has no Earnest equivalent")
    return doc, notes


def convert(payload: Any) -> tuple[list[tuple[dict[str, Any], list[str]]], list[str]]:
    """(experience drafts with their notes, what was skipped and why)."""
    features = payload.get("features") if isinstance(payload, Mapping) else None
    if not isinstance(features, Mapping):
        raise CommandError('not a GrowthBook features payload: no "features" object')
    out, skipped = [], []
    for feature, spec in sorted(features.items()):
        rules = spec.get("rules") if isinstance(spec, Mapping) else None
        for i, rule in enumerate(rules or []):
            if not isinstance(rule, Mapping) or "variations" not in rule:
                what = "force" if isinstance(rule, Mapping) and "force" in rule else "rule"
                skipped.append(f"{feature} rule {i}: a {what} rule, not an experiment")
                continue
            try:
                out.append(experience(str(feature), spec, rule))
            except (TypeError, ValueError) as exc:
                skipped.append(f"{feature} rule {i}: {exc}")
    return out, skipped


def write_drafts(features: Path, out: Path) -> int:
    """`earnest import growthbook FEATURES --out OUT`: one draft file per experiment rule."""
    try:
        payload = json.loads(features.read_text())
    except (ValueError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise CommandError(f"{features}: not valid JSON: {why}") from None
    drafts, skipped = convert(payload)
    out.mkdir(parents=True, exist_ok=True)
    for doc, notes in drafts:
        path = out / f"{doc['id']}.yaml"
        header = "".join(f"# {note}\n" for note in notes)
        path.write_text(header + files.dump(doc))
        print(f"{doc['id']}: draft -> {path}")
    for line in skipped:
        print(f"skipped {line}")
    print(f"{len(drafts)} experiment(s) imported as drafts")
    print(f"`earnest validate {out}` says what each needs before it may go live")
    return 0
