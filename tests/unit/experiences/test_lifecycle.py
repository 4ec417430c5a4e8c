"""Operational state laid over the authored document: what decide serves and a push keeps."""

from __future__ import annotations

from earnest.experiences import actions, lifecycle
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
    lines = actions.kept("search-landing-recs", experience(), ops)
    assert lines == [
        "b stays paused: loses_to_default in the report of 2026-12-01 "
        "(lift -62 %, always-valid p 0.0004); "
        'earnest resume search-landing-recs/b --reason "…" to serve it again'
    ]


def test_equal_content_gives_an_equal_hash_and_version_does_not_count() -> None:
    doc = experience()
    assert lifecycle.content_hash(doc) == lifecycle.content_hash({**doc, "version": 7})
    assert lifecycle.content_hash(doc) != lifecycle.content_hash(experience(holdout=0.2))


def _allocation(ops: dict[str, object]) -> str | None:
    return lifecycle.allocation_start(ops)


def test_the_allocation_starts_at_the_first_push_and_an_unchanged_push_keeps_it() -> None:
    doc = experience()
    first = lifecycle.with_allocation(doc, {}, "2026-11-01T09:00:00.000Z")
    assert _allocation(first) == "2026-11-01T09:00:00.000Z"
    # content, audience and plan are not who-gets-what: the start stays
    edited = {**doc, "default": {"headline": "new"}, "audience": {"country": "FR"}}
    assert _allocation(lifecycle.with_allocation(edited, first, "2026-11-05T00:00:00.000Z")) == (
        "2026-11-01T09:00:00.000Z"
    )


def test_a_change_of_weights_holdout_or_serving_variants_restarts_the_allocation() -> None:
    doc = experience()
    first = lifecycle.with_allocation(doc, {}, "2026-11-01T09:00:00.000Z")
    later = "2026-11-05T00:00:00.000Z"
    reweighted = {
        **doc,
        "variants": [{**v, "weight": i + 1} for i, v in enumerate(doc["variants"])],
    }
    assert _allocation(lifecycle.with_allocation(reweighted, first, later)) == later
    assert _allocation(lifecycle.with_allocation({**doc, "holdout": 0.3}, first, later)) == later
    paused = lifecycle.with_allocation(doc, lifecycle.set_entry(first, "b", LOSS), later)
    assert _allocation(paused) == later
    # and a resume (b serves again) restarts it once more
    resumed = "2026-11-09T00:00:00.000Z"
    assert _allocation(lifecycle.with_allocation(doc, lifecycle.without(paused, "b"), resumed)) == (
        resumed
    )


def test_a_paused_experience_keeps_its_start_and_serving_again_restarts_it() -> None:
    doc = experience()
    first = lifecycle.with_allocation(doc, {}, "2026-11-01T09:00:00.000Z")
    paused = lifecycle.with_allocation({**doc, "status": "paused"}, first, "2026-11-03T00:00:00Z")
    assert _allocation(paused) == "2026-11-01T09:00:00.000Z"
    live = lifecycle.with_allocation(doc, paused, "2026-11-04T00:00:00.000Z")
    assert _allocation(live) == "2026-11-04T00:00:00.000Z"
    assert lifecycle.effective(doc, live)["allocation_started_at"] == "2026-11-04T00:00:00.000Z"


def test_a_draft_has_no_allocation_until_it_serves() -> None:
    assert (
        _allocation(lifecycle.with_allocation(experience(status="draft"), {}, "2026-11-01")) is None
    )


def test_a_restart_never_starts_before_the_allocation_it_ends() -> None:
    doc = experience()
    pushed = lifecycle.with_allocation(doc, {}, "2026-12-01T10:00:00.000Z")
    # a backfill of an older night pauses b "at the end of 2026-11-20"
    paused = lifecycle.set_entry(pushed, "b", LOSS)
    assert _allocation(lifecycle.with_allocation(doc, paused, "2026-11-21T00:00:00.000Z")) == (
        "2026-12-01T10:00:00.000Z"
    )
