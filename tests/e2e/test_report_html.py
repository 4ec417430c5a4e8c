"""The report's index.html in a real browser: the charts render, a person can read them.

Headless Chromium (Debian's `chromium`, installed by `make test`) opens the page from a
file. A copy with a small probe script appended measures every chart element after
layout and writes what it found into the DOM, which `--dump-dom` hands back; the page
itself carries no script. A screenshot checks the page is not blank.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
import zlib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from earnest.experiences import actions, lifecycle
from earnest.report import bandit
from earnest.report import build as report_build
from earnest.report import render as report_render
from earnest.report.aggregation import Aggregator
from earnest.report.plan import tracked
from earnest.report.totals import ArmTotals, ExperienceTotals, Totals
from earnest.report.window import Window
from tests.builders.bandit_simulation import Bandit, authored
from tests.builders.experiences import experience
from tests.builders.report_events import objects, simulate

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:  # `make test` installs it when it may; say so rather than pass silently
    pytest.skip(
        "headless Chromium is not installed "
        "(apt-get install chromium, or `make /usr/bin/chromium`)",
        allow_module_level=True,
    )

DAY = date(2026, 11, 20)
PROBE = """
<script>
const out = [];
for (const row of document.querySelectorAll('svg.forest .forest-row')) {
  const box = (sel) => { const el = row.querySelector(sel); if (!el) return null;
    const b = el.getBBox(); return [b.x, b.width, b.height]; };
  out.push({experience: row.dataset.experience, variant: row.dataset.variant,
            verdict: row.dataset.verdict, ci: box('.interval-ci'),
            sequential: box('.interval-sequential'), estimate: box('.estimate')});
}
const bars = [...document.querySelectorAll('svg.coverage .coverage-bar rect')]
  .map(r => [r.closest('g').dataset.reason, r.getBBox().width]);
const svgs = [...document.querySelectorAll('svg.chart')]
  .map(s => { const r = s.getBoundingClientRect(); return [r.width, r.height]; });
const trends = [...document.querySelectorAll('svg.trend')].map(t => ({
  experience: t.dataset.experience, variant: t.dataset.variant,
  whiskers: [...t.querySelectorAll('.trend-night .interval-sequential')]
    .map(l => l.getBBox().height)}));
const words = [...document.querySelectorAll('ul.in-words li')].map(li => li.textContent);
const segments = [...document.querySelectorAll('svg.segments')].map(s => ({
  experience: s.dataset.experience, variant: s.dataset.variant,
  rows: [...s.querySelectorAll('.segment-row')].map(r => ({
    value: r.dataset.value, effect: r.dataset.effect,
    interval: r.querySelector('.interval-sequential').getBBox().width,
    estimate: r.querySelector('.estimate') ? r.querySelector('.estimate').getBBox().x : null}))}));
const flags = [...document.querySelectorAll('p.segment-flag')].map(p => p.textContent);
const pre = document.createElement('pre');
pre.id = 'probe';
pre.textContent = JSON.stringify({rows: out, bars: bars, svgs: svgs, trends: trends,
                                  words: words, segments: segments, flags: flags});
