"""The events bucket: one conditional PUT per accepted request, or Unavailable.

Writes with `If-None-Match: *`, so an object that already exists is never overwritten:
a retried request (same Idempotency-Key, same body, same object key) stores no second
copy and needs only s3:PutObject (a HEAD first would need s3:GetObject, cost a round trip
and still race). Every other fault is Unavailable: the caller answers 503 and
acknowledges nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from earnest_aws.aws_errors import error_code, translated
from earnest_aws.clients import client

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# The object is there already (412): a retry of a stored request. A write of the same key
# in flight (409) is left to fail: the caller should retry.
ALREADY_STORED = frozenset({"PreconditionFailed"})


class EventsStore:
    def __init__(self, bucket: str, s3: S3Client | None = None) -> None:
        self.bucket = bucket
        self.s3: S3Client = s3 or client("s3")

    def put(self, key: str, body: bytes) -> bool:
        """Store one gzip NDJSON object; False when the key was already stored."""
        with translated("the events bucket cannot be written"):
            try:
                self.s3.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=body,
                    ContentType="application/x-ndjson",
                    ContentEncoding="gzip",
                    IfNoneMatch="*",
                )
            except Exception as exc:
                if error_code(exc) in ALREADY_STORED:
                    return False
                raise
        return True
