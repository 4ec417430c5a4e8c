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
from collections.abc import Mapping

from earnest.errors import Unauthorized
from earnest_aws.settings import FRONT_DOOR_SECRET, Env, secret_entries

HEADER = "x-earnest-edge-secret"


def parse_secrets(raw: str, name: str = FRONT_DOOR_SECRET.name) -> tuple[bytes, ...]:
    """`secret,secret` -> the valid secrets; each long enough not to be guessed, and a
    blank value or entry a ConfigError (never "no secrets", which would admit all)."""
    return tuple(s.encode() for s in secret_entries(raw, name, FRONT_DOOR_SECRET.min_chars))


def load_secrets(env: Mapping[str, str] | None = None) -> tuple[bytes, ...]:
    """FRONT_DOOR_SECRET (local), else the SSM SecureString FRONT_DOOR_SECRET_PARAM names;
    neither set means the front door is CloudFront's (its IAM check has decided). Either
    set holds real secrets, or the cold start fails naming it."""
    return tuple(s.encode() for s in FRONT_DOOR_SECRET.read(Env(env)))


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
