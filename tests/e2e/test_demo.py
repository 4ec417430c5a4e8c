"""`earnest demo`, the main job: the whole loop on the embedded stack, as a user runs it."""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from earnest.report.guardrails import lifecycle, review_due
from earnest_cli.demo import EXAMPLES_WRITTEN, examples_as_of, on_real_clock, real_clock
from earnest_cli.files import load
from earnest_cli.template import ROOT

# With Node and the worker's packages (make test installs them) every simulated page view
# goes through the edge worker under Miniflare, also in the clock-a-year-ahead pass: the
# demo starts node without libfaketime, which workerd cannot start under.
WORKER_INSTALLED = (
    shutil.which("node") is not None
    and (ROOT / "clients" / "edge-worker" / "node_modules" / "miniflare").exists()
)


SEED = "20261123"


def start_demo(folder: Path) -> subprocess.Popen[str]:
    folder.mkdir()
    earnest = Path(sys.executable).parent / "earnest"
    return subprocess.Popen(
        [str(earnest), "demo", "--days", "5", "--seed", SEED, "--out", str(folder / "report")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=folder,
    )


def the_story(text: str, folder: Path) -> list[str]:
    """What a run printed, less what differs from run to run by design: its ports, its
    folder, how long it took, the wall-clock times of its pushes and pauses; the worker's
    first visit (the worker gives it a random id of its own); and three counts of the
    machine's pace, not of what was decided: the events the worker's relay saw stored by
    the time each day was counted (a batch retried after a slow answer is counted when its
    retry is answered), the placements the worker asked decide for (whether its copy of the
    bundle was within its age bound at each page), and the page views the loaded stack
    could not decide, viewed again."""
    text = re.sub(r"http://127\.0\.0\.1:\d+", "http://127.0.0.1:PORT", text)
    text = text.replace(str(folder), "FOLDER")
    text = re.sub(r"\b\d\d:\d\dZ\b", "HH:MMZ", text)  # when each run pushed, paused: its own
    text = re.sub(r"• a first visit from a search engine: .*?\n\n", "", text, flags=re.S)
    pace = re.compile(
        r"^demo done in |needed the hop to /decide|^    \d+ events stored, |were viewed again"
    )
    return [line for line in text.splitlines() if not pace.search(line)]


def the_demos_story(tmp_path: Path) -> tuple[str, Path]:
    """What the demo printed and where its report is. On the real clock, two runs with one
    seed at once (each on a stack and a worker of its own) must tell the same story; the
    clock-a-year-ahead pass (`make test`) runs one, to read the story on another date."""
    folders = [tmp_path / "first", tmp_path / "again"][: 2 if on_real_clock(os.environ) else 1]
    runs = [start_demo(folder) for folder in folders]
    results = [run.communicate(timeout=900) for run in runs]
    for run, (stdout, stderr) in zip(runs, results, strict=True):
        assert run.returncode == 0, stdout[-3000:] + stderr[-3000:]
    stories = [the_story(r[0], f) for r, f in zip(results, folders, strict=True)]
    first = stories[0]
    # On a difference, the pace lines too: how many reloads and hops each run needed
    paces = [re.findall(r"^.*(?:were viewed again|needed the hop).*$", r[0], re.M) for r in results]
    for again in stories[1:]:
        assert first == again, "\n".join(
            [*difflib.unified_diff(first, again, lineterm=""), "each run's pace:", *map(str, paces)]
        )
    return results[0][0], folders[0] / "report"


@pytest.mark.slow
@pytest.mark.clock
def test_the_demo_finds_the_known_loser_pauses_it_and_stops_serving_it(tmp_path: Path) -> None:
    # A user who runs the demo again with the seed sees the same pages, events, nights and
    # tables, however loaded the machine is (the bandit's re-weightings included).
    text, out = the_demos_story(tmp_path)
    # Decisions with reasons; a forged consent change refused; a withdrawal in force at once.
    assert "identity_uncertain" in text and "unknown_placement" in text
    assert "(the signature no longer matches): 401" in text
    assert re.search(r"the very next decision: no_consent", text)
    # Five simulated days, a nightly report after each.
    assert all(f"day {n} of 5" in text for n in range(1, 6))
    assert text.count("$ earnest report --date") == 5
    # A report found the variant simulated at 3 % against a 10 % holdout, and paused it.
    assert re.search(r"pause_variant\s+search-landing-recs/bundles: loses_to_default", text)
    after = text.split("after the last report:")[1].splitlines()[0]
    assert "bundles" not in after and "popular" in after
    # The final table: the truth beside what the reports said, and when the loser stopped:
    # the helping variant found, the hurting one paused, the one with no effect left running.
    table = text.split("against the truth")[1].split("== coverage")[0]
    assert re.search(
        r"popular\s+helps mobile visitors .*\s+beats_default \(day \d\)\s+no$", table, re.M
    )
    assert re.search(r"bundles\s+hurts \(-7 pts\)\s+loses_to_default \(day \d\)\s+day \d", table)
    assert re.search(r"similar\s+none\s+\S+.*\s+no$", table, re.M)
    assert "beats_default" not in table.split("similar")[1].splitlines()[0]
    # The lift by segment shows the truth within the winner: it helps mobile, not desktop.
    segments = text.split("lift by segment (context.device) found")[1].split("\n== ")[0]
    assert re.search(
        r"^\s+popular\s+helps mobile .*\s+helps context\.device mobile \(\+[\d.]+ %\), "
        r"shows no measurable effect on desktop \([^)]*\) \(day \d\)$",
        segments,
        re.M,
    )
    assert "helps" not in segments.split("similar")[1].splitlines()[0].split("none", 1)[1]
    the_bandits_weights_moved_to_the_true_best(text)
    # Coverage by reason, and no personalization reached anyone after their withdrawal.
    coverage = text.split("== coverage by reason")[1].split("compliance:")[0]
    assert "identity_uncertain" in coverage and "no_consent" in coverage
    found = re.search(r"compliance: (\d+) personalized .* \(of (\d+) decisions", text)
    assert found and found[1] == "0" and int(found[2]) > 0
    assert re.search(r"\d+ signed-in visitors withdrew consent through the signed webhook", text)
    assert f"the report, with its charts: file://{out.resolve() / 'index.html'}" in text
    days = text.split("days of visitors with a known truth")[1]
    if WORKER_INSTALLED:  # every page view through the worker (Miniflare), the first ones shown
        assert "slots marked in the page: " in text
        assert "HttpOnly; Secure; SameSite=Lax" in text
        assert "(GET /products/boots through the worker, POST /events" in days.splitlines()[0]
        assert "of the worker's exposures have not arrived" not in text
        hops = re.search(r"(\d+) pages through the worker; (\d+) needed the hop to /decide", text)
        at_edge = re.search(r"the other (\d+) were decided at the edge", text)
        assert hops and at_edge, "the demo says how many pages needed the hop"
        if on_real_clock(os.environ):  # the contextual placements, decided in the worker
            assert int(at_edge[1]) > 0
        else:  # the worker's tokens would be a year old on the stack's clock: all to /decide
            assert "(decisions at the edge are off: this demo runs under faketime" in text
            assert int(at_edge[1]) == 0
    else:
        assert "(no edge worker: " in text
        assert "the page views below go straight to /decide" in text
    stored = [int(n) for n in re.findall(r"(\d+) events stored, timestamped on", days)]
    assert len(stored) == 5 and min(stored) > 1000
    # The functions' logs went to their file, not into the demo's output.
    assert '"_aws"' not in text and (out / "functions.log").stat().st_size > 0
    html = (out / "index.html").read_text()
    assert "search-landing-recs" in html and "<svg" in html
    inventory_lists_the_demos_experiences(text, html)


def the_bandits_weights_moved_to_the_true_best(text: str) -> None:
    # The bandit's weights by night beside its truth: by the last night most of its traffic
    # goes to the hero that is truly best (sale, +15 pts), the one without effect at its floor.
    bandit = text.split("bandit moved its weights")[1].split("== coverage")[0]
    assert "sale (+15 pts)" in bandit and "trail (none)" in bandit
    nights = re.findall(r"^\s+night (\d) \S+\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", bandit, re.M)
    assert [n[0] for n in nights] == ["1", "2", "3", "4", "5"]
    trail, city, sale = (float(w) for w in nights[-1][1:])
    assert sale >= 0.6 and sale > city and sale > trail
    assert float(nights[-1][3]) > float(nights[0][3])


def inventory_lists_the_demos_experiences(text: str, html: str) -> None:
    # The inventory lists every experience the demo pushed, the test earning its place
    # (popular beats the default), with the night's pause of bundles and why.
    listed = text.split("$ earnest inventory")[1]
    for exp_id in ("search-landing-recs", "dach-mobile-hero", "hiking-hero", "newsletter-footer"):
        assert re.search(rf"^\S+\s+{exp_id}\s", listed, re.M), exp_id
    assert re.search(r"^earning\s+search-landing-recs\s+live", listed, re.M)
    assert re.search(r"variant paused bundles \(loses_to_default, by nightly-report\)", listed)
    assert "Inventory: every experience ever pushed" in html and 'class="chart months"' in html


@pytest.mark.parametrize("today", [EXAMPLES_WRITTEN, date(2027, 12, 17), date(2031, 6, 30)])
def test_the_demos_examples_are_never_overdue_or_ended_whatever_the_date(
    today: date, tmp_path: Path
) -> None:
    authored = load([examples_as_of(today, tmp_path)])
    assert not authored.problems
    live = [doc for _, doc in authored.experiences if doc["status"] == "live"]
    assert len(live) >= 5
    for doc in live:
        assert lifecycle(doc, today) == [], doc["id"]
        due = review_due(doc)
        assert due is not None and due >= today + timedelta(days=7), doc["id"]


def test_node_and_workerd_start_without_libfaketime_and_nothing_else_is_dropped() -> None:
    faked = {
        "LD_PRELOAD": "/usr/$LIB/faketime/libfaketime.so.1 /opt/lib/libtrace.so",
        "FAKETIME": "+366d",
        "FAKETIME_SHARED": "/faketime_sem_1 /faketime_shm_1",
        "PATH": "/usr/bin",
    }
    assert real_clock(faked) == {"LD_PRELOAD": "/opt/lib/libtrace.so", "PATH": "/usr/bin"}
    only_faketime = {"LD_PRELOAD": "/usr/$LIB/faketime/libfaketime.so.1", "HOME": "/root"}
    assert real_clock(only_faketime) == {"HOME": "/root"}
