"""DynamoDB refusing for capacity, injected at the HTTP layer of a real client (moto behind
it): the first `failures` TransactWriteItems calls get the response DynamoDB sends when a
transaction is cancelled for throttling (HTTP 400, TransactionCanceledException with a
reason per item), parsed by botocore itself; later calls reach moto."""

from __future__ import annotations

import json
from typing import Any

from botocore.awsrequest import AWSResponse

# DynamoDB's own words (a throttled item first, the audit entry beside it untouched).
THROTTLED_REASON = {
    "Code": "ThrottlingError",
    "Message": (
        "Throughput exceeds the current capacity of your table or index. DynamoDB is "
        "automatically scaling your table or index so please try again shortly. If "
        "exceptions persist, check if you have a hot key: "
        "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html."
    ),
}


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Any:
        yield self.data


class CancelledForCapacity:
    """After the first `through` transactions, the next `failures` are cancelled with
    `reason` on their first item."""

    def __init__(
        self,
        aws_client: Any,
        failures: int = 10**9,
        reason: dict[str, str] = THROTTLED_REASON,
        through: int = 0,
    ) -> None:
        self.attempts = -through
        self.failures = failures
        self.reason = reason
        self.client = aws_client
        self.event = "before-send.dynamodb.TransactWriteItems"
        # first: ahead of moto's own before-send handler, which would answer otherwise
        aws_client.meta.events.register_first(self.event, self._send)

    def _send(self, request: Any, **_: Any) -> AWSResponse | None:
        self.attempts += 1
        if not 0 < self.attempts <= self.failures:
            return None
        items = json.loads(request.body)["TransactItems"]
        reasons = [self.reason] + [{"Code": "None"}] * (len(items) - 1)
        codes = ", ".join(r["Code"] for r in reasons)
        body = {
            "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
            "CancellationReasons": reasons,
            "Message": (
                "Transaction cancelled, please refer cancellation reasons for specific "
                f"reasons [{codes}]"
            ),
        }
        headers = {"x-amzn-RequestId": "THROTTLED", "Content-Type": "application/x-amz-json-1.0"}
        answer = AWSResponse(request.url, 400, headers, _Body(json.dumps(body).encode()))
        # The table never sees a throttled request: moto's own handler (called after this
        # one) matches no service at this address and lets the answer above stand.
        request.url = "https://throttled.invalid/"
        return answer

    def heal(self) -> None:
        self.client.meta.events.unregister(self.event, self._send)
