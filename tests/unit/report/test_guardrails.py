"""Guardrails (earnest.report.guardrails): what is paused or retired; re-runs change nothing."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from earnest.report import guardrails
from earnest.report.guardrails import VariantResult
from tests.builders.experiences import experience

DAY = date(2026, 11, 20)


def result(
    variant: str,
    verdict: str | None,
    previous: str | None = None,
    enough: bool = True,
    exp: str = "hero-test",
    futile: bool = False,
) -> VariantResult:
    evidence = {"metric": "conversion_rate"}
    return VariantResult(exp, variant, verdict, previous, enough, evidence, futile)


def kinds(actions: list[guardrails.Action]) -> list[tuple[str, str | None, str]]:
    return [(a.action, a.variant, a.rule) for a in actions]


def test_a_variant_that_loses_to_its_default_is_paused() -> None:
    actions = guardrails.actions(
        DAY, [experience()], [result("a", "loses_to_default"), result("b", "beats_default")]
    )
    assert kinds(actions) == [("pause_variant", "a", "loses_to_default")]
    assert actions[0].evidence["report_date"] == "2026-11-20"


def test_a_variant_that_cannot_reach_the_plans_effect_past_its_minimum_is_paused() -> None:
    # Given an inconclusive variant whose always-valid interval ends below the plan's MDE
    futile = result("a", "inconclusive", previous="inconclusive", futile=True)
    actions = guardrails.actions(DAY, [experience()], [futile])
    # Then it has stopped beating the default, and the reason says why
    assert kinds(actions) == [("pause_variant", "a", "stopped_beating_default")]
    assert "minimum detectable effect" in actions[0].reason


def test_a_variant_that_harms_a_guardrail_metric_is_paused_under_its_own_rule() -> None:
    harmful = VariantResult("hero-test", "a", "beats_default", None, True, {}, False, ("x",))
    actions = guardrails.actions(DAY, [experience()], [harmful])
    assert kinds(actions) == [("pause_variant", "a", "guardrail_harm")]
    # but not while the sample ratio is off
    held = VariantResult("hero-test", "a", None, None, True, {}, False, ("x",))
    assert guardrails.actions(DAY, [experience()], [held]) == []
    # and a harm is gated on its own metric's counts (the report does that), not on the
    # primary's: it pauses while the primary still needs more data
    early = VariantResult("hero-test", "a", "needs_more_data", None, False, {}, False, ("x",))
    assert kinds(guardrails.actions(DAY, [experience()], [early])) == [
        ("pause_variant", "a", "guardrail_harm")
    ]


@pytest.mark.parametrize(
    ("verdict", "previous", "enough", "futile"),
    [
        ("inconclusive", "beats_default", True, False),  # one night's dip of a winner
        ("inconclusive", "beats_default", False, True),  # below its minimum sample
        ("inconclusive", None, True, False),  # the plan's effect still within reach
        ("beats_default", "beats_default", True, True),  # a winner by less than the MDE
        ("needs_more_data", "beats_default", False, True),
        (None, "beats_default", True, True),  # SRM flagged: no verdict, no pause
    ],
)
def test_no_pause_without_evidence(
    verdict: str | None, previous: str | None, enough: bool, futile: bool
) -> None:
    said = result("a", verdict, previous, enough, futile=futile)
    assert guardrails.actions(DAY, [experience()], [said]) == []


def test_when_every_active_variant_would_be_paused_the_experience_is_paused() -> None:
    doc = experience()
    actions = guardrails.actions(
        DAY, [doc], [result("a", "loses_to_default"), result("b", "loses_to_default")]
    )
    assert [a.action for a in actions] == ["pause_variant", "pause_variant", "pause_experience"]
    after = guardrails.apply(doc, actions)
    assert after["status"] == "paused"
    assert all(v["paused"] and v["paused_reason"] for v in after["variants"])


def test_a_variant_already_paused_counts_as_paused() -> None:
    doc = experience()
    doc["variants"][0].update(paused=True, paused_reason="earlier")
    actions = guardrails.actions(
        DAY, [doc], [result("a", "loses_to_default"), result("b", "loses_to_default")]
    )
    assert [(a.action, a.variant) for a in actions] == [
        ("pause_variant", "b"),
        ("pause_experience", None),
    ]


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"owner": ""}, "unowned"),
        ({"owner": None}, "unowned"),
        ({"last_reviewed": "2026-10-01", "review_every_days": 30}, "review_overdue"),
        ({"ends_at": "2026-11-20T12:00:00Z"}, "ended"),
    ],
)
def test_unowned_overdue_or_ended_experiences_are_retired(
    changes: dict[str, Any], rule: str
) -> None:
    doc = experience(**{k: v for k, v in changes.items() if v is not None})
    if changes.get("owner", "x") is None:
        doc.pop("owner")
    actions = guardrails.actions(DAY, [doc], [result("a", "loses_to_default")])
    assert kinds(actions) == [("retire", None, rule)]  # retiring says it all: no pause too
    assert guardrails.apply(doc, actions)["status"] == "retired"


def test_review_due_today_and_ends_tomorrow_are_not_yet_retired() -> None:
    doc = experience(
        last_reviewed="2026-10-21", review_every_days=30, ends_at="2026-11-21T00:00:00Z"
    )
    assert guardrails.actions(DAY, [doc], []) == []


def test_drafts_and_retired_experiences_are_left_alone() -> None:
    docs = [experience(id="d", status="draft", owner=""), experience(id="r", status="retired")]
    assert guardrails.actions(DAY, docs, [result("a", "loses_to_default", exp="d")]) == []


def test_a_paused_experience_is_retired_but_its_variants_not_paused() -> None:
    paused = experience(status="paused", owner="")
    assert kinds(guardrails.actions(DAY, [paused], [result("a", "loses_to_default")])) == [
        ("retire", None, "unowned")
    ]
    losing = [result("a", "loses_to_default")]
    assert guardrails.actions(DAY, [experience(status="paused")], losing) == []


def test_applying_twice_changes_nothing_more() -> None:
    doc = experience()
    actions = guardrails.actions(DAY, [doc], [result("a", "loses_to_default")])
    once = guardrails.apply(doc, actions)
    assert guardrails.apply(once, actions) == once
    assert guardrails.changes(doc, once) == {
        "variants": {"from": doc["variants"], "to": once["variants"]}
    }


def audit_entry(
    doc: dict[str, Any], new: dict[str, Any], actor: str, report_date: str | None, version: int
) -> dict[str, Any]:
    return {
        "actor": actor,
        "version": version,
        "at": f"2026-11-2{version}T02:15:00.000Z",
        "changes": guardrails.changes(doc, new),
        "evidence": {"report_date": report_date} if report_date else {},
    }


def test_as_of_undoes_the_reports_own_changes_of_that_date_and_later() -> None:
    original = experience()
    paused_a = guardrails.apply(
        original, guardrails.actions(DAY, [original], [result("a", "loses_to_default")])
    )
    audit = [
        audit_entry({}, original, "alice", None, 1),
        audit_entry(original, paused_a, guardrails.ACTOR, "2026-11-20", 2),
    ]
    assert guardrails.as_of({**paused_a, "version": 2}, audit, DAY) == original
    # a later date's run does not undo an earlier date's change
    assert guardrails.as_of(paused_a, audit, date(2026, 11, 21)) == paused_a


def test_as_of_keeps_a_persons_change_made_after_the_report() -> None:
    original = experience()
    paused_a = guardrails.apply(
        original, guardrails.actions(DAY, [original], [result("a", "loses_to_default")])
    )
    edited = {**paused_a, "owner": "new@shop.example"}
    audit = [
        audit_entry(original, paused_a, guardrails.ACTOR, "2026-11-20", 2),
        audit_entry(paused_a, edited, "bob", None, 3),
    ]
    assert guardrails.as_of(edited, audit, DAY) == edited


def test_a_pause_is_not_applied_to_an_experience_retired_since() -> None:
    doc = experience()
    actions = guardrails.actions(DAY, [doc], [result("a", "loses_to_default")])
    retired = {**doc, "status": "retired"}
    assert guardrails.apply(retired, actions) == retired
