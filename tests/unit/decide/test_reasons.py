"""Decision reasons are declared once (earnest.decide.reasons) and read from there.

The engine answers only declared reasons, explain and the report's two paths take their
meaning from the declarations, and the report's SQL names no reason of its own: the query
gets every reason it reads from the registry.
"""

from __future__ import annotations

import re

from earnest.decide import reasons
from earnest.decide.engine import Engine
from earnest.report import sql as report_sql
from earnest.report.totals import Attribution
from tests.builders.experiences import experience, request


def test_the_engine_answers_only_declared_reasons_and_serves_no_variant_for_a_default_one() -> None:
    engine = Engine([experience(holdout=0.3)], global_holdout=0.2)
    consent = {"personalization": "granted", "measurement": "granted"}
    seen = {}
    for i in range(400):
        decision = engine.decide(request(f"u-{i}"), consent)["decisions"]["home-hero"]
        seen[decision["reason"]] = decision
    assert set(seen) <= set(reasons.REASONS)
    assert {reasons.PERSONALIZED, reasons.HOLDOUT, reasons.GLOBAL_HOLDOUT} <= set(seen)
    for name, decision in seen.items():  # a default reason serves no variant
        assert (decision["variant"] is None) == (name in reasons.DEFAULT_REASONS)


def test_the_reports_sql_names_no_reason_of_its_own() -> None:
    template = report_sql.SQL_PATH.read_text()
    quoted = set(re.findall(r"'([a-z_]+)'", template))
    assert quoted & set(reasons.REASONS) == set()
    query = report_sql.render("2026-11-01", "2026-11-20", {"hero": Attribution(7)})
    assert "IN ('holdout', 'personalized')" in query  # an experience's own arms
    assert "IN ('global_holdout', 'holdout', 'personalized')" in query  # the program's units


def test_the_reports_meaning_of_each_reason_is_declared() -> None:
    # an experience's arms are in the program; what is not exposed is never counted
    assert reasons.ARM_REASONS <= reasons.PROGRAM_REASONS
    unexposed = {r.name for r in reasons.DECLARED if not r.exposed}
    assert unexposed == {"no_live_experience", "unknown_placement", "rules_unavailable"}
    assert not unexposed & (reasons.PROGRAM_REASONS | set(reasons.DEFAULT_REASONS))
    assert reasons.LOWER_PRIORITY not in reasons.REASONS  # explain's word, never an answer
