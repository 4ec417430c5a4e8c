"""The report's plain words: what to do, one sentence per variant, for a person.

Owns `summary.in_words` (docs/report.md, "report.json").

Pure: stdlib only (and the core). It must not import boto3, pydantic or `earnest_aws`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date
from typing import Any

from earnest.experiences.actions import RETIRE, Action
from earnest.report import guardrails
from earnest.report.lifts import judged_lift

# What a sentence about an action the run could not apply adds (docs/report.md, "Guardrails").
PENDING_NOTE = "; not applied yet (pending): the run failed and is retried."


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.1f} %"


def _because(rule: str, harmed: Sequence[str]) -> str:
    why = guardrails.PAUSED_BECAUSE.get(rule, rule)
    return f"{why}: {', '.join(harmed)}" if rule == guardrails.GUARDRAIL_HARM else why


def in_words(
    day: date,
    experiences: Sequence[Mapping[str, Any]],
    actions: Sequence[Action],
    pending: Collection[str] = (),
) -> list[str]:
    """What to do, one plain sentence per variant (and per retirement), for a person.

    `pending`: experiences whose actions the run could not apply (they are said to be due,
    not done).
    """
    acted = {(a.experience, a.variant): a for a in actions}
    out: list[str] = []
    for exp in experiences:
        exp_id = exp["id"]
        done = "is to be" if exp_id in pending else "was"
        if (retired := acted.get((exp_id, None))) and retired.action == RETIRE:
            out.append(
                f"{exp_id} {done} retired on {day.isoformat()} because {retired.reason}"
                + (PENDING_NOTE if exp_id in pending else ".")
            )
            continue
        for v in exp["variants"]:
            vid, verdict = v["variant"], v["verdict"]
            lift = judged_lift(v, exp["metric"])
            seen = (
                f"{_pct(lift['relative'])}; always-valid interval "
                f"{_pct(lift['sequential_ratio_low'])} to {_pct(lift['sequential_ratio_high'])}"
            )
            pause = acted.get((exp_id, vid))
            if v["paused"]:
                continue  # paused before tonight: nothing to do
            if pause is not None:
                out.append(
                    f"{exp_id}: {vid} {done} paused on {day.isoformat()} because it "
                    + _because(pause.rule, v["guardrail_harm"])
                    + f" ({seen})"
                    + (PENDING_NOTE if exp_id in pending else ".")
                )
            elif verdict is None:
                out.append(f"{exp_id}: fix assignment or logging (sample ratio mismatch).")
            elif verdict == "beats_default":
                out.append(f"{exp_id}: keep {vid}, it beats the default ({seen}).")
            elif verdict == "needs_more_data":
                out.append(f"{exp_id}: {vid} needs more data before any verdict.")
            elif not exp["futility"]["on"]:
                out.append(
                    f"{exp_id}: {vid} shows no measurable difference yet ({seen}); the plan "
                    "names no minimum detectable effect, so it is never paused as futile."
                )
            else:
                days = (exp.get("at_current_traffic") or {}).get("days_to_detect")
                when = f"about {days} days in all" if days else "longer than two years"
                out.append(
                    f"{exp_id}: {vid} shows no measurable difference yet ({seen}); finding "
                    f"the plan's effect takes {when} at current traffic."
                )
        out += segment_words(exp)
    return out


def segment_words(exp: Mapping[str, Any]) -> list[str]:
    """A sentence per variant whose effect differs by segment (`segment_lift.flags`)."""
    return [
        f"{exp['id']}: {flag['message']} (lift by segment against the same segment's "
        "holdout, false discovery rate controlled; it pauses nothing)."
        for flag in (exp.get("segments") or {}).get("flags", [])
    ]
