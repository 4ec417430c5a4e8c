"""record-exposure in the template: reachable through the front door, and its events
readable by Athena exactly as the function writes them (its IAM: test_iam.py)."""

from __future__ import annotations

import re
from typing import Any

from earnest.events.batch import FIELDS, OPTIONAL_FIELDS
from earnest.events.objects import object_key
from earnest_cli.template import load_template

TEMPLATE: dict[str, Any] = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
FUNCTION = RESOURCES["RecordExposureFunction"]["Properties"]
TABLE = RESOURCES["EventsTable"]["Properties"]["TableInput"]


def test_it_is_reached_through_the_front_door_with_cors_for_post() -> None:
    url = FUNCTION["FunctionUrlConfig"]
    # CloudFront signs (AWS_IAM), or the CDN adds the shared-secret header (NONE + the check).
    assert url["AuthType"] == ["UseCloudFront", "AWS_IAM", "NONE"]
    assert url["Cors"]["AllowMethods"] == ["POST"]
    assert {"content-type", "idempotency-key"} <= set(url["Cors"]["AllowHeaders"])
    assert (FUNCTION["CodeUri"], FUNCTION["Handler"]) == (
        "functions/record_exposure/",
        "app.handler",
    )
    assert FUNCTION["Environment"]["Variables"]["EXPOSURE_TOKEN_KEYS_PARAM"]
    assert "RecordExposureFunctionUrl" in str(TEMPLATE["Outputs"]["EventsUrl"]["Value"])


def test_the_athena_table_has_every_stored_field_in_order() -> None:
    columns = TABLE["StorageDescriptor"]["Columns"]
    assert [c["Name"] for c in columns] == [*FIELDS, *OPTIONAL_FIELDS]
    types = {c["Name"]: c["Type"] for c in columns}
    assert types["value"] == "double" and types["segments"] == "map<string,string>"
    assert set(types.values()) == {"string", "double", "map<string,string>"}
    serde = TABLE["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"]
    assert serde == "org.openx.data.jsonserde.JsonSerDe"


def test_partition_projection_finds_the_objects_where_the_function_writes_them() -> None:
    params = TABLE["Parameters"]
    assert [k["Name"] for k in TABLE["PartitionKeys"]] == ["dt", "hour"]
    assert params["projection.enabled"] == "true"
    assert (params["projection.dt.type"], params["projection.dt.format"]) == ("date", "yyyy-MM-dd")
    assert (params["projection.hour.range"], params["projection.hour.digits"]) == ("0,23", "2")
    template = params["storage.location.template"]
    assert template == "s3://${DataBucket}/events/dt=${!dt}/hour=${!hour}/"
    # The projected location, filled in, is the prefix of a key the function writes.
    key = object_key(1_795_000_000_000, "req-1")
    prefix = template.replace("s3://${DataBucket}/", "")
    prefix = prefix.replace("${!dt}", "2026-11-18").replace("${!hour}", "11")
    assert key.startswith(prefix) and re.fullmatch(r"[^/]+\.ndjson\.gz", key[len(prefix) :])


def test_the_bucket_expires_events_on_their_own() -> None:
    rules = RESOURCES["DataBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert any(r.get("Prefix") == "events/" and r.get("ExpirationInDays") for r in rules)
