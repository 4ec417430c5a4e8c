"""The guardrails catalog stays true: every guardrail has code that exists and tests pytest
collects, every check, rule and reason the product defines is in one, and docs/guardrails.md
is the catalog as generated."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable

import pytest

from earnest.decide.reasons import REASONS
from earnest.experiences.validation import CHECK_BY_FIELD
from earnest.program.guardrails_catalog import CATALOG, STAGES, Guardrail, anchor, markdown
from earnest.report import guardrails as nightly
from earnest_cli.guardrails_cmd import problems
from tests.conftest import ROOT


def missing_tests(node_ids: Iterable[str]) -> list[str]:
    """The node ids pytest does not collect (a parametrized test counts by its base id)."""
    wanted = sorted(set(node_ids))
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *wanted],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    collected = {line.strip() for line in out.stdout.splitlines() if "::" in line}
    return [
        node
        for node in wanted
        if node not in collected and not any(c.startswith(node + "[") for c in collected)
    ]


def test_every_guardrail_is_enforced_by_code_that_exists() -> None:
    assert problems(CATALOG) == []


@pytest.mark.slow
def test_every_guardrail_is_proved_by_tests_that_pytest_collects() -> None:
    assert all(g.tests for g in CATALOG)
    assert missing_tests(t for g in CATALOG for t in g.tests) == []


@pytest.mark.slow
def test_a_guardrail_without_code_or_tests_or_with_code_that_is_gone_is_named() -> None:
    bare = Guardrail("bare", "Bare", "nothing behind it", ("decide",), (), (), "docs/decide.md")
    gone = Guardrail(
        "gone",
        "Gone",
        "code renamed away",
        ("nightly",),
        ("earnest.report.guardrails:no_such_rule", "earnest.no_such_module:x"),
        ("tests/unit/report/test_guardrails.py::test_no_such_test",),
        "docs/report.md",
    )
    assert problems([bare, gone]) == [
        "bare: no enforcing code",
        "bare: no test",
        "gone: earnest.report.guardrails:no_such_rule: earnest.report.guardrails has no "
        "no_such_rule",
        "gone: earnest.no_such_module:x: module earnest.no_such_module cannot be imported "
        "(No module named 'earnest.no_such_module')",
    ]
    assert missing_tests(gone.tests) == list(gone.tests)


def test_every_launch_check_nightly_rule_and_decision_reason_is_in_a_guardrail() -> None:
    covered = {c for g in CATALOG for c in g.covers}
    launch_checks = set(CHECK_BY_FIELD.values())
    nightly_rules = {
        *nightly.PAUSED_BECAUSE,
        nightly.ALL_VARIANTS_PAUSED,
        nightly.UNOWNED,
        nightly.REVIEW_OVERDUE,
        nightly.ENDED,
    }
    assert launch_checks - covered == set()
    assert nightly_rules - covered == set()
    assert set(REASONS) - covered == set()


def test_ids_are_unique_and_every_stage_is_a_known_one() -> None:
    ids = [g.id for g in CATALOG]
    assert len(ids) == len(set(ids))
    assert {s for g in CATALOG for s in g.stages} <= set(STAGES)
    assert all(g.stages and g.rule and g.docs.startswith("docs/") for g in CATALOG)


def test_every_guardrail_links_to_a_heading_of_its_docs() -> None:
    for g in CATALOG:
        page, _, section = g.docs.partition("#")
        lines = (ROOT / page).read_text().splitlines()
        headings = {anchor(line.lstrip("#").strip()) for line in lines if line.startswith("#")}
        assert not section or section in headings, f"{g.id}: {g.docs} is no heading"


def test_docs_guardrails_md_is_the_catalog_as_generated() -> None:
    on_disk = (ROOT / "docs" / "guardrails.md").read_text()
    assert on_disk == markdown(), (
        "docs/guardrails.md is out of date: earnest guardrails --markdown > docs/guardrails.md"
    )
