"""The events bucket: one conditional PUT per accepted request, or Unavailable.

Writes with `If-None-Match: *`, so an object that already exists is never overwritten:
a retried request (same Idempotency-Key, same body, same object key) stores no second
copy and needs only s3:PutObject (a HEAD first would need s3:GetObject, cost a round trip
and still race). Every other fault is Unavailable: the caller answers 503 and
acknowledges nothing.
"""

from __future__ import annotations

from earnest.errors import Unavailable
from earnest_aws.clients import client

# The object is there already (412), or a write of the same key is in flight (409): the
# first means a retry of a stored request, the second that the caller should retry.
ALREADY_STORED = frozenset({"PreconditionFailed"})


class EventsStore:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def put(self, key: str, body: bytes) -> bool:
        """Store one gzip NDJSON object; False when the key was already stored."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            client("s3").put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType="application/x-ndjson",
                ContentEncoding="gzip",
                IfNoneMatch="*",
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ALREADY_STORED:
                return False
            raise Unavailable(f"the events bucket cannot be written ({code})") from exc
        except BotoCoreError as exc:
            raise Unavailable(
                f"the events bucket cannot be written ({type(exc).__name__})"
            ) from exc
        return True
