"""The `earnest` command as an owner uses it: validate, push, list against a local stack of
its own (these tests change the examples' stored versions, which other modules push)."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from tests.builders.stack import Stack, earnest
from tests.conftest import EXAMPLES


def test_the_shipped_examples_validate() -> None:
    result = earnest("validate", str(EXAMPLES))
    assert result.returncode == 0, result.stderr
    assert "ok: 7 experience(s), 1 saved group(s)" in result.stdout


def test_validate_reports_every_problem_in_every_file(tmp_path: Path) -> None:
    doc = yaml.safe_load((EXAMPLES / "home-hero-hiking.yaml").read_text())
    del doc["owner"], doc["measurement_plan"]
    doc["requires_consent"] = []
    doc["variants"][0]["weight"] = 0
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(doc))
    other = yaml.safe_load((EXAMPLES / "pdp-recs-search.yaml").read_text())
    other["audience"] = {"context.referrer": {"$startsWith": "goo"}}
    del other["holdout"], other["default"]
    (tmp_path / "worse.yaml").write_text(yaml.safe_dump(other))
    (tmp_path / "broken.yaml").write_text("id: [unclosed")
    result = earnest("validate", str(tmp_path))
    assert result.returncode == 1
    err = result.stderr
    for expected in (
        "bad.yaml: hiking-hero: owner: [named_owner]",
        "bad.yaml: hiking-hero: measurement_plan: [measurement_plan]",
        "bad.yaml: hiking-hero: variants[0].weight: [positive_weights]",
        "bad.yaml: hiking-hero: requires_consent: [consent_declared]",
        "worse.yaml: search-landing-recs: holdout: [holdout_required]",
        "worse.yaml: search-landing-recs: default: [strong_default]",
        "[valid_audience]",
        "broken.yaml: ?: (file): [readable_file]",
    ):
        assert expected in err, f"{expected!r} not in:\n{err}"


def test_push_then_list_then_a_raced_push_is_refused(own_stack: Stack, tmp_path: Path) -> None:
    work = tmp_path / "experiences"
    shutil.copytree(EXAMPLES, work)
    pushed = earnest("push", str(work), "--actor", "lena", env=own_stack.env)
    assert pushed.returncode == 0, pushed.stderr
    assert "hiking-hero: created -> version 1" in pushed.stdout

    listed = earnest("list", env=own_stack.env)
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.startswith("hiking-hero"))
    assert "home-hero" in row and "live" in row and "marco.rossi@shop.example" in row
    assert "2026-12-10" in row  # last reviewed 2026-11-10 + 30 days

    # Someone else changes the experience (version 2); a push from a copy that says
    # version 1 is refused, not merged.
    file = work / "home-hero-hiking.yaml"
    doc = yaml.safe_load(file.read_text())
    doc["holdout"] = 0.15
    file.write_text(yaml.safe_dump(doc))
    assert earnest("push", str(file), "--actor", "marco", env=own_stack.env).returncode == 0
    doc["version"], doc["holdout"] = 1, 0.2
    file.write_text(yaml.safe_dump(doc))
    raced = earnest("push", str(file), "--actor", "lena", env=own_stack.env)
    assert raced.returncode == 1
    assert "refused" in raced.stderr and "by marco" in raced.stderr


def test_list_marks_overdue_reviews(own_stack: Stack, tmp_path: Path) -> None:
    doc = yaml.safe_load((EXAMPLES / "pdp-recs-search.yaml").read_text())
    doc["id"], doc["last_reviewed"] = "stale-recs", "2025-01-01"
    (tmp_path / "stale.yaml").write_text(yaml.safe_dump(doc))
    assert earnest("push", str(tmp_path / "stale.yaml"), env=own_stack.env).returncode == 0
    row = next(
        line
        for line in earnest("list", env=own_stack.env).stdout.splitlines()
        if line.startswith("stale-recs")
    )
    assert "2025-01-31  OVERDUE" in row


def test_every_command_says_its_defaults_and_environment_and_the_version() -> None:
    assert earnest("--version").stdout.startswith("earnest ")
    for command in ("push", "pull", "diff", "list", "history", "pause", "explain", "report"):
        help_text = " ".join(earnest(command, "--help").stdout.split())
        assert "AWS_ENDPOINT_URL" in help_text, command
    assert "(default 8787)" in earnest("serve", "--help").stdout


def test_a_second_push_of_unchanged_files_writes_nothing(own_stack: Stack, tmp_path: Path) -> None:
    work = tmp_path / "experiences"
    shutil.copytree(EXAMPLES, work)
    for doc_file in work.glob("*.yaml"):  # ids of their own: the other tests push the examples
        doc_file.write_text(doc_file.read_text().replace("\nid: ", "\nid: again-"))
    first = earnest("push", str(work), env=own_stack.env)
    assert first.returncode == 0, first.stderr
    second = earnest("push", str(work), env=own_stack.env)
    assert second.returncode == 0, second.stderr
    lines = [line for line in second.stdout.splitlines() if line.startswith("again-")]
    assert len(lines) == 7 and all(": unchanged (version 1)" in line for line in lines)
