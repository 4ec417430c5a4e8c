"""nightly-report in the template: scheduled daily, and allowed only what a run uses."""

from __future__ import annotations

from typing import Any

from earnest_cli.template import load_template

TEMPLATE: dict[str, Any] = load_template()
FUNCTION = TEMPLATE["Resources"]["NightlyReportFunction"]["Properties"]


def statements() -> list[dict[str, Any]]:
    return [s for p in FUNCTION["Policies"] for s in p["Statement"]]


def grants() -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for statement in statements():
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


def test_it_may_read_events_and_reports_and_write_only_reports() -> None:
    assert grants() == {
        ("s3:ListBucket", "DataBucket.Arn"),
        ("s3:GetObject", "${DataBucket.Arn}/events/*"),
        ("s3:GetObject", "${DataBucket.Arn}/reports/*"),
        ("s3:PutObject", "${DataBucket.Arn}/reports/*"),
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
