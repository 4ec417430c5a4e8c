"""moto's Athena does not run SQL: these queue the result set a query would have returned.

`result_set` writes rows (from DuckDB, running the same query over the same files) as
Athena's GetQueryResults does: a header row first, every value a string (VarCharValue),
NULL as a cell without one, and the column types in ResultSetMetadata. `queue` hands it to
moto's Athena (in-process), which gives it to the next query started.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from moto.athena.models import QueryResults, athena_backends
from moto.core import DEFAULT_ACCOUNT_ID

_TYPES = {bool: "boolean", int: "bigint", float: "double", str: "varchar"}


def columns_of(rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """The rows' columns, in order, each typed by its first non-NULL value (as the query
    typed it); a column NULL in every row reads as varchar."""
    names = list(rows[0]) if rows else []
    return [
        (name, next((_TYPES[type(r[name])] for r in rows if r[name] is not None), "varchar"))
        for name in names
    ]


def _cell(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"VarCharValue": "true" if value else "false"}
    if isinstance(value, float):
        return {"VarCharValue": repr(value)}
    return {"VarCharValue": str(value)}


def result_set(rows: Sequence[Mapping[str, Any]]) -> QueryResults:
    """`rows` (each by column name, as DuckDB's runner gives them) as Athena returns them."""
    columns = columns_of(rows)
    header = {"Data": [{"VarCharValue": name} for name, _ in columns]}
    data = [{"Data": [_cell(row[name]) for name, _ in columns]} for row in rows]
    info = [
        {"Name": name, "Label": name, "Type": kind, "Nullable": "UNKNOWN"} for name, kind in columns
    ]
    return QueryResults(rows=[header, *data], column_info=info)


def backend(region: str = "us-east-1") -> Any:
    return athena_backends[DEFAULT_ACCOUNT_ID][region]


def queue(results: QueryResults, region: str = "us-east-1") -> None:
    backend(region).query_results_queue.append(results)
