"""The report's Athena adapter against moto's Athena: it starts the query in the configured
workgroup, polls with bounded backoff, pages through the results into the same totals,
stops a query that outlives its deadline, and turns every failure into one retryable error.

moto's Athena does not run SQL: the result set it returns is the one DuckDB computes from
the same query over the same files (tests.builders.athena_results)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from earnest.errors import Unavailable
from earnest.report import sql as report_sql
from earnest.report.plan import tracked
from earnest.report.sources import Queried
from earnest.report.window import Window
from earnest_aws.athena import AthenaQueries, AthenaSettings
from earnest_aws.clients import client
from earnest_aws.nightly_report import ReportOptions, stores_from_settings
from earnest_aws.settings import ConfigError
from tests.builders.athena_results import backend, queue, result_set
from tests.builders.duckdb_queries import DuckDBQueries
from tests.builders.experiences import experience
from tests.builders.faults import Clock, Hung
from tests.builders.report_events import simulate, write_files

pytest.importorskip("duckdb")

DAY = date(2026, 11, 20)
WINDOW = Window(DAY, 28)
SETTINGS = AthenaSettings(
    workgroup="earnest-report-test",
    database="earnest_test",
    output="s3://earnest-data/athena-results/",
    timeout_seconds=60,
)
DOC = experience(
    id="hero",
    placement="home",
    audience={},
    holdout=0.5,
    variants=[{"id": "b", "weight": 1, "content": {}}],
)
TRACKED = tracked([DOC])


@pytest.fixture
def athena(aws: Any) -> Iterator[Any]:
    from moto.moto_api import state_manager

    athena = client("athena")
    athena.create_work_group(Name=SETTINGS.workgroup, Configuration={})
    yield athena
    state_manager.unset_transition("athena::execution")


def polls_before_success(n: int) -> None:
    """moto's executions go QUEUED -> RUNNING -> SUCCEEDED, one step every `n` polls."""
    from moto.moto_api import state_manager

    state_manager.set_transition("athena::execution", {"progression": "manual", "times": n})


