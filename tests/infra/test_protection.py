"""The stack protects itself: concurrency, alarms a person hears, a schedule that retries and
dead-letters, logs that expire, no tracing promised without a Tracer, an alias per deploy,
and a front door the edge can use."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from earnest_cli.template import ROOT, load_template

TEMPLATE: dict[str, Any] = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
FUNCTIONS = {k: v for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"}
ALARMS = [v["Properties"] for v in RESOURCES.values() if v["Type"] == "AWS::CloudWatch::Alarm"]
GLOBALS = TEMPLATE["Globals"]["Function"]


def props(logical_id: str) -> dict[str, Any]:
    return dict(RESOURCES[logical_id]["Properties"])


def test_decide_keeps_its_own_concurrency_and_the_public_functions_are_capped() -> None:
    assert props("DecideFunction")["ReservedConcurrentExecutions"] == [
        "ReserveDecide",
        "DecideReservedConcurrency",
        "AWS::NoValue",
    ]
    for name in ("RecordExposureFunction", "ConsentUpdateFunction"):
        cap = props(name)["ReservedConcurrentExecutions"]
        assert cap == ["CapPublic", "PublicFunctionConcurrency", "AWS::NoValue"], name


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
@pytest.mark.parametrize("metric", ["Errors", "Throttles", "Duration"])
def test_every_function_alarms_on_errors_throttles_and_p99_duration(
    logical_id: str, metric: str
) -> None:
    [alarm] = [
        a
        for a in ALARMS
        if a["Namespace"] == "AWS/Lambda"
        and a["MetricName"] == metric
        and a["Dimensions"] == [{"Name": "FunctionName", "Value": logical_id}]
    ]
    assert alarm["AlarmActions"] == ["AlertsTopic"]
    if metric == "Duration":
        assert alarm["ExtendedStatistic"] == "p99"
        timeout_ms = 1000 * int(props(logical_id).get("Timeout", GLOBALS["Timeout"]))
        assert alarm["Threshold"] < timeout_ms  # it fires before the function times out


def test_a_failed_or_missing_nightly_run_reaches_a_person() -> None:
    nightly = props("NightlyReportFunction")
    schedule = nightly["Events"]["Nightly"]["Properties"]
    assert schedule["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert schedule["DeadLetterConfig"]["Arn"] == "NightlyReportDeadLetterQueue.Arn"
    assert nightly["DeadLetterQueue"]["TargetArn"] == "NightlyReportDeadLetterQueue.Arn"
    assert nightly["EventInvokeConfig"]["MaximumRetryAttempts"] == 2
    watched = {(a["Namespace"], a["MetricName"]): a for a in ALARMS}
    dead = watched[("AWS/SQS", "ApproximateNumberOfMessagesVisible")]
    assert dead["Dimensions"][0]["Value"] == "NightlyReportDeadLetterQueue.QueueName"
    missing = watched[("AWS/Lambda", "Invocations")]
    assert missing["TreatMissingData"] == "breaching"  # no run at all is the failure
    policy = props("NightlyReportDeadLetterQueuePolicy")["PolicyDocument"]["Statement"][0]
    assert policy["Principal"] == {"Service": "events.amazonaws.com"}


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_function_logs_to_a_group_that_expires(logical_id: str) -> None:
    group = props(props(logical_id)["LoggingConfig"]["LogGroup"])
    assert group["RetentionInDays"] == "LogRetentionDays"
    name = props(logical_id)["FunctionName"].replace("earnest-", "/aws/lambda/earnest-")
    assert group["LogGroupName"] == name


def test_no_tracing_is_promised_without_a_tracer_and_each_deploy_is_an_alias() -> None:
    sources = "".join(p.read_text() for p in (ROOT / "functions").glob("*/app.py"))
    assert "Tracer" not in sources
    assert "Tracing" not in GLOBALS
    assert not any("Tracing" in f["Properties"] for f in FUNCTIONS.values())
    assert GLOBALS["AutoPublishAlias"] == "live"


def test_snapstart_for_decide_is_a_parameter() -> None:
    assert props("DecideFunction")["SnapStart"]["ApplyOn"] == [
        "SnapStartDecide",
        "PublishedVersions",
        "None",
    ]
    assert TEMPLATE["Parameters"]["DecideSnapStart"]["Default"] == "false"


def test_cloudfront_signs_for_events_with_origin_access_control() -> None:
    assert TEMPLATE["Parameters"]["FrontDoor"]["AllowedValues"] == ["cloudfront", "header"]
    oac = props("EdgeOriginAccessControl")["OriginAccessControlConfig"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningProtocol"]) == ("lambda", "sigv4")
    assert oac["SigningBehavior"] == "always"
    for name in ("DecideFunction", "RecordExposureFunction"):
        assert props(name)["FunctionUrlConfig"]["AuthType"] == ["UseCloudFront", "AWS_IAM", "NONE"]
        edge = props(name.replace("Function", "UrlFromEdgePrincipal"))
        assert (edge["Action"], edge["Principal"]) == (
            "lambda:InvokeFunctionUrl",
            "EdgePrincipalArn",
        )
        # AWS also wants lambda:InvokeFunction, allowed only by way of the Function URL.
        invoke = props(name.replace("Function", "InvokeFromEdgePrincipal"))
        assert (invoke["Action"], invoke["Principal"]) == (
            "lambda:InvokeFunction",
            "EdgePrincipalArn",
        )
        assert invoke["InvokedViaFunctionUrl"] is True
    grant = props("RecordExposureUrlFromCloudFront")
    assert (grant["Action"], grant["Principal"]) == (
        "lambda:InvokeFunctionUrl",
        "cloudfront.amazonaws.com",
    )
    assert "distribution/${EdgeDistribution}" in grant["SourceArn"]
    assert props("ConsentUpdateFunction")["FunctionUrlConfig"]["AuthType"] == "NONE"


def _grants_on(function: str) -> list[dict[str, Any]]:
    return [
        r["Properties"]
        for r in RESOURCES.values()
        if r["Type"] == "AWS::Lambda::Permission"
        and r["Properties"]["FunctionName"] == f"{function}.Alias"
    ]


def test_decide_is_no_oracle_the_public_distribution_serves_events_only() -> None:
    """Issue 17: a browser could POST /decide through the distribution with any user_id and
    identity_confidence 1 and read saved-group membership and stored withdrawals. Now no
    origin, behaviour or grant lets the distribution reach decide; decide answers only the
    edge's SigV4 (cloudfront) or the shared secret (header)."""
    config = props("EdgeDistribution")["DistributionConfig"]
    assert [o["Id"] for o in config["Origins"]] == ["events"]
    assert all("DecideFunctionUrl" not in str(o) for o in config["Origins"])
    assert [(b["PathPattern"], b["TargetOriginId"]) for b in config["CacheBehaviors"]] == [
        ("/events", "events")
    ]
    [not_found] = config["DefaultCacheBehavior"]["FunctionAssociations"]
    assert not_found["EventType"] == "viewer-request"
    assert not_found["FunctionARN"] == "EdgeNotFound.FunctionMetadata.FunctionARN"
    for grant in _grants_on("DecideFunction"):
        assert grant["Principal"] in ("EdgePrincipalArn", "*"), grant
        if grant["Principal"] == "*":  # FrontDoor=header: the handler checks the secret first
            assert props("DecideFunction")["Environment"]["Variables"]["FRONT_DOOR_SECRET_PARAM"]
    # cloudfront without an edge principal would leave decide answering nobody: refused.
    [rule] = TEMPLATE["Rules"].values()
    assert rule["RuleCondition"] == ["FrontDoor", "cloudfront"]  # !Equals [!Ref FrontDoor, …]
    assert "EdgePrincipalArn" in str(rule["Assertions"])


