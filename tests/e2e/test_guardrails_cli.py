"""`earnest guardrails` as an auditor runs it: the catalog in words, as JSON, and checked."""

from __future__ import annotations

import json

from earnest.program.guardrails_catalog import CATALOG
from tests.builders.stack import earnest


def test_the_catalog_prints_every_guardrail_with_its_code_and_tests_and_checks_out() -> None:
    result = earnest("guardrails", "--check")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{len(CATALOG)} guardrails")
    assert "consent checked at serve time  [decide]" in result.stdout.lower()
    assert "earnest.report.guardrails.actions" in result.stdout
    assert "tests/unit/report/test_guardrails.py::test_a_variant_that_loses" in result.stdout
    assert "checked: all" in result.stderr


def test_the_json_holds_each_guardrail_with_where_it_is_enforced() -> None:
    result = earnest("guardrails", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["schema"] == "earnest.guardrails/1"
    by_id = {g["id"]: g for g in doc["guardrails"]}
    assert len(by_id) == len(CATALOG)
    assert by_id["fail_closed"]["stages"] == ["decide", "events"]
    assert "earnest.decide.service:stored_consent" in by_id["fail_closed"]["enforced_by"]
    assert all(g["enforced_by"] and g["tests"] for g in doc["guardrails"])
