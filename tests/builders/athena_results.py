"""moto's Athena does not run SQL: these queue the result set a query would have returned.

`result_set` writes rows (from DuckDB, running the same query over the same files) as
Athena's GetQueryResults does: a header row first, every value a string (VarCharValue),
NULL as a cell without one, and the column types in ResultSetMetadata. `queue` hands it to
moto's Athena (in-process), which gives it to the next query started.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from moto.athena.models import QueryResults, athena_backends
from moto.core import DEFAULT_ACCOUNT_ID

# The report query's columns (earnest/report/report_aggregate.sql), as Athena types them.
REPORT_COLUMNS = (
    ("section", "varchar"),
    ("experience", "varchar"),
    ("arm", "varchar"),
    ("units", "bigint"),
    ("exposures", "bigint"),
    ("conversions", "bigint"),
    ("revenue", "double"),
    ("revenue_sq", "double"),
    ("units_in_several_arms", "bigint"),
    ("revenue_capped", "double"),
    ("revenue_capped_sq", "double"),
    ("revenue_cap", "double"),
    ("pre_conversions", "bigint"),
    ("pre_conversions_both", "bigint"),
    ("pre_revenue", "double"),
    ("pre_revenue_sq", "double"),
    ("pre_revenue_product", "double"),
    ("name", "varchar"),
)


def _cell(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"VarCharValue": "true" if value else "false"}
    if isinstance(value, float):
        return {"VarCharValue": repr(value)}
    return {"VarCharValue": str(value)}


def result_set(
    rows: Iterable[Sequence[Any]], columns: Sequence[tuple[str, str]] = REPORT_COLUMNS
) -> QueryResults:
    header = {"Data": [{"VarCharValue": name} for name, _ in columns]}
    data = [{"Data": [_cell(v) for v in row]} for row in rows]
    info = [
        {"Name": name, "Label": name, "Type": kind, "Nullable": "UNKNOWN"} for name, kind in columns
    ]
    return QueryResults(rows=[header, *data], column_info=info)


def backend(region: str = "us-east-1") -> Any:
    return athena_backends[DEFAULT_ACCOUNT_ID][region]


def queue(results: QueryResults, region: str = "us-east-1") -> None:
    backend(region).query_results_queue.append(results)
