"""The CLI against a deployed stack (earnest_cli.deployed), on moto's CloudFormation and S3:
names from the stack's outputs, and the latest report opened by a presigned URL."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from earnest_aws import clients
from earnest_aws.settings import Settings, settings
from earnest_cli import deployed
from earnest_cli.main import main
from earnest_cli.template import load_template, table_definitions
from tests.conftest import FAKE_AWS_ENV

STACK = "earnest-test"


def stand_in_template() -> dict[str, Any]:
    """The stack's storage as template.yaml declares it, with the outputs of the same names
    (moto's CloudFormation does not run SAM's transform, so the functions stay out)."""
    resources: dict[str, Any] = {}
    for logical_id, table in table_definitions().items():
        name = load_template()["Resources"][logical_id]["Properties"]["TableName"]
        resources[logical_id] = {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {**table, "TableName": {"Fn::Sub": name}},
        }
    resources["DataBucket"] = {"Type": "AWS::S3::Bucket"}
    outputs = {name: {"Value": {"Ref": name.removesuffix("Name")}} for name in deployed.OUTPUTS}
    parameters = {"Stage": {"Type": "String"}, "ConsentRegime": {"Type": "String"}}
    return {"Parameters": parameters, "Resources": resources, "Outputs": outputs}


@pytest.fixture
def stack(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    for key, value in {**FAKE_AWS_ENV, "AWS_ENDPOINT_URL": moto_url}.items():
        monkeypatch.setenv(key, value)
    # Set, then removed, so that monkeypatch restores each (absent) when the test ends:
    # `--stack` writes them into this process's environment, and a variable left behind
    # would point every later test of the worker (and the local stacks it starts) at this
    # stand-in stack's names and its opt-out regime.
    for name in ("EXPERIENCES_TABLE", "CONSENT_TABLE", "EVENTS_BUCKET", "CONSENT_REGIME"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    clients.reset()
    cfn = boto3.client("cloudformation", endpoint_url=moto_url, region_name="us-east-1")
    cfn.create_stack(
        StackName=STACK,
        TemplateBody=json.dumps(stand_in_template()),
        Parameters=[
            {"ParameterKey": "Stage", "ParameterValue": "test"},
            {"ParameterKey": "ConsentRegime", "ParameterValue": "opt_out"},
        ],
    )
    yield {
        o["OutputKey"]: o["OutputValue"]
        for o in cfn.describe_stacks(StackName=STACK)["Stacks"][0]["Outputs"]
    }
    cfn.delete_stack(StackName=STACK)
    settings.cache_clear()
    clients.reset()


def test_every_output_the_cli_reads_is_one_the_template_declares() -> None:
    assert set(deployed.OUTPUTS) <= set(load_template()["Outputs"])
    assert set(deployed.PARAMETERS) <= set(load_template()["Parameters"])


def test_the_cli_reaches_the_stages_tables_not_its_local_defaults(
    stack: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    env = deployed.use_stack(STACK)

    assert (
        env["EXPERIENCES_TABLE"]
        == "earnest-experiences-test"
        != settings.__wrapped__().experiences_table.replace("-test", "")
    )  # type: ignore[attr-defined]
    assert Settings().experiences_table == "earnest-experiences"
    assert settings().consent_table == "earnest-consent-test"
    assert settings().consent_regime == "opt_out"
    assert env["EVENTS_BUCKET"] == stack["DataBucketName"]
    assert main(["list"]) == 0  # reads the stack's (empty) experiences table
    capsys.readouterr()


def test_a_missing_stack_or_a_stack_that_is_not_earnests_is_named(stack: dict[str, str]) -> None:
    with pytest.raises(deployed.StackError, match="earnest-nope"):
        deployed.stack_environment("earnest-nope")


def test_the_latest_report_opens_from_a_presigned_url(stack: dict[str, str]) -> None:
    bucket = stack["DataBucketName"]
    with pytest.raises(deployed.StackError, match="no report"):
        deployed.latest_report_url(bucket)
    page = b"<!doctype html><title>Earnest report</title>"
    clients.client("s3").put_object(Bucket=bucket, Key=deployed.REPORT_PAGE, Body=page)

    url = deployed.latest_report_url(bucket, expires_in=300)

    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url and "X-Amz-Expires=300" in url
    with urllib.request.urlopen(url, timeout=10) as response:  # a browser needs no credentials
        assert response.read() == page
        assert response.headers["content-type"] == "text/html"


def test_every_command_takes_the_stack_and_the_report_link_is_one_command(
    stack: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--stack", STACK, "list"]) == 0
    assert main(["--stack", STACK, "report-url"]) == 2  # no report yet: said, not a traceback
    assert "earnest report-url: no report" in capsys.readouterr().err
    assert main(["--stack", "earnest-nope", "list"]) == 2
    assert "earnest-nope" in capsys.readouterr().err
    page = b"<!doctype html><title>Earnest report</title>"
    clients.client("s3").put_object(
        Bucket=stack["DataBucketName"], Key=deployed.REPORT_PAGE, Body=page
    )
    assert main(["--stack", STACK, "report-url", "--expires-in", "60"]) == 0
    assert "X-Amz-Expires=60" in capsys.readouterr().out