def test_the_distribution_answers_404_to_every_path_but_events() -> None:
    """The viewer-request function, run as CloudFront runs it (plain JS, one handler)."""
    code = props("EdgeNotFound")["FunctionCode"]
    assert props("EdgeNotFound")["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    node = shutil.which("node")
    assert node, "node runs the CloudFront function (make test installs it)"
    script = code + (
        "\nfor (const uri of ['/decide', '/', '/decide/x', '/anything']) "
        "console.log(JSON.stringify(handler({request: {method: 'POST', uri}})));"
    )
    out = subprocess.run([node, "-e", script], capture_output=True, text=True, check=True)
    answers = [json.loads(line) for line in out.stdout.splitlines()]
    assert [a["statusCode"] for a in answers] == [404, 404, 404, 404]


def test_the_header_front_door_opens_the_urls_and_names_its_secret_only_when_chosen() -> None:
    for name in ("DecideFunction", "RecordExposureFunction"):
        variable = props(name)["Environment"]["Variables"]["FRONT_DOOR_SECRET_PARAM"]
        assert variable == ["UseHeader", "FrontDoorSecretParameter", "AWS::NoValue"]
        # SAM opens a URL only for a literal AuthType NONE; this one is chosen by a condition.
        url = RESOURCES[name.replace("Function", "UrlPublic")]
        invoke = RESOURCES[name.replace("Function", "UrlPublicInvoke")]
        assert url["Condition"] == invoke["Condition"] == "UseHeader"
        public = (url["Properties"]["Principal"], url["Properties"]["FunctionUrlAuthType"])
        assert public == ("*", "NONE")
        assert invoke["Properties"]["InvokedViaFunctionUrl"] is True


def test_the_optional_waf_rate_limits_events_per_ip() -> None:
    acl = RESOURCES["EdgeWebAcl"]
    assert acl["Condition"] == "CreateWaf"
    [rule] = acl["Properties"]["Rules"]
    rate = rule["Statement"]["RateBasedStatement"]
    assert (rate["Limit"], rate["AggregateKeyType"]) == ("RateLimitPer5Minutes", "IP")
    assert rate["ScopeDownStatement"]["ByteMatchStatement"]["SearchString"] == "/events"
    assert "Block" in rule["Action"]
