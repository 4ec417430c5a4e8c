"""The report's S3 side: events read partition by partition, outputs written and mirrored.

Events live under `events/dt=YYYY-MM-DD/hour=HH/*.ndjson.gz` (docs/architecture.md); the
report reads them one object at a time, in key order, so memory holds one object and the
aggregation's per-unit state, never a day of events. Outputs go to
`reports/dt=YYYY-MM-DD/` and, when the date is the newest reported, to `reports/latest/`.
Also the erased subjects, read from the consent table's sparse `erased` index.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

import orjson

from earnest_aws.aws_errors import translated
from earnest_aws.clients import client
from earnest_aws.consent_store import ERASED_INDEX, ERASED_MARKER

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

EVENTS_PREFIX = "events/"
REPORTS_PREFIX = "reports/"
LATEST = "latest"
READ_FAILED = "the events bucket cannot be read"
WRITE_FAILED = "the report cannot be written"


def report_prefix(day: date | str) -> str:
    return f"{REPORTS_PREFIX}dt={day if isinstance(day, str) else day.isoformat()}/"


class ReportsStore:
    def __init__(self, bucket: str, s3: S3Client | None = None) -> None:
        self.bucket = bucket
        self.s3: S3Client = s3 or client("s3")

    def _keys(self, prefix: str) -> Iterator[str]:
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
            if token:
                kwargs["ContinuationToken"] = token
            with translated(READ_FAILED):
                page = self.s3.list_objects_v2(**kwargs)
            for item in page.get("Contents", []):
                yield item["Key"]
            if not page.get("IsTruncated"):
                return
            token = page.get("NextContinuationToken")

    def event_objects(self, day: date) -> Iterator[tuple[str, bytes]]:
        """(key, gzip bytes) of every events object of `day`, hour by hour, in key order."""
        for key in sorted(self._keys(f"{EVENTS_PREFIX}dt={day.isoformat()}/")):
            if key.endswith(".ndjson.gz"):
                with translated(READ_FAILED):
                    data = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
                yield key, data

    def report_dates(self) -> list[date]:
        """Every date with a stored report (its `reports/dt=…/` folder), oldest first."""
        dates: list[date] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {
                "Bucket": self.bucket,
                "Prefix": f"{REPORTS_PREFIX}dt=",
                "Delimiter": "/",
            }
            if token:
                kwargs["ContinuationToken"] = token
            with translated("the stored reports cannot be listed"):
                page = self.s3.list_objects_v2(**kwargs)
            for common in page.get("CommonPrefixes", []):
                try:
                    dates.append(
                        date.fromisoformat(common["Prefix"].split("dt=", 1)[1].rstrip("/"))
                    )
                except ValueError:
                    continue  # not a report's folder
            if not page.get("IsTruncated"):
                return sorted(dates)
            token = page.get("NextContinuationToken")

    def read_report(self, day: date | str) -> dict[str, Any] | None:
        """A stored report.json (`day` or "latest"), or None when there is none.

        Listed before it is read: the function may list only events/ and reports/, and S3
        answers a GET of a missing key with 403, not 404, without a bucket-wide listing.
        """
        prefix = f"{REPORTS_PREFIX}{LATEST}/" if day == LATEST else report_prefix(day)
        key = f"{prefix}report.json"
        with translated("the stored report cannot be read"):
            listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=1)
            if not any(item.get("Key") == key for item in listed.get("Contents", [])):
                return None
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        try:
            report = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        return report if isinstance(report, dict) else None

    def write(self, day: date, files: Mapping[str, tuple[bytes, str]]) -> list[str]:
        """Write the outputs of `day`; mirror them to latest/ unless a newer day is there.

        report.json goes last, so a reader that finds it finds the rest of the run too.
        Returns the keys written.
        """
        latest = self.read_report(LATEST)
        mirror = latest is None or str(latest.get("date", "")) <= day.isoformat()
        prefixes = [report_prefix(day)] + ([f"{REPORTS_PREFIX}{LATEST}/"] if mirror else [])
        order = sorted(files, key=lambda name: name == "report.json")
        written: list[str] = []
        for prefix in prefixes:
            for name in order:
                data, content_type = files[name]
                key = prefix + name
                with translated(WRITE_FAILED):
                    self.s3.put_object(
                        Bucket=self.bucket,
                        Key=key,
                        Body=data,
                        ContentType=content_type,
                        CacheControl="no-cache",
                    )
                written.append(key)
        return written


def erased_subjects(consent_table: str, dynamodb: DynamoDBClient | None = None) -> set[str]:
    """Every subject id with an erasure tombstone (the sparse `erased` index, keys only)."""
    ddb = dynamodb or client("dynamodb")
    kwargs: dict[str, Any] = {
        "TableName": consent_table,
        "IndexName": ERASED_INDEX,
        "KeyConditionExpression": "erased_marker = :m",
        "ExpressionAttributeValues": {":m": {"S": ERASED_MARKER}},
        "ProjectionExpression": "subject_id",
    }
    out: set[str] = set()
    while True:
        with translated("the erased subjects cannot be read"):
            page = ddb.query(**kwargs)
        out.update(item["subject_id"]["S"] for item in page.get("Items", []))
        if not page.get("LastEvaluatedKey"):
            return out
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
