"""Where the CLI's AWS calls go: AWS_ENDPOINT_URL checked before any client is made, and the
local stack's test credentials when it points at loopback (the local stack has no account)."""

from __future__ import annotations

import os
from urllib.parse import urlparse

from earnest_cli.errors import CommandError

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def checked_endpoint() -> str | None:
    """AWS_ENDPOINT_URL, refused in one line when boto3 could not use it."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        return None
    parsed = urlparse(endpoint)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        fixed = endpoint if "://" in endpoint else f"http://{endpoint}"
        raise CommandError(
            f"AWS_ENDPOINT_URL={endpoint} is not a URL: export AWS_ENDPOINT_URL={fixed} "
            "(with its scheme, as `earnest serve` prints it)",
            code=2,
        )
    try:
        parsed.port  # noqa: B018  # raises on a port that is not a number or out of range
    except ValueError:
        raise CommandError(
            f"AWS_ENDPOINT_URL={endpoint} has no valid port (1-65535)", code=2
        ) from None
    return endpoint


def use_endpoint() -> None:
    """Check AWS_ENDPOINT_URL; on loopback, use the local stack's test credentials unless
    some were set."""
    endpoint = checked_endpoint()
    if endpoint is None or urlparse(endpoint).hostname not in LOOPBACK:
        return
    from earnest_cli.local_stack import LOCAL_ENV

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION"):
        os.environ.setdefault(key, LOCAL_ENV[key])
