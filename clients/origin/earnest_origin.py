"""For the site's origin: read the decisions the Earnest edge worker forwarded, only when the
edge signed them. Copy this file; it needs the standard library only (Python 3.9+).
clients/origin/README.md says how; earnest-origin.mjs is the same in JavaScript.

    from earnest_origin import verified_decisions
    decisions = verified_decisions(request.headers, [os.environ["EARNEST_DECISIONS_SECRET"]])
    # None: render the default page; else {placement: {experience, variant, reason}}
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

DECISIONS_HEADER = "x-earnest-decisions"
SIGNATURE_HEADER = "x-earnest-signature"
MAX_AGE_SECONDS = 300
_SIGNATURE = re.compile(r"t=(\d{1,12}),v1=([A-Za-z0-9_-]{43})")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:  # a plain dict with the names as they were sent
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


def verified_decisions(
    headers: Mapping[str, str],
    secrets: Iterable[str | bytes],
    *,
    max_age_seconds: int = MAX_AGE_SECONDS,
    now: float | None = None,
) -> dict[str, Any] | None:
    """The decisions the edge signed (`{placement: {experience, variant, reason}}`), or None
    when there are none, the signature does not verify under any of `secrets` (the edge's
    DECISIONS_SECRET; several during a rotation), or it is older than `max_age_seconds`:
    then the origin renders its default."""
    value = _header(headers, DECISIONS_HEADER)
    match = _SIGNATURE.fullmatch(_header(headers, SIGNATURE_HEADER) or "")
    if value is None or match is None:
        return None
    age = (time.time() if now is None else now) - int(match[1])
    if age > max_age_seconds or age < -60:  # stale, or from a clock far ahead
        return None
    offered = base64.urlsafe_b64decode(match[2] + "=")
    signed = f"{match[1]}.{value}".encode()
    for secret in secrets:
        key = secret.encode() if isinstance(secret, str) else secret
        if key and hmac.compare_digest(hmac.new(key, signed, hashlib.sha256).digest(), offered):
            try:
                decisions = json.loads(value)
            except ValueError:
                return None
            return decisions if isinstance(decisions, dict) else None
    return None
