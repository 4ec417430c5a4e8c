"""The report's query runner on DuckDB: the stand-in for Athena, over the same stored files.

Implements earnest.report.sources.QueryRunner. The gzip NDJSON objects sit in a folder
laid out as in S3 (events/dt=…/hour=…/), read as a view named like the Glue table, with
the Glue table's columns and types taken from template.yaml (written once, there). Used by
the tests (tests/e2e/test_report_sql.py, tests/integration/test_report_sources.py) and by
bench/bench_report_sql.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from earnest_cli.template import load_template

GLUE_TO_DUCKDB = {"string": "VARCHAR", "double": "DOUBLE", "bigint": "BIGINT"}


def glue_columns() -> dict[str, str]:
    """The events table's columns (partition keys aside) as DuckDB types."""
    table = load_template()["Resources"]["EventsTable"]["Properties"]["TableInput"]
    return {c["Name"]: GLUE_TO_DUCKDB[c["Type"]] for c in table["StorageDescriptor"]["Columns"]}


class DuckDBQueries:
    """Runs each query in a fresh DuckDB connection over the events under `root`."""

    def __init__(self, root: Path, table: str = "earnest_events", threads: int = 2) -> None:
        self.root = root
        self.table = table
        self.threads = threads

    def rows(self, query: str) -> Iterable[dict[str, Any]]:
        import duckdb  # a dev dependency only: imported where a test or the bench runs it

        columns = "{" + ", ".join(f"{k}: '{v}'" for k, v in glue_columns().items()) + "}"
        con = duckdb.connect()
        try:
            con.execute(f"SET threads = {int(self.threads)}")
            con.execute(
                f"CREATE VIEW {self.table} AS SELECT * FROM read_json("
                f"'{self.root}/events/*/*/*.ndjson.gz', format = 'newline_delimited', "
                f"hive_partitioning = true, hive_types_autocast = false, columns = {columns}, "
                # Athena's "$path" pseudo-column: the object each row was read from
                "filename = '$path')"
            )
            result = con.execute(query)
            names = [column[0] for column in result.description]
            return [dict(zip(names, row, strict=True)) for row in result.fetchall()]
        finally:
            con.close()
