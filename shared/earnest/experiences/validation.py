"""Launch checks: every problem in a set of experiences, found at once, each named.

`earnest validate` and `earnest push` refuse a live experience that breaks one; the
engine assumes what it serves has passed here. A problem names the file, the experience,
the field and the check, so an owner fixes all of them in one go.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from earnest.conditions.checks import check_condition, condition_paths
from earnest.decide.segments import path_error
from earnest.experiences.models import Experience

# Signals that describe the visit, not the person: readable without consent (docs/consent.md).
CONTEXTUAL_PATHS = frozenset(
    {
        "context.country",
        "context.region",
        "context.device",
        "context.url",
        "context.path",
        "context.referrer",
        "context.language",
        "context.browser",
        "context.os",
        "context.hour",
        "context.weekday",
    }
)

# The launch check each top-level field enforces, as `earnest validate` names it.
CHECK_BY_FIELD = {
    "id": "stable_id",
    "placement": "placement_required",
    "owner": "named_owner",
    "status": "known_status",
    "audience": "valid_audience",
    "requires_consent": "consent_declared",
    "min_identity_confidence": "identity_confidence_range",
    "variants": "positive_weights",
    "default": "strong_default",
    "holdout": "holdout_required",
    "measurement_plan": "measurement_plan",
    "review_every_days": "review_cadence",
    "last_reviewed": "review_cadence",
    "ends_at": "valid_sunset",
    "frequency_cap": "memory_bounds",
    "dismiss_for_days": "memory_bounds",
    "allocation": "valid_allocation",
}


@dataclass(frozen=True, order=True)
class Problem:
    source: str
    experience: str
    field: str
    check: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.experience}: {self.field}: [{self.check}] {self.message}"


def _loc(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def personal_signals(paths: Iterable[str]) -> list[str]:
    """The paths an audience reads that describe the person, not the visit."""
    return sorted(p for p in paths if p not in CONTEXTUAL_PATHS)


def _group_names(condition: Any) -> set[str]:
    names: set[str] = set()
    if isinstance(condition, Mapping):
        for key, value in condition.items():
            if key in ("$inGroup", "$notInGroup") and isinstance(value, str):
                names.add(value)
            else:
                names |= _group_names(value)
    elif isinstance(condition, list):
        for item in condition:
            names |= _group_names(item)
    return names


# A problem before it is placed: (field, message, check); None for the field's own check.
_Finding = tuple[str, str, str | None]


def validate_experience(
    doc: Any, source: str, saved_groups: Mapping[str, Any] | None = None
) -> list[Problem]:
    """Every launch check `doc` fails (empty when it may launch)."""
    if not isinstance(doc, Mapping):
        return [Problem(source, "?", "(document)", "experience_document", "not a mapping")]
    exp_id = str(doc.get("id") or "?")
    findings = [*_schema_findings(doc), *_audience_findings(doc, saved_groups or {})]
    return [
        Problem(source, exp_id, field, check or _field_check(field), message)
        for field, message, check in findings
    ]


def _field_check(field: str) -> str:
    return CHECK_BY_FIELD.get(field.split(".")[0].split("[")[0], "schema")


def _schema_findings(doc: Mapping[str, Any]) -> list[_Finding]:
    try:
        Experience.model_validate(doc)
    except ValidationError as exc:
        return [_schema_finding(err["type"], _loc(err["loc"]), err["msg"]) for err in exc.errors()]
    return []


def _schema_finding(kind: str, field: str, message: str) -> _Finding:
    if kind == "extra_forbidden":
        return field, "unknown field", "known_fields"
    if kind == "missing":
        return field, "required", None
    return field, message, None


def _audience_findings(doc: Mapping[str, Any], groups: Mapping[str, Any]) -> list[_Finding]:
    condition = doc.get("audience") or {}
    condition_problems = check_condition(condition)
    findings: list[_Finding] = [
        (f"audience.{cp.path}" if cp.path else "audience", cp.message, "valid_audience")
        for cp in condition_problems
    ]
    findings += _memory_findings(doc)
    findings += _allocation_consent_findings(doc)
    if isinstance(condition, Mapping) and not condition_problems:
        findings += _consent_findings(condition, doc.get("requires_consent") or [])
        findings += [
            ("audience", f"saved group {name!r} is not defined", "known_saved_group")
            for name in sorted(_group_names(condition) - set(groups))
        ]
    return findings


def _consent_findings(condition: Mapping[str, Any], declared: Any) -> list[_Finding]:
    personal = personal_signals(condition_paths(condition))
    if not personal or "personalization" in declared:
        return []
    message = (
        f"the audience reads {', '.join(personal)}, which describe the person: "
        "declare requires_consent: [personalization]"
    )
    return [("requires_consent", message, "consent_declared")]


def _memory_findings(doc: Mapping[str, Any]) -> list[_Finding]:
    """A cap or a dismissal reads the unit's memory, which is kept only where the visitor
    allows personalization (docs/consent.md): the experience must require it."""
    declared = doc.get("requires_consent") or []
    uses = [f for f in ("frequency_cap", "dismiss_for_days") if doc.get(f) is not None]
    if not uses or "personalization" in declared:
        return []
    message = (
        f"{' and '.join(uses)} read the unit's memory, kept only with consent to "
        "personalization: declare requires_consent: [personalization]"
    )
    return [("requires_consent", message, "consent_declared")]


def _allocation_consent_findings(doc: Mapping[str, Any]) -> list[_Finding]:
    """A bandit that keeps weights per value of a field describing the person (its
    `attributes.*`) personalizes by it: the experience must require that consent."""
    allocation = doc.get("allocation")
    paths = allocation.get("segments") if isinstance(allocation, Mapping) else None
    if not isinstance(paths, list) or "personalization" in (doc.get("requires_consent") or []):
        return []
    personal = personal_signals(p for p in paths if path_error(p) is None)
    if not personal:
        return []
    message = (
        f"allocation.segments reads {', '.join(personal)}, which describe the person: "
        "declare requires_consent: [personalization]"
    )
    return [("requires_consent", message, "consent_declared")]


# The request's shape (SPEC 3): an audience reads only these.
REQUEST_ROOTS = ("visitor.", "context.", "attributes.")
VISITOR_IDS = {
    "id": "visitor.anonymous_id",
    "anonymous_id": "visitor.anonymous_id",
    "user_id": "visitor.user_id",
    "userId": "visitor.user_id",
    "deviceId": "visitor.anonymous_id",
}


def suggest_path(path: str) -> str:
    """Where a path written for another tool's flat attributes lives in a decide request:
    `country` -> `context.country`, `id` -> `visitor.anonymous_id`, else `attributes.…`."""
    if path in VISITOR_IDS:
        return VISITOR_IDS[path]
    if f"context.{path}" in CONTEXTUAL_PATHS:
        return f"context.{path}"
    return f"attributes.{path}"


def shape_warnings(doc: Any, source: str) -> list[Problem]:
    """Audience paths outside the request's shape: they never match, which is allowed (a
    condition may test absence) but almost always a mistake, e.g. GrowthBook's `country`."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("audience"), Mapping):
        return []
    return [
        Problem(
            source,
            str(doc.get("id") or "?"),
            f"audience.{path}",
            "request_shape",
            f"reads {path!r}, which no decide request has (paths start with visitor., "
            f"context. or attributes.): {suggest_path(path)!r}?",
        )
        for path in sorted(condition_paths(doc["audience"]))
        if not path.startswith(REQUEST_ROOTS)
    ]


def validate_all(
    documents: Iterable[tuple[str, Any]], saved_groups: Mapping[str, Any] | None = None
) -> list[Problem]:
    """Problems across a set of documents, including ids that collide between them."""
    docs = list(documents)
    problems = [p for source, doc in docs for p in validate_experience(doc, source, saved_groups)]
    ids = Counter(doc.get("id") for _, doc in docs if isinstance(doc, Mapping) and doc.get("id"))
    for source, doc in docs:
        if isinstance(doc, Mapping) and ids.get(doc.get("id"), 0) > 1:
            problems.append(
                Problem(source, str(doc["id"]), "id", "unique_id", "the same id is used twice")
            )
    return sorted(problems)
