"""The report page's inventory and program history in a real browser, as the report's
other charts are checked (tests/e2e/test_report_html.py): headless Chromium lays the page
out, a probe script appended to a copy measures what it drew."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import date, timedelta
from typing import Any

import pytest

from earnest.experiences.retirement import end_of
from earnest.program import inventory, timeline
from earnest.report import build as report_build
from earnest.report import render as report_render
from earnest.report.totals import PROGRAM_ARM, ArmTotals, ExperienceTotals, Totals
from earnest.report.window import Window
from tests.builders.audit import authored, pause_variant, retire, stored
from tests.builders.experiences import experience

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip(
        "headless Chromium is not installed "
        "(apt-get install chromium, or `make /usr/bin/chromium`)",
        allow_module_level=True,
    )

NIGHTS = [date(2026, 10, 29) + timedelta(days=3 * i) for i in range(4)]  # October, November
PROBE = """
<script>
const rows = [...document.querySelectorAll('table.inventory tr.inventory-row')].map(r => ({
  id: r.dataset.experience, standing: r.dataset.standing, height: r.getBoundingClientRect().height,
  badge: getComputedStyle(r.querySelector('.badge.standing')).backgroundColor,
  changes: [...r.querySelectorAll('li.change')].map(li => li.textContent)}));
const nights = [...document.querySelectorAll('svg.program-history .history-night')].map(g => {
  const dot = g.querySelector('.estimate'), bar = g.querySelector('.interval-ci');
  return {date: g.dataset.date, dot: dot ? dot.getBBox().width : 0,
          bar: bar ? bar.getBBox().height : 0}; });
const counts = [...document.querySelectorAll('svg.months rect.count')].map(r => ({
  month: r.closest('g').dataset.month, kind: r.dataset.kind, count: +r.dataset.count,
  height: r.getBBox().height}));
const coverage = [...document.querySelectorAll('svg.coverage-months rect')].map(r => ({
  month: r.closest('g').dataset.month, reason: r.dataset.reason, width: r.getBBox().width}));
