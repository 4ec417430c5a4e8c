"""Where a decision happens: the experiences, compiled once, decide each placement of a request.

The engine is the only place that picks a variant. Per placement it walks the live
experiences by priority (then id) and, for each candidate, checks consent, identity and
audience; the first that passes wins, then the global holdout, the experience's holdout
and the variant split are applied. Every answer carries a reason from a closed set and a
trace of the candidates that lost and why.

Hot path: imports only the stdlib, mmh3 and orjson (via tokens); conditions are compiled
when rules load, never interpreted per request. A page that names many placements has
every audience evaluated in one call, each attribute read once (`compile_sweep`); a page
naming few asks each candidate's predicate as the loop reaches it. The winner's token
carries the request's value of each segment its experience records (nothing is read for
an experience without segments). Answers are made once,
read-only, and shared by every response they fit; a decision with a trace or a token is
its own copy.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import orjson

from earnest.conditions.recency import at_time, reads_time
from earnest.conditions.sweep import compile_sweep, sweeps
from earnest.consent.purposes import effective_consent
from earnest.decide.bucketing import GLOBAL_HOLDOUT_SEED_NAME, bucket, pick, seed_for
from earnest.decide.compiled import (
    NO_LIVE_ANSWER,
    UNKNOWN_ANSWER,
    CompiledExperience,
    ExperienceCompileError,
    Predicate,
    compile_experience,
    recalled,
    template,
)
from earnest.decide.reasons import (  # the closed set: declared in earnest.decide.reasons
    GLOBAL_HOLDOUT,
    HOLDOUT,
    IDENTITY_UNCERTAIN,
    LOWER_PRIORITY,
    NO_CONSENT,
    NOT_IN_AUDIENCE,
    RULES_UNAVAILABLE,
)
from earnest.decide.request import identity_confidence, validate_request
from earnest.decide.segments import values
from earnest.memory import Memory
from earnest.tokens import TokenSigner

# A page naming at least one placement per SWEEP_SHARE of the swept experiences has them
# all evaluated at once: a swept audience costs about a third of a predicate call.
SWEEP_SHARE = 3


class _OneByOne:
    """The audiences of a page naming few placements: each predicate asked when reached."""

    __slots__ = ("predicates", "request")

    def __init__(self, predicates: Sequence[Predicate], request: Mapping[str, Any]) -> None:
        self.predicates, self.request = predicates, request

    def __getitem__(self, slot: int) -> bool:
        return self.predicates[slot](self.request)


def _always(_: Any) -> bool:
    return True


def rules_version_of(experiences: Sequence[Mapping[str, Any]]) -> str:
    """A short content hash: the same rules give the same version on every machine."""
    blob = orjson.dumps(
        sorted(experiences, key=lambda d: str(d.get("id"))), option=orjson.OPT_SORT_KEYS
    )
    return hashlib.sha256(blob).hexdigest()[:16]


class Engine:
    """Experiences in, decisions out. Build once per rules version; `decide` per request.

    Options (all defaulted): `global_holdout` share of units kept on every default,
    `consent_regime` ("opt_in": unknown consent is denied; "opt_out": granted),
    `saved_groups` for `$inGroup`, `rules_version` (else a content hash), `placements`
    known beyond those the experiences name, `signer` to attach exposure tokens,
    `max_placements` per request, and `strict` (raise on an experience that cannot be
    served, instead of skipping it and listing it in `skipped`).
    """

    def __init__(
        self,
        experiences: Sequence[Mapping[str, Any]],
        *,
        global_holdout: float = 0.05,
        consent_regime: str = "opt_in",
        saved_groups: Mapping[str, Iterable[str]] | None = None,
        rules_version: str | None = None,
        placements: Iterable[str] = (),
        signer: TokenSigner | None = None,
        max_placements: int = 20,
        strict: bool = True,
    ) -> None:
        if not 0 <= global_holdout < 1:
            raise ValueError("global_holdout must be within [0, 1)")
        if consent_regime not in ("opt_in", "opt_out"):
            raise ValueError("consent_regime must be opt_in or opt_out")
        self.global_holdout = global_holdout
        self.consent_regime = consent_regime
        self.rules_version = rules_version or rules_version_of(experiences)
        self.signer = signer
        self.max_placements = max_placements
        self.skipped: list[ExperienceCompileError] = []
        self._global_seed = seed_for(GLOBAL_HOLDOUT_SEED_NAME)
        self._granted_cache: dict[tuple[Any, Any], frozenset[str]] = {}
        self.known_placements = set(placements)
        self._saved_groups = saved_groups
        # What explain lists beside the live candidates: the experiences not served, and why.
        self._not_served: dict[str, list[dict[str, Any]]] = {}
        self._docs = {str(doc.get("id")): doc for doc in experiences}
        by_placement: dict[str, list[CompiledExperience]] = {}
        for doc in experiences:
            placement = doc.get("placement")
            if isinstance(placement, str):
                self.known_placements.add(placement)
            if doc.get("status") != "live":
                self._not_served.setdefault(str(placement), []).append(
                    _not_served(doc, str(doc.get("status")), doc.get("status_reason"))
                )
                continue
            try:
                compiled = compile_experience(doc, saved_groups)
            except ExperienceCompileError as exc:
                if strict:
                    raise
                self.skipped.append(exc)
                self._not_served.setdefault(str(placement), []).append(
                    _not_served(doc, "not_servable", str(exc))
                )
                continue
            by_placement.setdefault(compiled.placement, []).append(compiled)
        # Each experience whose audience the sweep evaluates gets its slot in the sweep's list.
        # The others (audiences with $or, $and, $nor, $not) share the last slot, always true:
        # the loop then asks their own predicate.
        live = [e for exps in by_placement.values() for e in exps]
        swept = [e for e in live if sweeps(e.audience)]
        slot_of = {id(e): i for i, e in enumerate(swept)}
        live = [
            replace(e, slot=slot_of.get(id(e), len(swept)), swept=id(e) in slot_of) for e in live
        ]
        self._sweep = compile_sweep([*(e.audience for e in swept), {}], saved_groups)
        self._predicates = (*(e.predicate for e in swept), _always)
        self._sweep_from = -(-len(swept) // SWEEP_SHARE)  # placements a page names, at least
        # Memory and the request's time are read only when a live experience needs them.
        self.remembering = frozenset(e.id for e in live if e.remembers)
        self.remembers = bool(self.remembering)
        self._reads_time = any(reads_time(e.audience) for e in live)
        # Per request, the consent and identity checks are skipped when nothing could fail.
        self._requires = frozenset().union(*(e.requires for e in live))
        self._top_min_identity = max((e.min_identity for e in live), default=0.0)
        by_placement = {}
        for e in live:
            by_placement.setdefault(e.placement, []).append(e)
        self._by_placement: dict[str, tuple[CompiledExperience, ...]] = {}
        for p, exps in by_placement.items():
            ranked = sorted(exps, key=lambda e: (-e.priority, e.id))
            self._by_placement[p] = tuple(
                replace(e, outranks=tuple(ranked[i + 1 :])) for i, e in enumerate(ranked)
            )

    def _granted(
        self, stored: Mapping[str, str] | None, carried: Mapping[str, Any] | None
    ) -> frozenset[str]:
        """The purposes this request may rely on; memoised, as few combinations exist."""
        key = (
            (stored.get("personalization"), stored.get("measurement")) if stored else None,
            orjson.dumps(carried) if carried else None,
        )
        granted = self._granted_cache.get(key)
        if granted is None:
            allowed = effective_consent(stored, carried, self.consent_regime)
            granted = frozenset(p for p, ok in allowed.items() if ok)
            if len(self._granted_cache) < 1024:  # bounded: carried consent is caller data
                self._granted_cache[key] = granted
        return granted

    def _outcome(
        self,
        exp: CompiledExperience,
        request: Mapping[str, Any],
        granted: frozenset[str],
        recall: Callable[[CompiledExperience], str] | None = None,
    ) -> str:
        """Why `exp` cannot serve `request` ("" when it can): the checks of `decide`'s loop,
        for the candidates that loop does not reach (traces) and for `explain`."""
        if not exp.requires <= granted:
            return NO_CONSENT
        visitor = request["visitor"]
        if identity_confidence(visitor) < exp.min_identity:
            view = {
                "visitor": {"anonymous_id": visitor["anonymous_id"]},
                "context": request.get("context") or {},
            }
            if not exp.predicate(view):
                return IDENTITY_UNCERTAIN
        elif not exp.predicate(request):
            return NOT_IN_AUDIENCE
        return recall(exp) if recall is not None and exp.remembers else ""

    def _outranked(
        self,
        winner: CompiledExperience,
        request: Mapping[str, Any],
        granted: frozenset[str],
        recall: Callable[[CompiledExperience], str] | None,
    ) -> list[dict[str, str]]:
        """The candidates after the winner, each with its true reason: lower_priority only
        for those that would have served."""
        return [
            {
                "experience": o.id,
                "outcome": self._outcome(o, request, granted, recall) or LOWER_PRIORITY,
            }
            for o in winner.outranks
        ]

    def _recall(
        self, memory: Memory | None, now: float
    ) -> Callable[[CompiledExperience], str] | None:
        """The memory check of a candidate that passed, or None when none can apply."""
        if memory is None or not self.remembers:
            return None
        now_ms = round(now * 1000)
        return lambda exp: recalled(exp, memory, now_ms)

    def explain(
        self,
        request: Mapping[str, Any],
        consent: Mapping[str, str] | None,
        *,
        memory: Memory | None = None,
        now: float | None = None,
    ) -> dict[str, Any]:
        """`decide`'s answer and, per placement, every candidate (live or not) with the true
        reason it lost: the failed condition, consent, identity confidence, memory, priority
        or the holdout. Built on the same checks as `decide`, which it calls for the decision."""
        now = time.time() if now is None else now
        with at_time(round(now * 1000)):
            return self._explain(request, consent, memory, now)

    def _explain(
        self,
        request: Mapping[str, Any],
        consent: Mapping[str, str] | None,
        memory: Memory | None,
        now: float,
    ) -> dict[str, Any]:
        from earnest.decide.explain import candidates

        response = self.decide(request, consent, memory=memory, now=now)
        granted = self._granted(consent, request.get("consent"))
        recall = self._recall(memory, now)
        placements = {}
        for placement in request["placements"]:
            decision = {k: v for k, v in response["decisions"][placement].items() if k != "token"}
            rows = candidates(
                self._by_placement.get(placement, ()),
                lambda exp: self._outcome(exp, request, granted, recall),
                request,
                granted,
                decision,
                self._saved_groups,
                self._docs,
                self.global_holdout,
            )
            placements[placement] = {
                "decision": decision,
                "candidates": rows + self._not_served.get(placement, []),
            }
        return {"placements": placements, "rules_version": self.rules_version}

    @property
    def experiences(self) -> list[CompiledExperience]:
        return [e for exps in self._by_placement.values() for e in exps]

    def decide(
        self,
        request: Mapping[str, Any],
        consent: Mapping[str, str] | None,
        *,
        validate: bool = True,
        memory: Memory | None = None,
        now: float | None = None,
    ) -> dict[str, Any]:
        """The response body of POST /decide for `request`.

        `consent` is the stored record's purposes (None: no record); `memory` the unit's
        (None: nothing remembered); `now` the request's time (epoch seconds; decide's clock,
        else the wall clock): what recency, caps and dismissals compare with, and the
        tokens' issue time. Pass `validate=False` only for a request already checked by
        `validate_request`.
        """
        now = time.time() if now is None else now
        if self._reads_time:
            with at_time(round(now * 1000)):
                return self._decide(request, consent, validate, memory, now)
        return self._decide(request, consent, validate, memory, now)

    def _decide(  # noqa: C901, PLR0912, PLR0915 (one hot loop, kept whole for speed)
        self,
        request: Mapping[str, Any],
        consent: Mapping[str, str] | None,
        validate: bool,
        memory: Memory | None,
        now: float,
    ) -> dict[str, Any]:
        if validate:
            validate_request(request, self.max_placements, self.known_placements)
        visitor = request["visitor"]
        unit: str = visitor["anonymous_id"]
        confidence = identity_confidence(visitor)
        granted = self._granted(consent, request.get("consent"))
        anonymous_view: dict[str, Any] | None = None
        in_global: bool | None = None
        signer = self.signer
        signing = signer is not None
        candidates_of = self._by_placement.get
        rules_version = self.rules_version
        global_seed, global_share = self._global_seed, self.global_holdout
        placements = request["placements"]
        audience: Sequence[bool | None] | _OneByOne = (
            self._sweep(request)
            if len(placements) >= self._sweep_from
            else _OneByOne(self._predicates, request)
        )
        consent_ok = self._requires <= granted  # then no candidate lacks consent
        identity_ok = confidence >= self._top_min_identity  # nor identity confidence
        recall = self._recall(memory, now)  # None unless memory can change an answer
        issued_at = int(now)
        decisions: dict[str, Mapping[str, Any]] = {}

        for placement in placements:
            candidates = candidates_of(placement)
            if candidates is None:
                decisions[placement] = (
                    NO_LIVE_ANSWER if placement in self.known_placements else UNKNOWN_ANSWER
                )
                continue

            # The first candidate that passes wins (the loop breaks with it). The top
            # candidate's failure is the reason unless another wins; every other loser is
            # traced, and so are the candidates after the winner, as lower_priority.
            first_reason = ""
            trace: list[dict[str, str]] | None = None
            for exp in candidates:
                if not consent_ok and not exp.requires <= granted:
                    outcome = NO_CONSENT
                elif not identity_ok and confidence < exp.min_identity:
                    if anonymous_view is None:
                        anonymous_view = {
                            "visitor": {"anonymous_id": unit},
                            "context": request.get("context") or {},
                        }
                    if not exp.predicate(anonymous_view):
                        outcome = IDENTITY_UNCERTAIN
                    elif recall is None or not exp.remembers or not (outcome := recall(exp)):
                        break
                elif audience[exp.slot] and (exp.swept or exp.predicate(request)):
                    if recall is None or not exp.remembers or not (outcome := recall(exp)):
                        break
                else:
                    outcome = NOT_IN_AUDIENCE
                if not first_reason:
                    first_reason = outcome
                elif trace is None:
                    trace = [{"experience": exp.id, "outcome": outcome}]
                else:
                    trace.append({"experience": exp.id, "outcome": outcome})
            else:  # nobody won: the top candidate's default, for the top candidate's reason
                answer = candidates[0].answers[first_reason]
                if trace is not None or signing:
                    answer = dict(answer)
                    if trace is not None:
                        answer["trace"] = trace
                    if signer is not None:
                        answer["token"] = signer.sign(
                            unit, answer["experience"], None, first_reason, rules_version, issued_at
                        )
                decisions[placement] = answer
                continue

            if in_global is None:
                in_global = bucket(unit, global_seed) < global_share
            if in_global:
                answer = exp.answers[GLOBAL_HOLDOUT]
            elif bucket(unit, exp.holdout_seed) < exp.holdout:
                answer = exp.answers[HOLDOUT]
            elif exp.segment_read is None:
                answer = exp.variant_answers[pick(bucket(unit, exp.variant_seed), exp.bounds)]
            else:  # a segmented bandit: its value's own slices, if it has any
                bounds, answers = exp.segment_picks.get(
                    exp.segment_read(request), (exp.bounds, exp.variant_answers)
                )
                answer = answers[pick(bucket(unit, exp.variant_seed), bounds)]
            if first_reason or exp.outranks or signing:
                answer = dict(answer)
                if first_reason or exp.outranks:
                    lost = (
                        [{"experience": candidates[0].id, "outcome": first_reason}]
                        if first_reason
                        else []
                    )
                    answer["trace"] = (
                        lost + (trace or []) + self._outranked(exp, request, granted, recall)
                    )
                if signer is not None:
                    answer["token"] = signer.sign(
                        unit,
                        answer["experience"],
                        answer["variant"],
                        answer["reason"],
                        rules_version,
                        issued_at,
                        values(exp.recorded_segments, request) if exp.recorded_segments else None,
                    )
            decisions[placement] = answer

        return {"decisions": decisions, "rules_version": self.rules_version}


def _not_served(doc: Mapping[str, Any], outcome: str, detail: Any) -> dict[str, Any]:
    return {
        "experience": str(doc.get("id")),
        "priority": doc.get("priority", 0),
        "status": str(doc.get("status")),
        "outcome": outcome,
        "detail": str(detail) if detail else f"status {doc.get('status')}: only live is served",
    }


def unavailable_response(placements: Sequence[str], rules_version: str = "") -> dict[str, Any]:
    """What decide answers when it has no rules at all: every placement on its fallback."""
    return {
        "decisions": {p: template(None, None, RULES_UNAVAILABLE, None) for p in placements},
        "rules_version": rules_version,
    }
