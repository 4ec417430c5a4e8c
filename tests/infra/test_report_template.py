"""nightly-report in the template: scheduled daily, and allowed only what a run uses."""

from __future__ import annotations

from typing import Any

from earnest_cli.template import load_template
from tests.builders.policies import statements as policy_statements

TEMPLATE: dict[str, Any] = load_template()
FUNCTION = TEMPLATE["Resources"]["NightlyReportFunction"]["Properties"]


ATHENA = "ReportInAthena"  # the condition: ReportAggregation=athena


def statements(conditions: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    return policy_statements(TEMPLATE["Resources"]["NightlyReportFunction"], conditions)


def grants(conditions: frozenset[str] = frozenset()) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for statement in statements(conditions):
        assert statement["Effect"] == "Allow"
        resources = statement["Resource"]
        for resource in resources if isinstance(resources, list) else [resources]:
            for action in statement["Action"]:
                out.add((action, str(resource)))
    return out


def test_it_runs_daily_on_a_schedule() -> None:
    (event,) = FUNCTION["Events"].values()
    assert event["Type"] == "Schedule"
    expression = event["Properties"]["Schedule"]
    assert expression.startswith("cron(") and expression.split()[2:4] == ["*", "*"]
    assert FUNCTION["CodeUri"] == "functions/nightly_report/"
    assert FUNCTION["Handler"] == "app.handler"


def test_it_has_the_time_and_memory_a_night_of_events_needs() -> None:
    assert FUNCTION["Timeout"] == 900  # Lambda's maximum: the window is read in one run
    assert FUNCTION["MemorySize"] >= 2048  # per-unit state of the window's units
    assert "FunctionUrlConfig" not in FUNCTION  # nothing calls it but the schedule


def test_it_may_read_events_and_reports_and_write_only_reports_and_the_edge_bundle() -> None:
    assert grants() == {
        ("s3:ListBucket", "DataBucket.Arn"),
        ("s3:GetObject", "${DataBucket.Arn}/events/*"),
        ("s3:GetObject", "${DataBucket.Arn}/reports/*"),
        ("s3:PutObject", "${DataBucket.Arn}/reports/*"),
        ("s3:PutObject", "${DataBucket.Arn}/edge/bundle.json"),
        ("dynamodb:Scan", "ExperiencesTable.Arn"),
        ("dynamodb:GetItem", "ExperiencesTable.Arn"),
        ("dynamodb:Query", "ExperiencesTable.Arn"),
        ("dynamodb:PutItem", "ExperiencesTable.Arn"),
        ("dynamodb:Query", "${ConsentTable.Arn}/index/erased"),
    }


def test_listing_is_limited_to_events_and_reports() -> None:
    (listing,) = [s for s in statements() if "s3:ListBucket" in s["Action"]]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["events/*", "reports/*"]}}


def test_experience_writes_only_happen_inside_the_audited_transaction() -> None:
    (put,) = [s for s in statements() if "dynamodb:PutItem" in s["Action"]]
    assert put["Action"] == ["dynamodb:PutItem"]
    assert put["Condition"] == {
        "ForAnyValue:StringEquals": {"dynamodb:EnclosingOperation": ["TransactWriteItems"]}
    }


def test_consent_is_read_only_through_the_erased_index() -> None:
    consent = {r for a, r in grants() if "Consent" in r}
    assert consent == {"${ConsentTable.Arn}/index/erased"}


def test_with_athena_it_may_also_query_in_its_workgroup_and_nothing_else() -> None:
    workgroup = "arn:${AWS::Partition}:athena:${AWS::Region}:${AWS::AccountId}:workgroup/"
    glue = "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:"
    tables = [f"{glue}catalog", f"{glue}database/${{EventsDatabase}}"]
    tables.append(f"{glue}table/${{EventsDatabase}}/${{EventsTable}}")
    results = "${DataBucket.Arn}/athena-results/*"
    assert grants(frozenset({ATHENA})) - grants() == {
        *{
            (f"athena:{a}QueryExecution", workgroup + "${ReportWorkGroup}")
            for a in ("Start", "Get", "Stop")
        },
        ("athena:GetQueryResults", workgroup + "${ReportWorkGroup}"),
        *{(f"glue:{a}", t) for a in ("GetDatabase", "GetTable", "GetPartitions") for t in tables},
        ("s3:GetBucketLocation", "DataBucket.Arn"),
        ("s3:ListBucketMultipartUploads", "DataBucket.Arn"),
        ("s3:GetObject", results),
        ("s3:PutObject", results),
        ("s3:AbortMultipartUpload", results),
        ("s3:ListMultipartUploadParts", results),
    }
    listings = [s for s in statements(frozenset({ATHENA})) if "s3:ListBucket" in s["Action"]]
    prefixes = sorted(p for s in listings for p in s["Condition"]["StringLike"]["s3:prefix"])
    assert prefixes == ["athena-results/*", "events/*", "reports/*"]


def test_the_workgroup_exists_only_with_athena_and_bounds_what_a_query_may_do() -> None:
    resource = TEMPLATE["Resources"]["ReportWorkGroup"]
    assert resource["Condition"] == ATHENA
    config = resource["Properties"]["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True  # no caller moves the results
    assert config["BytesScannedCutoffPerQuery"] == "ReportAthenaBytesScannedCutoff"
    assert config["ResultConfiguration"]["OutputLocation"] == "s3://${DataBucket}/athena-results/"
    rules = TEMPLATE["Resources"]["DataBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    (expiry,) = [r for r in rules if r["Prefix"] == "athena-results/"]
    assert expiry["ExpirationInDays"] <= 7


def test_the_run_is_told_where_to_query_and_gives_up_before_its_own_timeout() -> None:
    env = FUNCTION["Environment"]["Variables"]
    assert env["REPORT_AGGREGATION"] == "ReportAggregation"
    assert TEMPLATE["Parameters"]["ReportAggregation"]["AllowedValues"] == ["python", "athena"]
    assert TEMPLATE["Parameters"]["ReportAggregation"]["Default"] == "python"
    assert env["REPORT_ATHENA_WORKGROUP"] == [ATHENA, "ReportWorkGroup", "AWS::NoValue"]
    assert (env["REPORT_ATHENA_DATABASE"], env["REPORT_ATHENA_TABLE"]) == (
        "EventsDatabase",
        "EventsTable",
    )
    assert env["REPORT_ATHENA_OUTPUT"] == "s3://${DataBucket}/athena-results/"
    # a minute and more left to build and write the report after the longest wait
    assert int(env["REPORT_ATHENA_TIMEOUT_SECONDS"]) <= FUNCTION["Timeout"] - 60
