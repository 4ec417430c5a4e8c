"""Standard Webhooks signatures (https://www.standardwebhooks.com): Earnest's own format.

The sender signs `<webhook-id>.<webhook-timestamp>.<body>` with HMAC-SHA256 and sends
`webhook-signature: v1,<base64>` (several, space-separated, during a rotation). A
receiver accepts a message when any signature matches any configured secret, compared in
constant time, and the timestamp is within five minutes of its clock. Replays inside that
window are caught by remembering the webhook-id (earnest_aws.consent_store), not here:
this module holds no state and imports no AWS.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

from earnest.errors import Unauthorized
from earnest.text import split_list

TOLERANCE_SECONDS = 5 * 60
SECRET_PREFIX = "whsec_"
_ID = re.compile(r"[\x21-\x7e]{1,256}")


class SecretError(ValueError):
    """A configured webhook secret is not `whsec_<base64>` (a configuration mistake)."""


@dataclass(frozen=True, slots=True)
class VerifiedMessage:
    webhook_id: str
    timestamp: int


def parse_secrets(raw: str, name: str = "CONSENT_WEBHOOK_SECRETS") -> tuple[bytes, ...]:
    """`whsec_<base64>,whsec_<base64>` -> the HMAC keys; all verify, so secrets rotate."""
    keys: list[bytes] = []
    for part in split_list(raw):
        encoded = part.removeprefix(SECRET_PREFIX)
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise SecretError(f"{name}: each secret must be whsec_<base64>") from None
        if len(key) < 16:
            raise SecretError(f"{name}: each secret must hold at least 16 bytes")
        keys.append(key)
    return tuple(keys)


def sign(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value a sender sends (used by tests and `earnest` tools)."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def verify(
    keys: tuple[bytes, ...], headers: Mapping[str, str], body: bytes, now: float
) -> VerifiedMessage:
    """The message's id and time when it is signed by a configured key; else Unauthorized.

    `headers` has lower-case names. Every candidate pair is compared, so the time taken
    does not say which secret or which signature came close.
    """
    webhook_id = headers.get("webhook-id")
    raw_timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not webhook_id or not raw_timestamp or not signatures:
        raise Unauthorized(
            "missing webhook-id, webhook-timestamp or webhook-signature", field="webhook-signature"
        )
    if not _ID.fullmatch(webhook_id):
        raise Unauthorized("webhook-id is not a printable token", field="webhook-id")
    if not raw_timestamp.isdigit() or len(raw_timestamp) > 12:
        raise Unauthorized("webhook-timestamp must be integer seconds", field="webhook-timestamp")
    timestamp = int(raw_timestamp)
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise Unauthorized(
            "webhook-timestamp is more than 5 minutes from now", field="webhook-timestamp"
        )
    if not keys:
        raise Unauthorized("no webhook secret is configured", field="webhook-signature")
    offered = [s.removeprefix("v1,").encode() for s in signatures.split() if s.startswith("v1,")]
    matched = False
    for key in keys:
        expected = sign(key, webhook_id, timestamp, body).removeprefix("v1,").encode()
        for candidate in offered:
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise Unauthorized(
            "no webhook-signature matches a configured secret", field="webhook-signature"
        )
    return VerifiedMessage(webhook_id, timestamp)
