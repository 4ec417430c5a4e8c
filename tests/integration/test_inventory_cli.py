"""`earnest inventory` in-process against moto: the experiences table and the stored nightly
reports, read as a user reads them after a few nights (a winner, a loser paused, a variant
paused, a draft, a retirement for an overdue review, the program's history)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from datetime import date, timedelta
from typing import Any

import pytest

from earnest.program import inventory
from earnest_aws.clients import client
from earnest_aws.experiences_store import ExperiencesStore
from earnest_aws.nightly_report import run
from earnest_cli.main import main
from tests.builders.experiences import allocated, experience, one_variant, two_variants
from tests.builders.report_events import put_s3, simulate

pytestmark = pytest.mark.slow  # three nightly runs over 36,000 units

DAY = date(2026, 11, 20)
PUSHED = "2026-11-01T09:00:00.000Z"
WINNER = one_variant("winner", "home-hero")
MIXED = two_variants("mixed", "pdp-recs")
LOSER = one_variant("loser", "checkout")
DRAFT = experience(id="footer-draft", placement="footer", status="draft")
RATES = {
    "winner": {None: 0.08, "b": 0.12},
    "mixed": {None: 0.10, "a": 0.10, "b": 0.04},
    "loser": {None: 0.12, "b": 0.06},
}


@pytest.fixture
def nights(aws: Any) -> Any:
    """Three nights: DAY (the loser and mixed/b paused), DAY + 15 (every review overdue:
    all retired), DAY + 16 (nothing live: the inventory carried from the night before)."""
    settings = dataclasses.replace(aws, global_holdout=0.05)
    store = ExperiencesStore(settings.experiences_table)
    for doc in (WINNER, MIXED, LOSER, DRAFT):
        store.save(doc, None, actor="alice", action="create", ops=allocated(doc, PUSHED))
    records: list[dict[str, Any]] = []
    for doc in (WINNER, MIXED, LOSER):
        records += simulate(
            [doc], 12_000, RATES, DAY, prefix=doc["id"], days=3, global_holdout=0.05
        )
    put_s3(client("s3"), settings.events_bucket, records)
    reports = [run(d, settings).report for d in (DAY, DAY + timedelta(15), DAY + timedelta(16))]
    return reports


def cli(capsys: Any, *argv: str) -> str:
    code = main(["inventory", *argv])
    out = capsys.readouterr()
    assert code == 0, out.err
    return str(out.out)


def test_the_inventory_lists_every_experience_ever_pushed_the_ones_to_act_on_first(
    nights: Any, capsys: Any
) -> None:
    first, _, last = nights
    listed = json.loads(cli(capsys, "--json"))
    rows = {r["id"]: r for r in listed["experiences"]}
    assert set(rows) == {"winner", "mixed", "loser", "footer-draft"}
    # every live one was retired on DAY + 15 for its overdue review; the draft never served
    assert [r["standing"] for r in listed["experiences"]] == ["draft"] + ["retired"] * 3
    assert rows["footer-draft"]["launched_at"] is None
    # what happened to each, when and why, from its audit trail
    events = {
        k: [(c["at"][:10], c["event"], c["variant"], c["rule"]) for c in r["changes"]]
        for k, r in rows.items()
    }
    retired_on = events["winner"][-1][0]
    assert events["winner"] == [(retired_on, "retired", None, "review_overdue")]
    assert events["mixed"][0][1:] == ("variant_paused", "b", "loses_to_default")
    assert [e[1:] for e in events["loser"][:2]] == [
        ("paused", None, "all_variants_paused"),
        ("variant_paused", "b", "loses_to_default"),
    ]
    assert all(c["actor"] == "nightly-report" for r in rows.values() for c in r["changes"])
    # the last verdicts: the night before it retired (carried by the last night's report)
    assert last["experiences"] == []
    winner = rows["winner"]["measured"]
    assert winner["date"] == (DAY + timedelta(15)).isoformat()
    assert [(v["variant"], v["verdict"]) for v in winner["variants"]] == [("b", "beats_default")]
    assert winner["variants"][0]["sequential_low"] > 0  # the interval the verdict read
    assert rows["winner"]["units"] == sum(
        a["units"] for e in first["experiences"] if e["id"] == "winner" for a in e["arms"]
    )
    assert rows["winner"]["launched_at"] == PUSHED
    assert rows["winner"]["owner"] == WINNER["owner"] and rows["winner"]["holdout"] == 0.5
    # the CSV: the same rows in the same order, one column each
    table = list(csv.DictReader(io.StringIO(cli(capsys, "--csv"))))
    assert [r["id"] for r in table] == [r["id"] for r in listed["experiences"]]
    assert tuple(table[0]) == inventory.COLUMNS
    assert "beats_default" in next(r for r in table if r["id"] == "winner")["verdicts"]
    # the table a person reads
    text = cli(capsys)
    assert "STANDING" in text and "loses_to_default" in text and "review_overdue" in text


def test_on_the_first_night_the_losers_come_before_the_winner(nights: Any) -> None:
    first = nights[0]["inventory"]["experiences"]
    standings = {r["id"]: r["standing"] for r in first}
    assert standings["winner"] == "earning" and standings["loser"] == "paused"
    assert standings["mixed"] in ("learning", "costing")  # a: no effect; b paused
    ids = [r["id"] for r in first]
    assert ids.index("loser") < ids.index("winner") and ids.index("mixed") < ids.index("winner")


def test_the_program_across_every_stored_night_and_its_months(nights: Any, capsys: Any) -> None:
    got = json.loads(cli(capsys, "--program", "--json"))
    dates = [p["date"] for p in got["lift"]]
    assert dates == [(DAY + timedelta(d)).isoformat() for d in (0, 15, 16)]
    first = got["lift"][0]
    assert first["units"]["global_holdout"] > 0 and first["coverage"]["personalized"] > 0.5
    assert first["lift"]["conversion_rate"]["relative_low"] is not None
    # the last report carries the same series: the history lives in the stored reports
    assert nights[-1]["program"]["history"]["lift"] == got["lift"]
    months = got["months"]
    for m in months:
        assert m["kept"] + m["paused"] + m["retired"] + m["withdrawn"] == m["active"]
    assert sum(m["launched"] for m in months) == 3  # the draft never went live
    assert sum(m["retired"] for m in months) == 3
    assert "2026-11" in {m["month"] for m in months}
    monthly = list(csv.DictReader(io.StringIO(cli(capsys, "--program", "--csv"))))
    assert [r["month"] for r in monthly] == [m["month"] for m in months]
    assert "the global holdout's lift" in cli(capsys, "--program")
