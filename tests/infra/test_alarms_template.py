"""Alarms in the template watch metrics the functions really emit, under their service."""

from __future__ import annotations

from typing import Any

import pytest

from earnest_cli.template import ROOT, load_template

RESOURCES: dict[str, Any] = load_template()["Resources"]
ALARMS = {  # on the metrics the functions emit themselves (Lambda's own: test_protection.py)
    k: v["Properties"]
    for k, v in RESOURCES.items()
    if v["Type"] == "AWS::CloudWatch::Alarm" and v["Properties"]["Namespace"] == "Earnest"
}
SERVICES = {
    fn["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]: fn["Properties"]
    for fn in RESOURCES.values()
    if fn["Type"] == "AWS::Serverless::Function"
}


def test_srm_consent_and_events_failures_each_raise_an_alarm() -> None:
    watched = {(a["Dimensions"][0]["Value"], a["MetricName"]) for a in ALARMS.values()}
    assert watched == {
        ("nightly-report", "report_srm_flagged"),
        ("decide", "consent_store_unavailable"),
        ("record-exposure", "events_failed"),
    }


@pytest.mark.parametrize("name", sorted(ALARMS))
def test_each_alarm_watches_a_metric_its_function_emits_and_notifies_the_topic(name: str) -> None:
    alarm = ALARMS[name]
    service = alarm["Dimensions"][0]["Value"]
    code_uri = SERVICES[service]["CodeUri"]
    source = (ROOT / code_uri / "app.py").read_text()
    assert f'"{alarm["MetricName"]}"' in source
    assert (
        alarm["Namespace"]
        == load_template()["Globals"]["Function"]["Environment"]["Variables"][
            "POWERTOOLS_METRICS_NAMESPACE"
        ]
    )
    assert alarm["AlarmActions"] == ["AlertsTopic"]  # the loader keeps a !Ref's target
    assert RESOURCES["AlertsTopic"]["Type"] == "AWS::SNS::Topic"