const pre = document.createElement('pre');
pre.id = 'probe';
pre.textContent = JSON.stringify({rows, nights, counts, coverage});
document.body.appendChild(pre);
</script>
"""


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
         "--disable-dev-shm-usage", "--hide-scrollbars", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip


def one(exp_id: str, **changes: Any) -> dict[str, Any]:
    return experience(
        id=exp_id,
        audience={},
        holdout=0.5,
        variants=[{"id": "b", "weight": 1, "content": {}}],
        last_reviewed="2026-10-20",
        review_every_days=60,
        **changes,
    )


def experiences() -> list[timeline.Experience]:
    """A winner and a loser launched in October, one paused and retired in November, a draft."""
    winner, loser, gone, draft = one("winner"), one("loser"), one("gone"), one("draft")
    draft["status"] = "draft"
    trails = {
        "winner": [authored(1, "2026-10-27T09:00:00.000Z", winner, "create")],
        "loser": [authored(1, "2026-10-28T09:00:00.000Z", loser, "create")],
        "gone": [
            authored(1, "2026-10-27T10:00:00.000Z", gone, "create"),
            pause_variant(2, "2026-11-02T02:15:00.000Z", "b"),
            retire(3, "2026-11-05T02:15:00.000Z", "ended"),
        ],
        "draft": [authored(1, "2026-10-30T09:00:00.000Z", draft, "create")],
    }
    docs = {"winner": winner, "loser": loser, "gone": gone, "draft": draft}
    return [timeline.Experience(stored(docs[k], t), t) for k, t in trails.items()]


def arms(units: int, holdout_every: int, variant_every: int) -> ExperienceTotals:
    """A holdout and a variant `b` of `units` each, one in every N converting."""
    return ExperienceTotals(
        {
            None: ArmTotals(units, units, units // holdout_every),
            "b": ArmTotals(units, units, units // variant_every),
        },
        {},
    )


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    """Four nights, each built with the one before and carrying the inventory forward."""
    exps = experiences()
    live = [e.stored.effective for e in exps if e.stored.effective["status"] == "live"]
    built: list[dict[str, Any]] = []
    for n, night in enumerate(NIGHTS):
        units = 4_000 * (n + 1)
        totals = Totals(
            {
                "winner": arms(units, 12, 8),  # 8.3 % against 12.5 %: beats
                "loser": arms(units, 8, 16),  # 12.5 % against 6.3 %: loses
            },
            {"personalized": 70 + 5 * n, "holdout": 20, "global_holdout": 10 - n},
            {"global_holdout": ArmTotals(units // 10, units // 10, units // 100),
             PROGRAM_ARM: ArmTotals(units, units, units // 9)},
            {},
        )  # fmt: skip
        previous = built[-1] if built else None
        one_night = report_build.build(Window(night), live, totals, previous, global_holdout=0.05)
        one_night["inventory"], one_night["program"]["history"] = inventory.sections(
            exps, [one_night, *reversed(built)], night, end_of(night)
        )
        built.append(one_night)
    return built[-1]


@pytest.fixture(scope="module")
def probed(report: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("inventory")
    page = folder / "index.html"
    page.write_bytes(report_render.to_html(report))
    copy = folder / "probed.html"
    copy.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    result = chromium("--virtual-time-budget=5000", "--dump-dom", copy.as_uri())
    found = re.search(r'<pre id="probe">(.*?)</pre>', result.stdout, re.S)
    assert found, f"the probe did not run:\n{result.stderr[-2000:]}"
    data: dict[str, Any] = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    return data


def test_the_inventory_shows_every_experience_the_ones_to_act_on_first(probed: dict) -> None:
    rows = probed["rows"]
    assert [(r["id"], r["standing"]) for r in rows] == [
        ("loser", "harming"),
        ("winner", "earning"),
        ("draft", "draft"),
        ("gone", "retired"),
    ]
    assert all(r["height"] > 20 for r in rows)  # laid out, not collapsed
    assert rows[0]["badge"] == "rgb(207, 34, 46)" and rows[1]["badge"] == "rgb(26, 127, 55)"
    gone = rows[3]["changes"]
    assert gone[0].startswith("2026-11-02 variant paused b (loses_to_default, by nightly-report)")
    assert gone[1].startswith("2026-11-05 retired (ended, by nightly-report)")


def test_the_programs_lift_is_drawn_for_every_stored_night(probed: dict) -> None:
    nights = probed["nights"]
    assert [n["date"] for n in nights] == [d.isoformat() for d in NIGHTS]
    assert all(n["dot"] > 0 and n["bar"] > 0 for n in nights)
    # more units each night: the interval narrows
    assert nights[-1]["bar"] < nights[0]["bar"]


def test_the_months_bars_follow_the_counts(probed: dict, report: dict[str, Any]) -> None:
    counts = {(c["month"], c["kind"]): c for c in probed["counts"]}
    months = {m["month"]: m for m in report["program"]["history"]["months"]}
    assert set(months) == {"2026-10", "2026-11"}
    assert months["2026-10"]["launched"] == 3 and months["2026-11"]["retired"] == 1
    for (month, kind), c in counts.items():
        assert c["count"] == months[month][kind]
    launched = counts[("2026-10", "launched")]["height"]
    assert launched > 3 * counts[("2026-11", "retired")]["height"] * 0.9 > 0
    widths = {(c["month"], c["reason"]): c["width"] for c in probed["coverage"]}
    november = months["2026-11"]["coverage"]
    assert november["personalized"] > 0.7
    ratio = widths[("2026-11", "personalized")] / widths[("2026-11", "holdout")]
    assert ratio == pytest.approx(november["personalized"] / november["holdout"], rel=0.01)
