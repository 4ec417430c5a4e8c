"""Actions on an experience's operational state (earnest.experiences.actions): one registry
of kinds, read where an action is made, applied, written and shown."""

from __future__ import annotations

from typing import Any

import pytest

from earnest.errors import InvalidRequest
from earnest.experiences import actions, lifecycle
from tests.builders.experiences import experience

EVIDENCE = {"report_date": "2026-11-20"}


def pause(variant: str = "a", **changes: Any) -> actions.Action:
    fields: dict[str, Any] = {
        "experience": "hero-test",
        "action": actions.PAUSE_VARIANT,
        "rule": "loses_to_default",
        "variant": variant,
        "reason": f"variant {variant} loses to the default",
        "evidence": EVIDENCE,
        **changes,
    }
    return actions.Action(**fields)


def test_an_unknown_kind_is_refused_where_the_action_is_made() -> None:
    with pytest.raises(InvalidRequest, match="unknown action 'set_weights'") as refused:
        pause(action="set_weights")
    assert refused.value.field == "action"
    assert "pause_variant" in refused.value.message  # the kinds it could be
    # and so is one read back from a report's JSON
    with pytest.raises(InvalidRequest, match="unknown action"):
        actions.Action.from_dict({**pause().as_dict(), "action": "pause"})


def test_a_kind_names_what_it_acts_on() -> None:
    with pytest.raises(InvalidRequest, match="pause_variant acts on a variant"):
        pause(variant=None)
    with pytest.raises(InvalidRequest, match="retire acts on the whole experience"):
        pause(action=actions.RETIRE, variant="a")


def test_an_action_survives_the_reports_json() -> None:
    made = pause()
    assert actions.Action.from_dict(made.as_dict()) == made


def test_every_registered_kind_applies_and_records() -> None:
    # Given one action of every kind the registry holds
    doc = experience()
    made = [
        actions.Action(
            "hero-test",
            name,
            "operator",
            "a" if kind.target == actions.VARIANT else None,
            f"by {name}",
            EVIDENCE,
        )
        for name, kind in actions.KINDS.items()
        if kind.target
        != actions.WEIGHTS  # a bandit's weights: tests/unit/experiences/test_weights.py
    ]
    assert {a.action for a in made} == {"pause_variant", "pause_experience", "retire"}
    assert set(actions.KINDS) == {a.action for a in made} | {actions.REWEIGHT}
    # When each is recorded over a live experience on its own
    for action in made:
        ops = actions.record({}, doc, [action], "2026-11-21T02:00:00.000Z")
        kind = actions.KINDS[action.action]
        entry = lifecycle.get_entry(ops, action.variant)
        # Then the entry holds the kind's status, and the effective document shows it
        assert entry is not None and entry["status"] == kind.status
        served = lifecycle.effective(doc, ops)
        if action.variant:
            assert served["variants"][0]["paused"] is True
        else:
            assert served["status"] == kind.status
        # and recording it again changes nothing more
        assert actions.record(ops, served, [action], "2026-11-22T02:00:00.000Z") == ops


def test_the_audit_entry_is_named_by_the_strongest_kind() -> None:
    retire = pause(action=actions.RETIRE, variant=None, rule="unowned")
    assert actions.audit_action([pause(), retire]) == "retire"
    assert actions.audit_action([pause()]) == "pause_variant"
