"""The report's query runner on DuckDB: the stand-in for Athena, over the same stored files.

Implements earnest.report.sources.QueryRunner. The gzip NDJSON objects sit in a folder
laid out as in S3 (events/dt=…/hour=…/), read as a view named like the Glue table, with
the Glue table's columns and types taken from template.yaml (written once, there). Used by
the tests (tests/integration/test_report_sql.py, tests/integration/test_report_sources.py) and by
bench/bench_report_sql.py.

Memory is bounded the way the nightly run's is: by the function's configured memory
(the template's `MemorySize` of NightlyReportFunction unless given), of which DuckDB may
hold `MEMORY_SHARE` (the rest is the interpreter's, the results' and what DuckDB allocates
outside its buffer pool); past it DuckDB spills to a temporary folder, removed after each
query. Without a limit DuckDB takes 80 % of the machine's memory and never spills, so its
peak grew with the events (docs/report.md, "Scale").
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from earnest_cli.template import load_template

GLUE_TO_DUCKDB = {
    "string": "VARCHAR",
    "double": "DOUBLE",
    "bigint": "BIGINT",
    "map<string,string>": "MAP(VARCHAR, VARCHAR)",
}
MEMORY_SHARE = 0.5


def glue_columns() -> dict[str, str]:
    """The events table's columns (partition keys aside) as DuckDB types."""
    table = load_template()["Resources"]["EventsTable"]["Properties"]["TableInput"]
    return {c["Name"]: GLUE_TO_DUCKDB[c["Type"]] for c in table["StorageDescriptor"]["Columns"]}


def configured_memory_mb() -> int:
    """The nightly report function's memory, as template.yaml configures it (MB)."""
    return int(load_template()["Resources"]["NightlyReportFunction"]["Properties"]["MemorySize"])


def memory_limit_mb(memory_mb: int) -> int:
    """What DuckDB may hold of a function configured with `memory_mb`."""
    return int(memory_mb * MEMORY_SHARE)


class DuckDBQueries:
    """Runs each query in a fresh DuckDB connection over the events under `root`."""

    def __init__(
        self,
        root: Path,
        table: str = "earnest_events",
        threads: int = 2,
        memory_mb: int | None = None,
    ) -> None:
        self.root = root
        self.table = table
        self.threads = threads
        self.memory_mb = memory_mb or configured_memory_mb()

    def rows(self, query: str) -> Iterable[dict[str, Any]]:
        import duckdb  # a dev dependency only: imported where a test or the bench runs it

        columns = "{" + ", ".join(f"{k}: '{v}'" for k, v in glue_columns().items()) + "}"
        spill = tempfile.mkdtemp(prefix="earnest-duckdb-spill-")
        con = duckdb.connect()
        try:
            con.execute(f"SET threads = {int(self.threads)}")
            con.execute(f"SET memory_limit = '{memory_limit_mb(self.memory_mb)}MB'")
            con.execute("SET temp_directory = ?", [spill])
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
            shutil.rmtree(spill, ignore_errors=True)
