"""The measurement plan's defaults, declared once where the plan is (the authored document).

The report reads them from here (`earnest.report.stats`, `earnest.report.totals`), so
the experiences package never imports the report: the report depends on experiences, not
the other way round (tests/unit/test_import_graph.py). Pure constants.
"""

from __future__ import annotations

# A guardrail metric's non-inferiority margin when the plan names none (docs/experiences.md).
GUARDRAIL_MARGIN = 0.02
# Each unit's revenue is capped at this percentile of the units' positive revenues, pooled
# over the arms (docs/statistics.md, "Revenue that survives outliers").
DEFAULT_CAP_PERCENTILE = 0.99
