"""Athena: run one query, wait for it within a deadline, page through its rows.

The nightly report's SQL path (earnest.report.sources.Queried, docs/report.md "Scale")
hands this runner the query of earnest.report.sql; the rows come back typed by the result
set's column types (bigint -> int, double -> float, NULL -> None), each row by column name,
so `earnest.report.sql.totals_from_rows` reads them as it reads DuckDB's.

Waiting is bounded: polls back off exponentially (0.25 s doubling to 5 s) and stop at a
total deadline (REPORT_ATHENA_TIMEOUT_SECONDS, within the function's timeout); a query still
running then is stopped, so no scan is left running and billed. Every AWS fault leaves as
`Unavailable` through earnest_aws.aws_errors.translated; a query Athena failed or cancelled
leaves as `Unavailable` with Athena's reason. Either way the run fails and Lambda retries.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from earnest.errors import Unavailable
from earnest_aws.aws_errors import translated
from earnest_aws.clients import client
from earnest_aws.settings import Env, athena_options

# Athena's own limit on a query's text (StartQueryExecution: 262,144 bytes).
MAX_QUERY_BYTES = 262_144
FIRST_WAIT_SECONDS = 0.25
LONGEST_WAIT_SECONDS = 5.0
PAGE_ROWS = 1000  # GetQueryResults' largest page
DONE = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
_INTEGER = frozenset({"tinyint", "smallint", "integer", "int", "bigint"})
_REAL = frozenset({"double", "real", "float", "decimal"})


@dataclass(frozen=True)
class AthenaSettings:
    """Where the query runs, and how long it may take (REPORT_ATHENA_*, docs/report.md)."""

    workgroup: str
    database: str
    table: str = "events"
    output: str = ""  # s3://bucket/prefix/ for results; "" = the workgroup's own
    timeout_seconds: float = 600.0

    @classmethod
    def from_env(cls, read: Env) -> AthenaSettings:
        return cls(**athena_options(read))  # declared in earnest_aws.settings

    @property
    def events_table(self) -> str:
        return f"{self.database}.{self.table}"


def _value(cell: Mapping[str, Any], kind: str) -> Any:
    raw = cell.get("VarCharValue")
    if raw is None:
        return None
    if kind in _INTEGER:
        return int(raw)
    if kind in _REAL:
        return float(raw)
    if kind == "boolean":
        return raw == "true"
    return raw


class AthenaQueries:
    """Runs a query in one workgroup and yields its rows (the header row left out)."""

    def __init__(
        self,
        settings: AthenaSettings,
        athena: Any = None,  # a botocore Athena client (boto3-stubs' athena extra is not locked)
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_event: Callable[[str, Mapping[str, Any]], None] = lambda name, fields: None,
    ) -> None:
        self.settings = settings
        self.athena = athena or client("athena")
        self._sleep = sleep
        self._clock = clock
        self._on_event = on_event  # "athena query finished": its id and what it scanned

    def rows(self, query: str) -> Iterator[dict[str, Any]]:
        if len(query.encode()) > MAX_QUERY_BYTES:
            raise Unavailable(
                f"the report's query is {len(query.encode()):,} bytes, past Athena's "
                f"{MAX_QUERY_BYTES:,} (too many erased subjects inline: docs/report.md)"
            )
        execution = self._start(query)
        self._wait(execution)
        yield from self._results(execution)

    def _start(self, query: str) -> str:
        kwargs: dict[str, Any] = {
            "QueryString": query,
            "WorkGroup": self.settings.workgroup,
            "QueryExecutionContext": {"Database": self.settings.database},
        }
        if self.settings.output:
            kwargs["ResultConfiguration"] = {"OutputLocation": self.settings.output}
        with translated("the report's Athena query cannot be started"):
            return str(self.athena.start_query_execution(**kwargs)["QueryExecutionId"])

    def _state(self, execution: str) -> tuple[str, str]:
        with translated("the report's Athena query cannot be read"):
            status = self.athena.get_query_execution(QueryExecutionId=execution)
        state = status["QueryExecution"]["Status"]
        if state["State"] in DONE:
            stats = status["QueryExecution"].get("Statistics", {})
            self._on_event(
                "athena query finished",
                {
                    "query_execution_id": execution,
                    "state": state["State"],
                    # what Athena bills: the cost of tonight's report
                    "data_scanned_bytes": stats.get("DataScannedInBytes", 0),
                    "engine_execution_ms": stats.get("EngineExecutionTimeInMillis", 0),
                },
            )
        return str(state["State"]), str(state.get("StateChangeReason", ""))

    def _wait(self, execution: str) -> None:
        timeout = self.settings.timeout_seconds
        deadline = self._clock() + timeout
        pause = FIRST_WAIT_SECONDS
        while True:
            state, reason = self._state(execution)
            if state == "SUCCEEDED":
                return
            if state in DONE:
                raise Unavailable(f"the report's Athena query {state.lower()}: {reason}")
            left = deadline - self._clock()
            if left <= 0:
                self._stop(execution)
                raise Unavailable(
                    f"the report's Athena query did not finish within {timeout:g} s; stopped it"
                )
            self._sleep(min(pause, left))
            pause = min(pause * 2, LONGEST_WAIT_SECONDS)

    def _stop(self, execution: str) -> None:
        with translated("the report's Athena query cannot be stopped"):
            self.athena.stop_query_execution(QueryExecutionId=execution)

    def _results(self, execution: str) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {"QueryExecutionId": execution, "MaxResults": PAGE_ROWS}
        header = True
        while True:
            with translated("the report's Athena results cannot be read"):
                page = self.athena.get_query_results(**kwargs)
            result = page["ResultSet"]
            columns = result.get("ResultSetMetadata", {}).get("ColumnInfo", [])
            for row in result.get("Rows", [])[1 if header else 0 :]:
                yield {
                    c["Name"]: _value(cell, c["Type"])
                    for cell, c in zip(row["Data"], columns, strict=True)
                }
            header = False
            token = page.get("NextToken")
            if not token:
                return
            kwargs["NextToken"] = token
