"""A consent record written straight into the consent table (moto), as decide reads it."""

from __future__ import annotations

from typing import Any

from earnest_aws.clients import client


def put_state(aws: Any, subject: str, measurement: str | None, erased: bool = False) -> None:
    item: dict[str, Any] = {"subject_id": {"S": subject}, "record": {"S": "state"}}
    if measurement:
        purposes = {"personalization": {"S": "granted"}, "measurement": {"S": measurement}}
        item["r_gdpr"] = {
            "M": {
                "purposes": {"M": purposes},
                "event_time": {"S": "2026-11-01T00:00:00.000Z"},
                "event_id": {"S": "e-1"},
                "source": {"S": "test"},
            }
        }
    if erased:
        item["erased_at"] = {"S": "2026-11-02T00:00:00.000Z"}
    client("dynamodb").put_item(TableName=aws.consent_table, Item=item)