@pytest.fixture(scope="module")
def duckdb_rows(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """What the report's query returns on DuckDB over a day of simulated events."""
    root: Path = tmp_path_factory.mktemp("bucket")
    write_files(root, simulate([DOC], 2000, {"hero": {None: 0.1, "b": 0.14}}, DAY, days=3))
    query = report_sql.render(WINDOW.start.isoformat(), DAY.isoformat(), TRACKED)
    return list(DuckDBQueries(root).rows(query))


class Rows:
    """A runner that answers every query with the same rows."""

    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows

    def rows(self, query: str) -> list[Any]:
        return self._rows


def test_the_query_runs_in_the_workgroup_and_its_rows_give_duckdbs_totals(
    athena: Any, duckdb_rows: list[Any]
) -> None:
    # Given Athena answers with what DuckDB computed, after a few polls
    queue(result_set(duckdb_rows))
    polls_before_success(3)
    clock = Clock()
    logged: list[tuple[str, dict[str, Any]]] = []
    runner = AthenaQueries(
        SETTINGS,
        athena,
        sleep=clock.sleep,
        clock=clock,
        on_event=lambda name, fields: logged.append((name, dict(fields))),
    )
    # When the report's totals are read through Athena
    totals = Queried(runner, SETTINGS.events_table).totals(WINDOW, [DOC], set(), 7)
    # Then they are the totals DuckDB's rows give, every number typed as the query typed it
    expected = Queried(Rows(duckdb_rows)).totals(WINDOW, [DOC], set(), 7)
    assert totals == expected
    assert sum(a.units for a in totals.experiences["hero"].arms.values()) > 1000
    # and the query ran in the configured workgroup and database, against the Glue table
    (execution,) = backend().executions.values()
    assert execution.workgroup.name == SETTINGS.workgroup
    assert execution.context == {"Database": "earnest_test"}
    assert "FROM earnest_test.events e" in execution.query
    assert execution.config["OutputLocation"].startswith("s3://earnest-data/athena-results/")
    # and it waited with growing pauses, never a busy loop
    assert len(clock.sleeps) >= 3
    assert clock.sleeps == sorted(clock.sleeps) and clock.sleeps[0] == 0.25
    assert clock.sleeps[1] == 2 * clock.sleeps[0]
    # and the run's log says which query it was and what it scanned (what Athena bills)
    ((name, fields),) = logged
    assert name == "athena query finished" and fields["state"] == "SUCCEEDED"
    assert fields["query_execution_id"] == execution.id and "data_scanned_bytes" in fields


def test_a_query_past_its_deadline_is_stopped_and_the_run_fails_to_be_retried(
    athena: Any,
) -> None:
    polls_before_success(10**6)  # it never finishes
    clock = Clock()
    settings = AthenaSettings("earnest-report-test", "earnest_test", timeout_seconds=30)
    runner = AthenaQueries(settings, athena, sleep=clock.sleep, clock=clock)
    with pytest.raises(Unavailable, match="did not finish within 30 s; stopped it"):
        list(runner.rows("SELECT 1"))
    (execution,) = backend().executions.values()
    assert execution.status == "CANCELLED"  # no scan left running, and billed
    assert sum(clock.sleeps) == pytest.approx(30)
    assert max(clock.sleeps) == 5.0  # the pauses stop growing at 5 s


def test_a_query_athena_fails_fails_the_run_with_its_state(athena: Any) -> None:
    polls_before_success(10**6)
    clock = Clock()

    def fail_it(seconds: float) -> None:
        for execution in backend().executions.values():
            execution.status = "FAILED"
        clock.sleep(seconds)

    runner = AthenaQueries(SETTINGS, athena, sleep=fail_it, clock=clock)
    with pytest.raises(Unavailable, match="the report's Athena query failed"):
        list(runner.rows("SELECT 1"))
    assert clock.sleeps == [0.25]


@pytest.mark.parametrize(
    "operation", ["StartQueryExecution", "GetQueryExecution", "GetQueryResults"]
)
def test_an_athena_fault_leaves_as_one_retryable_error_naming_it(
    athena: Any, operation: str
) -> None:
    Hung(athena, operation)
    clock = Clock()
    runner = AthenaQueries(SETTINGS, athena, sleep=clock.sleep, clock=clock)
    with pytest.raises(Unavailable, match=r"the report's Athena .* \(ReadTimeoutError\)"):
        list(runner.rows("SELECT 1"))


def test_every_page_of_results_is_read_and_only_the_first_carries_the_header(aws: Any) -> None:
    # Athena pages 1,000 rows at a time (moto answers in one page: botocore's Stubber here)
    athena = client("athena")
    info = [{"Name": "n", "Type": "bigint"}, {"Name": "arm", "Type": "varchar"}]
    first = [{"Data": [{"VarCharValue": "n"}, {"VarCharValue": "arm"}]}] + [
        {"Data": [{"VarCharValue": str(i)}, {}]} for i in range(2)
    ]
    second = [{"Data": [{"VarCharValue": str(i)}, {"VarCharValue": "b"}]} for i in range(2, 4)]
    with Stubber(athena) as stub:
        stub.add_response(
            "start_query_execution",
            {"QueryExecutionId": "q1"},
            {
                "QueryString": "SELECT 1",
                "WorkGroup": "wg",
                "QueryExecutionContext": {"Database": "db"},
            },
        )
        stub.add_response(
            "get_query_execution", {"QueryExecution": {"Status": {"State": "SUCCEEDED"}}}
        )
        stub.add_response(
            "get_query_results",
            {
                "ResultSet": {"Rows": first, "ResultSetMetadata": {"ColumnInfo": info}},
                "NextToken": "p2",
            },
            {"QueryExecutionId": "q1", "MaxResults": 1000},
        )
        stub.add_response(
            "get_query_results",
            {"ResultSet": {"Rows": second, "ResultSetMetadata": {"ColumnInfo": info}}},
            {"QueryExecutionId": "q1", "MaxResults": 1000, "NextToken": "p2"},
        )
        rows = list(AthenaQueries(AthenaSettings("wg", "db"), athena).rows("SELECT 1"))
        stub.assert_no_pending_responses()
    assert rows == [{"n": 0, "arm": None}, {"n": 1, "arm": None}] + [
        {"n": n, "arm": "b"} for n in (2, 3)
    ]


def test_a_query_past_athenas_size_limit_is_refused_before_anything_runs(athena: Any) -> None:
    erased = {f"subject-{i:06d}" for i in range(20_000)}
    runner = AthenaQueries(SETTINGS, athena)
    with pytest.raises(Unavailable, match="past Athena's 262,144"):
        Queried(runner, SETTINGS.events_table).totals(WINDOW, [DOC], erased, 7)
    assert backend().executions == {}


def test_report_aggregation_athena_runs_the_report_in_the_configured_workgroup(aws: Any) -> None:
    env = {
        "REPORT_AGGREGATION": "athena",
        "REPORT_ATHENA_WORKGROUP": "earnest-report-prod",
        "REPORT_ATHENA_DATABASE": "earnest_prod",
        "REPORT_ATHENA_OUTPUT": "s3://earnest-data/athena-results/",
        "REPORT_ATHENA_TIMEOUT_SECONDS": "780",
    }
    source = stores_from_settings(aws, ReportOptions.from_env(env)).source
    assert isinstance(source, Queried) and isinstance(source.runner, AthenaQueries)
    assert source.events_table == "earnest_prod.events"
    assert source.runner.settings == AthenaSettings(
        "earnest-report-prod", "earnest_prod", "events", "s3://earnest-data/athena-results/", 780
    )
    assert not isinstance(stores_from_settings(aws).source, Queried)  # python: the default


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REPORT_AGGREGATION": "spark"}, "REPORT_AGGREGATION must be one of python, athena"),
        ({"REPORT_AGGREGATION": "athena"}, "REPORT_ATHENA_WORKGROUP must be set when"),
        (
            {"REPORT_AGGREGATION": "athena", "REPORT_ATHENA_WORKGROUP": "wg"},
            "REPORT_ATHENA_DATABASE must be set when",
        ),
        (
            {
                "REPORT_AGGREGATION": "athena",
                "REPORT_ATHENA_WORKGROUP": "wg",
                "REPORT_ATHENA_DATABASE": "db",
                "REPORT_ATHENA_TIMEOUT_SECONDS": "900",  # the function's whole timeout
            },
            r"REPORT_ATHENA_TIMEOUT_SECONDS must be within \[1, 840\]",
        ),
    ],
)
def test_a_missing_or_malformed_athena_setting_fails_the_cold_start_naming_it(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        ReportOptions.from_env(env)
