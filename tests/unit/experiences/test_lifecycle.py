"""Operational state laid over the authored document: what decide serves and a push keeps."""

from __future__ import annotations

from earnest.experiences import lifecycle
from tests.builders.experiences import experience

LOSS = lifecycle.entry(
    "paused",
    "loses_to_default",
    "loses_to_default: variant b loses to the default in the report of 2026-12-01",
    "nightly-report",
    "2026-12-02T02:00:00.000Z",
    {"report_date": "2026-12-01", "relative_lift": -0.62, "sequential_p_value": 0.0004},
)


def test_a_paused_variant_stays_paused_whatever_the_file_says() -> None:
    # Given the guardrails paused b
    ops = lifecycle.set_entry({}, "b", LOSS)
    # When the owner's file (b not paused) is combined with it
    served = lifecycle.effective(experience(), ops)
    # Then b is paused in what decide serves, a is not
    by_id = {v["id"]: v for v in served["variants"]}
    assert by_id["b"]["paused"] is True and "loses_to_default" in by_id["b"]["paused_reason"]
    assert not by_id["a"].get("paused")
    assert served["status"] == "live"


def test_a_retirement_applies_while_the_owner_keeps_it_live_but_a_draft_is_obeyed() -> None:
    retired = lifecycle.entry(
        "retired",
        "review_overdue",
        "review was due",
        "nightly-report",
        "2026-12-02T02:00:00Z",
        {"report_date": "2026-12-01"},
    )
    ops = lifecycle.set_entry({}, None, retired)
    assert lifecycle.effective(experience(), ops)["status"] == "retired"
    assert lifecycle.effective(experience(status="paused"), ops)["status"] == "retired"
    assert lifecycle.effective(experience(status="draft"), ops)["status"] == "draft"
    assert lifecycle.effective(experience(), lifecycle.without(ops, None))["status"] == "live"


def test_a_push_says_what_it_keeps_with_the_evidence_and_how_to_undo_it() -> None:
    ops = lifecycle.set_entry({}, "b", LOSS)
    lines = lifecycle.kept("search-landing-recs", experience(), ops)
    assert lines == [
        "b stays paused: loses_to_default in the report of 2026-12-01 "
        "(lift -62 %, always-valid p 0.0004); "
        'earnest resume search-landing-recs/b --reason "…" to serve it again'
    ]


def test_equal_content_gives_an_equal_hash_and_version_does_not_count() -> None:
    doc = experience()
    assert lifecycle.content_hash(doc) == lifecycle.content_hash({**doc, "version": 7})
    assert lifecycle.content_hash(doc) != lifecycle.content_hash(experience(holdout=0.2))
