"""The shared-secret front door (FrontDoor=header): for CDNs that cannot sign SigV4.

The CDN adds `x-earnest-edge-secret: <secret>` to every request it forwards to decide and
events; a request without a valid one is refused before any work. Several secrets are valid
at once (comma-separated), so a rotation is: add the new one, switch the CDN, drop the old.
Compared in constant time. With FrontDoor=cloudfront no secret is configured and the check
admits everything: IAM has already decided (decide's URL answers only the edge's own SigV4,
events' also the public distribution's, docs/deployment.md).

`admits` is pure; `load_secrets` reads the configuration once per cold start.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping

from earnest.errors import Unauthorized
from earnest_aws.settings import ConfigError, read_secret_parameter

HEADER = "x-earnest-edge-secret"
MIN_SECRET_CHARS = 32


def parse_secrets(raw: str, name: str = "FRONT_DOOR_SECRET") -> tuple[bytes, ...]:
    """`secret,secret` -> the valid secrets; each long enough not to be guessed."""
    secrets = tuple(s.strip().encode() for s in raw.split(",") if s.strip())
    if any(len(s) < MIN_SECRET_CHARS for s in secrets):
        raise ConfigError(f"{name}: each secret must be at least {MIN_SECRET_CHARS} characters")
    return secrets


def load_secrets(env: Mapping[str, str] | None = None) -> tuple[bytes, ...]:
    """FRONT_DOOR_SECRET (local), else the SSM SecureString FRONT_DOOR_SECRET_PARAM names;
    none at all means the front door is CloudFront's (nothing to check here)."""
    env = os.environ if env is None else env
    if env.get("FRONT_DOOR_SECRET"):
        return parse_secrets(env["FRONT_DOOR_SECRET"])
    if env.get("FRONT_DOOR_SECRET_PARAM"):
        name = env["FRONT_DOOR_SECRET_PARAM"]
        return parse_secrets(read_secret_parameter(name), "FRONT_DOOR_SECRET_PARAM")
    return ()


def admits(headers: Mapping[str, str], secrets: tuple[bytes, ...]) -> bool:
    """Whether the request came through the front door. `headers` have lower-case names
    (as Function URLs deliver them). Every secret is compared, so the time taken does not
    say which one nearly matched."""
    if not secrets:
        return True
    offered = headers.get(HEADER, "").encode()
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(offered, secret)
    return matched


def require(headers: Mapping[str, str], secrets: tuple[bytes, ...]) -> None:
    """Raise Unauthorized (401, field named) unless the request came through the front door."""
    if not admits(headers, secrets):
        raise Unauthorized("the request did not come through the front door", field=HEADER)