document.body.appendChild(pre);
</script>
"""


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    """A report with a winner, a loser (paused) and a flat variant, from simulated events."""
    mixed = experience(
        id="mixed",
        placement="pdp",
        audience={},
        holdout=0.3,
        variants=[{"id": "a", "weight": 1, "content": {}}, {"id": "b", "weight": 1, "content": {}}],
    )
    winner = experience(
        id="winner", audience={}, holdout=0.5, variants=[{"id": "b", "weight": 1, "content": {}}]
    )
    rates = {"winner": {None: 0.08, "b": 0.12}, "mixed": {None: 0.10, "a": 0.10, "b": 0.04}}
    records = simulate([winner], 8000, rates, DAY, prefix="w", global_holdout=0.05)
    records += simulate([mixed], 8000, rates, DAY, prefix="m", global_holdout=0.05)
    docs = [winner, mixed]
    agg = Aggregator(tracked(docs))
    for key, data in objects(records).items():
        agg.partition(key[10:20])
        agg.feed_object(data)
    return report_build.build(Window(DAY), docs, agg.totals(), None, global_holdout=0.05)


@pytest.fixture(scope="module")
def page(report: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "index.html"
    path.write_bytes(report_render.to_html(report))
    return path


def probe(page: Path, script: str = PROBE) -> dict[str, Any]:
    """What `script` (a probe appended to a copy of the page) found after layout."""
    probed = page.with_name("probed.html")
    probed.write_text(page.read_text().replace("</body>", script + "</body>"))
    result = chromium("--virtual-time-budget=5000", "--dump-dom", probed.as_uri())
    found = re.search(r'<pre id="probe">(.*?)</pre>', result.stdout, re.S)
    assert found, f"the probe did not run:\n{result.stderr[-2000:]}"
    text = found.group(1).replace("&quot;", '"').replace("&amp;", "&")
    data: dict[str, Any] = json.loads(text)
    return data


def test_the_forest_plot_draws_an_interval_and_an_estimate_for_every_variant(
    report: dict[str, Any], page: Path
) -> None:
    rows = probe(page)["rows"]
    expected = [(e["id"], v["variant"]) for e in report["experiences"] for v in e["variants"]]
    assert [(r["experience"], r["variant"]) for r in rows] == expected
    for row in rows:
        assert row["ci"] and row["ci"][1] > 1 and row["ci"][2] > 0, row  # a visible bar
        assert row["sequential"] and row["sequential"][1] >= row["ci"][1], row  # wider
        assert row["estimate"] and row["estimate"][1] > 0, row
    verdicts = {(r["experience"], r["variant"]): r["verdict"] for r in rows}
    assert verdicts[("winner", "b")] == "beats_default"
    assert verdicts[("mixed", "b")] == "loses_to_default"


def test_the_coverage_chart_draws_a_bar_per_reason(report: dict[str, Any], page: Path) -> None:
    found = probe(page)
    bars = dict(found["bars"])
    reasons = {r["reason"]: r["share"] for r in report["program"]["coverage"]["reasons"]}
    assert set(bars) == set(reasons) == {"personalized", "holdout", "global_holdout"}
    # bar lengths follow the shares
    assert bars["personalized"] > bars["holdout"] > bars["global_holdout"] > 0
    assert all(w > 100 and h > 50 for w, h in found["svgs"])


def test_the_dom_shows_verdicts_and_what_was_paused_and_why(page: Path) -> None:
    dom = chromium("--dump-dom", page.as_uri()).stdout
    assert dom.count('class="forest-row"') == 3
    assert 'data-action="pause_variant"' in dom
    assert "loses_to_default: variant b loses to the default" in dom
    assert 'data-verdict="beats_default"' in dom


def _png_colours(png: bytes) -> int:
    """Distinct byte values across the image's rows: a blank page has one or two."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(png):
        length = int.from_bytes(png[pos : pos + 4], "big")
        kind = png[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += png[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return len(set(zlib.decompress(idat)[:2_000_000]))


def test_a_screenshot_of_the_page_is_not_blank(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    chromium("--window-size=1100,1600", f"--screenshot={shot}", page.as_uri())
    assert shot.exists() and shot.stat().st_size > 20_000
    assert _png_colours(shot.read_bytes()) > 50


def test_the_trend_chart_shows_the_interval_closing_in_night_by_night(tmp_path: Path) -> None:
    # Given five nights of reports of a winner, each built with the one before
    winner = experience(
        id="winner", audience={}, holdout=0.5, variants=[{"id": "b", "weight": 1, "content": {}}]
    )
    report = None
    for night in range(5):
        units = 3_000 * (night + 1)
        arms = {
            None: ArmTotals(units, units, round(units * 0.08)),
            "b": ArmTotals(units, units, round(units * 0.11)),
        }
        totals = Totals({"winner": ExperienceTotals(arms, {})}, {}, {}, {})
        window = Window(DAY - timedelta(days=4 - night))
        report = report_build.build(window, [winner], totals, report, global_holdout=0.0)
    assert report is not None
    page = tmp_path / "index.html"
    page.write_bytes(report_render.to_html(report))
    found = probe(page)
    # Then the browser draws one whisker a night, each shorter than the night before
    [trend] = found["trends"]
    assert (trend["experience"], trend["variant"]) == ("winner", "b")
    whiskers = trend["whiskers"]
    assert len(whiskers) == 5 and all(a > b > 0 for a, b in itertools.pairwise(whiskers))
    # And the page says in plain words what to do
    assert found["words"] and found["words"][0].startswith("winner: keep b, it beats the default")


WEIGHTS_PROBE = """
<script>
const bars = [...document.querySelectorAll('svg.weights g.weights-epoch')].map(g =>
  [...g.querySelectorAll('rect.weight')].map(r =>
    [r.dataset.variant, Math.round(r.getBoundingClientRect().width * 10) / 10]));
const pre = document.createElement('pre');
pre.id = 'probe';
pre.textContent = JSON.stringify({bars: bars});
document.body.appendChild(pre);
</script>
"""


def test_a_bandits_weights_are_drawn_epoch_by_epoch_in_proportion(tmp_path: Path) -> None:
    # Given a bandit the nightly run re-weighted once, towards its better variant
    doc = authored(Bandit({None: 0.05, "a": 0.05, "b": 0.08}))
    doc["allocation_started_at"] = "2026-11-17T00:00:00.000Z"
    arms = {None: ArmTotals(600, 600, 30), "a": ArmTotals(2700, 2700, 135)}
    arms["b"] = ArmTotals(2700, 2700, 216)
    action = bandit.reweight(DAY, doc, arms, set())
    assert action is not None
    ops = actions.record({}, doc, [action], "2026-11-21T00:00:00.000Z")
    served = lifecycle.effective(
        {k: v for k, v in doc.items() if k != "allocation_started_at"}, ops
    )
    totals = Totals({str(doc["id"]): ExperienceTotals(arms, {})}, {}, {}, {})
    report = report_build.build(
        Window(DAY + timedelta(days=2)), [served], totals, None, global_holdout=0.0
    )
    page = tmp_path / "index.html"
    page.write_bytes(report_render.to_html(report))
    bars = probe(page, WEIGHTS_PROBE)["bars"]
    # Then the browser lays out two epochs: the file's equal split, then the new weights,
    # each variant's width in proportion to its weight
    assert len(bars) == 2
    (a0, wa0), (b0, wb0) = bars[0]
    assert (a0, b0) == ("a", "b") and wa0 == pytest.approx(wb0, abs=0.2) and wa0 > 50
    (_, wa1), (_, wb1) = bars[1]
    new = action.evidence["weights"]
    assert wb1 / (wa1 + wb1) == pytest.approx(new["b"], abs=0.01) and wb1 > wa1


SEGMENT_WEIGHTS_PROBE = """
<script>
const values = [...document.querySelectorAll('svg.segment-weights g.weights-value')].map(g =>
  ({value: g.dataset.value, own: g.dataset.own === 'true',
    bars: [...g.querySelectorAll('rect.weight')].map(r =>
      [r.dataset.variant, r.getBoundingClientRect().width])}));
const pre = document.createElement('pre');
pre.id = 'probe';
pre.textContent = JSON.stringify({values: values});
document.body.appendChild(pre);
</script>
"""


def test_a_segmented_bandits_weights_are_drawn_value_by_value_in_proportion(
    tmp_path: Path,
) -> None:
    # Given a segmented bandit re-weighted once: a helps mobile, b helps desktop, and
    # tablet has too few units for weights of its own
    doc = authored(Bandit({None: 0.05, "a": 0.05, "b": 0.05}, segments={"mobile": {}}))
    start = lifecycle.with_allocation(doc, {}, "2026-11-17T00:00:00.000Z")
    served = lifecycle.effective(doc, start)

    def arms(*numbers: tuple[int, int]) -> dict[str | None, ArmTotals]:
        return {k: ArmTotals(n, n, x) for k, (n, x) in zip((None, "a", "b"), numbers, strict=True)}

    by_value = {
        "mobile": arms((300, 15), (900, 90), (900, 45)),
        "desktop": arms((300, 15), (900, 45), (900, 90)),
        "tablet": arms((20, 1), (50, 3), (50, 2)),
    }
    whole = arms(
        *(
            (
                sum(a[k].units for a in by_value.values()),
                sum(a[k].conversions for a in by_value.values()),
            )
            for k in (None, "a", "b")
        )
    )
    action = bandit.reweight(DAY, served, whole, set(), {"context.device": by_value})
    assert action is not None
    at = "2026-11-20T23:59:59.999Z"
    later = lifecycle.effective(
        doc, lifecycle.with_allocation(doc, actions.record(start, served, [action], at), at)
    )
    totals = Totals(
        {str(doc["id"]): ExperienceTotals(whole, {}, None, {"context.device": by_value})},
        {},
        {},
        {},
    )
    report = report_build.build(
        Window(DAY + timedelta(days=1)), [later], totals, None, global_holdout=0.0
    )
    page = tmp_path / "index.html"
    page.write_bytes(report_render.to_html(report))
    values = {v["value"]: v for v in probe(page, SEGMENT_WEIGHTS_PROBE)["values"]}
    # Then the browser lays out one bar per value, each variant's width in proportion to
    # the weights that value is served: mobile's mostly a, desktop's mostly b, tablet's
    # the overall ones
    assert set(values) == {"mobile", "desktop", "tablet"}
    own = action.evidence["segments"]
    for value in ("mobile", "desktop"):
        assert values[value]["own"]
        widths = dict(values[value]["bars"])
        share = widths["a"] / (widths["a"] + widths["b"])
        assert share == pytest.approx(own[value]["weights"]["a"], abs=0.01)
    assert dict(values["mobile"]["bars"])["a"] > 5 * dict(values["mobile"]["bars"])["b"]
    assert dict(values["desktop"]["bars"])["b"] > 5 * dict(values["desktop"]["bars"])["a"]
    tablet = dict(values["tablet"]["bars"])
    overall = {str(v["id"]): float(v["weight"]) for v in later["variants"]}
    assert not values["tablet"]["own"]
    assert tablet["a"] / (tablet["a"] + tablet["b"]) == pytest.approx(
        overall["a"] / (overall["a"] + overall["b"]), abs=0.01
    )


def test_a_segmented_experience_shows_each_variants_lift_by_segment(tmp_path: Path) -> None:
    # Given a variant that helps mobile (8 % -> 12 %) and does nothing on desktop
    doc = experience(
        id="recs", audience={}, holdout=0.5, variants=[{"id": "b", "weight": 1, "content": {}}]
    )
    doc["measurement_plan"] = {**doc["measurement_plan"], "segments": ["context.device"]}
    rates = {"mobile": {None: 0.08, "b": 0.12}, "desktop": {None: 0.08, "b": 0.08}}
    split = {
        device: {arm: ArmTotals(8_000, 8_000, round(8_000 * p)) for arm, p in arms.items()}
        for device, arms in rates.items()
    }
    whole = {
        arm: ArmTotals(16_000, 16_000, sum(split[d][arm].conversions for d in split))
        for arm in (None, "b")
    }
    totals = Totals(
        {"recs": ExperienceTotals(whole, {}, None, {"context.device": split})}, {}, {}, {}
    )
    report = report_build.build(Window(DAY), [doc], totals, None, global_holdout=0.0)
    page = tmp_path / "index.html"
    page.write_bytes(report_render.to_html(report))
    found = probe(page)
    # Then the browser draws one chart for b, a row per device with a visible interval
    [chart] = found["segments"]
    assert (chart["experience"], chart["variant"]) == ("recs", "b")
    rows = {r["value"]: r for r in chart["rows"]}
    assert set(rows) == {"mobile", "desktop"}
    assert all(r["interval"] > 5 and r["estimate"] is not None for r in rows.values())
    assert (rows["mobile"]["effect"], rows["desktop"]["effect"]) == ("helps", "flat")
    assert rows["mobile"]["estimate"] > rows["desktop"]["estimate"]  # drawn further right
    # And the page says so in words, beside the chart and in what to do
    assert found["flags"] and found["flags"][0].startswith("b helps context.device mobile")
    assert any("helps context.device mobile" in w for w in found["words"])
