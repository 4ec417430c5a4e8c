"""The inventory's rows: each experience's standing, its pauses and retirements read back
from its audit trail, its latest measurement from the stored reports, and the order that
puts the ones to act on first."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from earnest.program import inventory, timeline
from tests.builders.audit import authored, pause_variant, retire, stored
from tests.builders.experiences import experience

TODAY = date(2026, 12, 7)
UNTIL = datetime(2026, 12, 7, 12, tzinfo=UTC)
RECS = experience(id="recs", last_reviewed="2026-12-01", review_every_days=30)


def measured(*variants: tuple[str, str | None], days: float = 5, to_detect: Any = 20) -> dict:
    return {
        "date": "2026-12-06",
        "units": 1000,
        "analysis_days": days,
        "days_to_detect": to_detect,
        "variants": [
            {"variant": v, "paused": False, "verdict": verdict, "harm": [], "relative": 0.1}
            for v, verdict in variants
        ],
    }


def report_with(day: str, exp_id: str, verdict: str, *, carries: bool = False) -> dict:
    lift = {
        "relative": 0.2,
        "relative_low": 0.1,
        "relative_high": 0.3,
        "sequential_ratio_low": 0.05,
        "sequential_ratio_high": 0.4,
    }
    report: dict[str, Any] = {
        "date": day,
        "experiences": [
            {
                "id": exp_id,
                "metric": "conversion_rate",
                "arms": [{"units": 600}, {"units": 400}],
                "analysis": {"days": 4},
                "at_current_traffic": {"days_to_detect": 12.5},
                "variants": [
                    {"variant": "b", "verdict": verdict, "lift": {"conversion_rate": lift}}
                ],
            }
        ],
    }
    if carries:
        report["inventory"] = {"experiences": []}
    return report


def test_a_serving_variant_that_loses_is_harming_and_one_that_beats_is_earning() -> None:
    live = {"status": "live", "review_every_days": 30}
    assert inventory.standing("live", live, measured(("a", "beats_default")), 5)[0] == "earning"
    harming = measured(("a", "beats_default"), ("b", "loses_to_default"))
    kind, why = inventory.standing("live", live, harming, 5)
    assert kind == "harming" and "b" in why
    harm = measured(("a", "inconclusive"))
    harm["variants"][0]["harm"] = ["revenue"]
    assert inventory.standing("live", live, harm, 5)[0] == "harming"
    # a paused loser is not harming: the guardrail already stopped it
    paused = measured(("a", "beats_default"), ("b", "loses_to_default"))
    paused["variants"][1]["paused"] = True
    assert inventory.standing("live", live, paused, 5)[0] == "earning"


def test_live_without_a_verdict_costs_once_past_its_plans_horizon() -> None:
    live = {"status": "live", "review_every_days": 30}
    flat = ("a", "inconclusive")
    assert inventory.standing("live", live, measured(flat, days=19, to_detect=20), 0)[0] == (
        "learning"
    )
    kind, why = inventory.standing("live", live, measured(flat, days=21, to_detect=20), 0)
    assert kind == "costing" and "21" in why and "20" in why
    # no forecast: the review cadence is the horizon; never measured: days since launch
    assert inventory.standing("live", live, measured(flat, days=29, to_detect=None), 0)[0] == (
        "learning"
    )
    assert inventory.standing("live", live, None, 31)[0] == "costing"
    assert inventory.standing("live", live, None, 3)[0] == "learning"


def test_a_row_says_when_each_pause_and_retirement_happened_and_why() -> None:
    audit = [
        authored(1, "2026-10-01T09:00:00.000Z", RECS, "create"),
        pause_variant(2, "2026-10-20T02:15:00.000Z", "b"),
        retire(3, "2026-11-30T02:15:00.000Z"),
    ]
    row = inventory.row(stored(RECS, audit), audit, None, TODAY, UNTIL)
    assert row["standing"] == "retired" and row["status"] == "retired"
    assert [(c["at"][:10], c["event"], c["variant"], c["rule"]) for c in row["changes"]] == [
        ("2026-10-20", "variant_paused", "b", "loses_to_default"),
        ("2026-11-30", "retired", None, "review_overdue"),
    ]
    assert all(c["actor"] == "nightly-report" for c in row["changes"])
    assert "review_overdue" in row["why"]
    # days from launch to the retirement, not to today
    assert row["launched_at"] == "2026-10-01T09:00:00.000Z"
    assert row["days_live"] == 59.7
    assert row["owner"] == RECS["owner"] and row["default"] == RECS["default"]
    assert row["holdout"] == RECS["holdout"]


def test_review_status_is_overdue_due_soon_or_ok_from_the_callers_day() -> None:
    doc = {"last_reviewed": "2026-11-01", "review_every_days": 30}
    assert inventory.review_status(doc, date(2026, 12, 2)) == ("2026-12-01", "overdue")
    assert inventory.review_status(doc, date(2026, 11, 25)) == ("2026-12-01", "due_soon")
    assert inventory.review_status(doc, date(2026, 11, 1)) == ("2026-12-01", "ok")
    assert inventory.review_status({}, TODAY) == (None, "unknown")


def test_the_newest_report_measuring_it_gives_the_verdict_and_reading_stops_where_carried() -> None:
    newest = report_with("2026-12-06", "hero", "beats_default", carries=True)
    newest["inventory"]["experiences"] = [{"id": "old", "measured": {"date": "2026-10-01"}}]
    older = report_with("2026-12-05", "hero", "loses_to_default")
    never_read = report_with("2026-12-04", "recs", "inconclusive")
    found, read = inventory.fold(iter([newest, older, never_read]))
    assert read == [newest]
    assert found["hero"]["date"] == "2026-12-06"
    assert found["hero"]["variants"][0]["verdict"] == "beats_default"
    assert found["hero"]["variants"][0]["sequential_low"] == 0.05  # the interval verdicts read
    assert found["hero"]["units"] == 1000 and found["hero"]["days_to_detect"] == 12.5
    assert found["old"] == {"date": "2026-10-01"}
    assert "recs" not in found
    # reports written before the inventory existed: read on to the oldest
    found, read = inventory.fold([older, never_read])
    assert len(read) == 2 and found["recs"]["date"] == "2026-12-04"


ROWS = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.text("abcdef", min_size=1, max_size=4),
            "standing": st.sampled_from(inventory.STANDINGS),
            "review": st.sampled_from(["overdue", "due_soon", "ok", "unknown"]),
            "review_due": st.one_of(st.none(), st.dates().map(date.isoformat)),
        }
    ),
    max_size=30,
)


@given(ROWS, st.randoms())
def test_the_order_puts_harming_before_costing_before_earning_whatever_the_input_order(
    rows: list[dict[str, Any]], rnd: random.Random
) -> None:
    got = inventory.ordered(rows)
    assert sorted(map(repr, got)) == sorted(map(repr, rows))  # the same rows
    ranks = [inventory.RANK[r["standing"]] for r in got]
    assert ranks == sorted(ranks)
    kinds = [r["standing"] for r in got]
    for first, then in (("harming", "earning"), ("costing", "earning"), ("harming", "retired")):
        if first in kinds and then in kinds:
            assert max(i for i, k in enumerate(kinds) if k == first) < kinds.index(then)
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    assert [inventory.sort_key(r) for r in inventory.ordered(shuffled)] == [
        inventory.sort_key(r) for r in got
    ]
    # within a standing, an overdue review comes before one that is fine
    for a, b in itertools.pairwise(got):
        if a["standing"] == b["standing"] and b["review"] == "overdue":
            assert a["review"] == "overdue"


def test_rows_of_every_stored_experience_come_sorted_with_their_counts() -> None:
    loser = experience(id="loser", last_reviewed="2026-12-01")
    winner = experience(id="winner", last_reviewed="2026-12-01")
    draft = experience(id="draft", status="draft", last_reviewed="2026-12-01")
    at = "2026-12-01T09:00:00.000Z"
    exps = [
        timeline.Experience(stored(d, [authored(1, at, d, "create")]), [authored(1, at, d)])
        for d in (winner, draft, loser)
    ]
    found = {
        "loser": measured(("a", "loses_to_default")),
        "winner": measured(("a", "beats_default")),
    }
    listed = inventory.rows(exps, found, TODAY, UNTIL)
    assert [r["id"] for r in listed] == ["loser", "winner", "draft"]
    assert [r["standing"] for r in listed] == ["harming", "earning", "draft"]
    assert listed[2]["launched_at"] is None and listed[2]["days_live"] == 0
    assert listed[1]["days_live"] == 6.1
    counts = inventory.counts(listed)
    assert counts["harming"] == 1 and counts["earning"] == 1 and counts["draft"] == 1
    assert sum(counts.values()) == 3
    flat = inventory.flat(listed[0])
    assert set(flat) == set(inventory.COLUMNS)
    assert flat["verdicts"].startswith("a loses_to_default +10.0 %")
    assert flat["default"] == '{"v":"default"}'


def test_a_stored_report_of_an_older_or_partial_shape_reads_as_what_it_has() -> None:
    partial = {
        "date": "2026-11-19",
        "experiences": [
            {"id": "winner", "variants": [{"variant": "b", "verdict": "beats_default"}]},
            {"variants": []},  # no id: nothing to say of it
        ],
    }
    found, _ = inventory.fold([partial, {"date": "2026-11-18"}])
    (variant,) = found["winner"]["variants"]
    assert variant["verdict"] == "beats_default" and variant["relative"] is None
    assert found["winner"]["units"] == 0 and list(found) == ["winner"]
    assert inventory.verdicts_text({"measured": found["winner"]}) == "b beats_default"


def test_a_restarted_allocation_keeps_its_variants_last_verdict_until_it_has_one_again() -> None:
    # Given a winner on 12-05, and the night after a sibling's pause restarted its allocation
    restarted = report_with("2026-12-06", "hero", "needs_more_data", carries=True)
    before = report_with("2026-12-05", "hero", "beats_default")
    restarted["inventory"]["experiences"] = [
        {"id": "hero", "measured": inventory.measure("2026-12-05", before["experiences"][0])}
    ]
    found, _ = inventory.fold([restarted])
    (b,) = found["hero"]["variants"]
    assert b["verdict"] == "needs_more_data"
    assert b["earlier"] == {
        "date": "2026-12-05",
        "verdict": "beats_default",
        "relative": 0.2,
        "sequential_low": 0.05,
        "sequential_high": 0.4,
    }
    live = {"status": "live", "review_every_days": 30}
    kind, why = inventory.standing("live", live, found["hero"], 1)
    assert kind == "earning" and "before its allocation restarted" in why
    # carried on through a second night without a verdict, and dropped once it has one
    again, _ = inventory.fold(
        [report_with("2026-12-07", "hero", "needs_more_data"), {"date": "x", **restarted}]
    )
    assert again["hero"]["variants"][0]["earlier"]["date"] == "2026-12-05"
    fresh, _ = inventory.fold([report_with("2026-12-08", "hero", "loses_to_default"), restarted])
    assert "earlier" not in fresh["hero"]["variants"][0]
    assert inventory.standing("live", live, fresh["hero"], 1)[0] == "harming"
