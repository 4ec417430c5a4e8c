"""A live experience as the engine serves it: compiled once when rules load.

`compile_experience` checks a stored document and turns it into what the decide loop reads
without work per request: the audience's predicate, the consent it needs, the identity
confidence it asks, the bucketing seeds and split, the ready-made answers, and what the
unit's memory decides (frequency cap, dismissals: `recalled`), and the readers of the
segments its exposures record (`earnest.decide.segments.recorded`). The engine
(`earnest.decide.engine`) decides with these; the edge bundle compiles them to check what
it publishes.

Hot path: stdlib and the core only (decide imports it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from earnest.conditions.checks import condition_paths
from earnest.conditions.compile import compile_condition
from earnest.consent.purposes import PURPOSES
from earnest.decide.bucketing import seed_for
from earnest.decide.reasons import (
    DEFAULT_REASONS,
    DISMISSED,
    FREQUENCY_CAPPED,
    NO_LIVE_EXPERIENCE,
    PERSONALIZED,
    UNKNOWN_PLACEMENT,
)
from earnest.decide.segments import Reader, reader, recorded
from earnest.decide.slices import segment_path, segment_splits, split
from earnest.memory import MAX_EXPOSURES, MAX_WINDOW_DAYS, Memory

# Paths that identify a person rather than describe a visit (SPEC 2: identity-based).
IDENTITY_PREFIXES = ("visitor.user_id", "attributes")
DEFAULT_MIN_IDENTITY_CONFIDENCE = 0.9

Predicate = Callable[[Mapping[str, Any]], bool]


class ExperienceCompileError(ValueError):
    """A stored experience that cannot be served; the loader skips it and says which."""

    def __init__(self, experience_id: str, message: str) -> None:
        super().__init__(f"{experience_id}: {message}")
        self.experience_id = experience_id


@dataclass(frozen=True, slots=True)
class CompiledExperience:
    id: str
    placement: str
    priority: int
    predicate: Predicate
    requires: frozenset[str]
    min_identity: float  # 0.0 when the audience is not identity-based
    default: Any
    holdout: float
    holdout_seed: int
    variant_seed: int
    variant_ids: tuple[str, ...]
    variant_contents: tuple[Any, ...]
    bounds: tuple[float, ...]
    outranks: tuple[CompiledExperience, ...] = ()  # the candidates after it, in order
    # Ready-made answers, shared by the decisions they fit (copied to add a trace or token):
    # by reason for the default's reasons, by index for the variants.
    answers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    variant_answers: tuple[Mapping[str, Any], ...] = ()
    audience: Mapping[str, Any] = field(default_factory=dict)  # as authored, for explain
    slot: int = -1  # its place in the engine's audience sweep (set by the engine)
    swept: bool = False  # whether the sweep's answer is its audience's (else: its predicate)
    # What the unit's memory decides (0: not capped, not dismissable), and whether any.
    cap_max: int = 0
    cap_days: int = 0
    dismiss_days: int = 0
    remembers: bool = False
    # A segmented bandit's reader of the request's segment value and, per value with its
    # own weights, its bounds and answers (any other value: `bounds`, `variant_answers`).
    segment_read: Reader | None = None
    segment_picks: Mapping[str, tuple[tuple[float, ...], tuple[Mapping[str, Any], ...]]] = field(
        default_factory=dict
    )
    # The segments its tokens record, each with its reader, made once (empty: none).
    recorded_segments: tuple[tuple[str, Reader], ...] = ()


class Answer(dict[str, Any]):
    """A ready-made answer, shared by every response it fits: reading it is a dict's read,
    changing it raises (copy it with `dict(answer)` first)."""

    def _refuse(self, *_args: Any, **_kwargs: Any) -> None:
        raise TypeError("a shared answer is read-only: copy it with dict(answer) to change it")

    __setitem__ = __delitem__ = __ior__ = _refuse  # type: ignore[assignment]
    update = pop = popitem = setdefault = clear = _refuse  # type: ignore[assignment]

    def __reduce__(self) -> tuple[type[Answer], tuple[dict[str, Any]]]:
        return Answer, (dict(self),)  # copy, deepcopy and pickle rebuild it whole


NO_TRACE: tuple[dict[str, str], ...] = ()  # shared and immutable: most answers explain nothing


def template(exp_id: str | None, variant: str | None, reason: str, content: Any) -> Answer:
    return Answer(
        experience=exp_id,
        variant=variant,
        reason=reason,
        content=content,
        token=None,
        trace=NO_TRACE,
    )


NO_LIVE_ANSWER = template(None, None, NO_LIVE_EXPERIENCE, None)
UNKNOWN_ANSWER = template(None, None, UNKNOWN_PLACEMENT, None)


def reads_identity(paths: Iterable[str]) -> bool:
    return any(p == pre or p.startswith(pre + ".") for p in paths for pre in IDENTITY_PREFIXES)


def compile_experience(
    doc: Mapping[str, Any], saved_groups: Mapping[str, Iterable[str]] | None = None
) -> CompiledExperience:
    """One live experience as the engine serves it; raises on a document it cannot serve."""
    exp_id = str(doc.get("id", "?"))
    try:
        condition = doc.get("audience") or {}
        predicate = compile_condition(condition, saved_groups)  # {} matches all
        paths = condition_paths(condition)
        min_identity = doc.get("min_identity_confidence")
        if min_identity is None and reads_identity(paths):
            min_identity = DEFAULT_MIN_IDENTITY_CONFIDENCE
        variants = [v for v in doc["variants"] if not v.get("paused")]
        if not variants:
            raise ValueError("no variant to serve: every variant is paused")
        if any(not float(v["weight"]) > 0 for v in variants):
            raise ValueError("variant weights must be > 0")
        holdout = float(doc["holdout"])
        if not 0 < holdout < 1:
            raise ValueError("holdout must be within (0, 1)")
        requires = tuple(str(p) for p in doc.get("requires_consent") or ())
        unknown = [p for p in requires if p not in PURPOSES]
        if unknown:
            raise ValueError(f"unknown consent purposes {unknown}")
        default = doc["default"]
        cap_max, cap_days, dismiss_days = _memory_rules(doc)
        contents = tuple(v.get("content") for v in variants)
        variant_ids = tuple(str(v["id"]) for v in variants)
        weighted = [(i, float(v["weight"])) for i, v in zip(variant_ids, variants, strict=True)]
        bounds, order = split(doc, weighted)  # a fixed split, or a bandit's slices
        answers = [
            template(exp_id, i, PERSONALIZED, c) for i, c in zip(variant_ids, contents, strict=True)
        ]
        path = segment_path(doc)
        picks = {
            value: (b, tuple(answers[i] for i in o))
            for value, (b, o) in segment_splits(doc, weighted).items()
        }
        return CompiledExperience(
            id=exp_id,
            placement=str(doc["placement"]),
            priority=int(doc.get("priority", 0)),
            predicate=predicate,
            requires=frozenset(requires),
            min_identity=0.0 if min_identity is None else float(min_identity),
            default=default,
            holdout=holdout,
            holdout_seed=seed_for(f"{doc.get('seed', exp_id)}:holdout"),
            variant_seed=seed_for(f"{doc.get('seed', exp_id)}:variant"),
            variant_ids=variant_ids,
            variant_contents=contents,
            bounds=bounds,
            answers={r: template(exp_id, None, r, default) for r in DEFAULT_REASONS},
            variant_answers=tuple(answers[i] for i in order),  # one per bound
            audience=condition if isinstance(condition, Mapping) else {},
            cap_max=cap_max,
            cap_days=cap_days,
            dismiss_days=dismiss_days,
            remembers=bool(cap_max and cap_days) or dismiss_days > 0,
            segment_read=reader(path) if path and picks else None,
            segment_picks=picks,
            recorded_segments=tuple((p, reader(p)) for p in recorded(doc)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ExperienceCompileError):
            raise
        raise ExperienceCompileError(exp_id, f"{type(exc).__name__}: {exc}") from None


def _memory_rules(doc: Mapping[str, Any]) -> tuple[int, int, int]:
    """(max_exposures, per_days, dismiss_for_days), 0 where not set; raises on a value out
    of the bounds validation names (docs/experiences.md)."""
    cap = doc.get("frequency_cap")
    cap_max = cap_days = 0
    if cap is not None:
        if not isinstance(cap, Mapping):
            raise ValueError("frequency_cap must be {max_exposures, per_days}")
        cap_max, cap_days = (
            _whole(cap, "max_exposures", MAX_EXPOSURES),
            _whole(cap, "per_days", MAX_WINDOW_DAYS),
        )
    dismiss = (
        _whole(doc, "dismiss_for_days", MAX_WINDOW_DAYS)
        if doc.get("dismiss_for_days") is not None
        else 0
    )
    return cap_max, cap_days, dismiss


def _whole(doc: Mapping[str, Any], name: str, most: int) -> int:
    value = doc.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise ValueError(f"{name} must be a whole number from 1 to {most}")
    return value


def recalled(exp: CompiledExperience, memory: Memory, now_ms: int) -> str:
    """What the unit's memory says of `exp` ("" when nothing): a dismissal first."""
    if exp.dismiss_days and memory.dismissed_within(exp.id, now_ms, exp.dismiss_days):
        return DISMISSED
    if exp.cap_max and memory.exposures_within(exp.id, now_ms, exp.cap_days) >= exp.cap_max:
        return FREQUENCY_CAPPED
    return ""
