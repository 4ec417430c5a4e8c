"""Who is calling /consent: the credential names the source, so it picks the adapter.

Earnest's own format is signed (earnest.consent.webhooks). Real CMPs authenticate as they
actually do, as each declares (earnest.consent.cmp.registry): Didomi and Ketch send
`Authorization: Bearer <token>`, Usercentrics `Authorization: Basic <user:password>`.
Every configured credential is compared, in constant time, against a digest of what was
offered, so neither which secret nor its length leaks through timing. A credential
configured for two sources is refused at start-up: it must name exactly one source.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

from earnest.consent.cmp.earnest_format import DEFAULT_SOURCE as EARNEST
from earnest.consent.webhooks import VerifiedMessage, verify
from earnest.errors import Unauthorized


class CredentialsError(ValueError):
    """The configured credentials are unusable (empty, too short, or shared by two sources)."""


@dataclass(frozen=True)
class Credentials:
    webhook_keys: tuple[bytes, ...] = ()
    bearer: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # source -> tokens
    basic: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # source -> user:pass

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        for kind in (self.bearer, self.basic):
            for source, secrets in kind.items():
                for secret in secrets:
                    if len(secret) < 16:
                        raise CredentialsError(
                            f"{source}: credentials must be at least 16 characters"
                        )
                    if seen.setdefault(secret, source) != source:
                        raise CredentialsError(
                            f"one credential is configured for {seen[secret]} and {source}"
                        )

    def configured(self) -> list[str]:
        sources = [EARNEST] if self.webhook_keys else []
        sources += [s for s, v in {**self.bearer, **self.basic}.items() if v]
        return sources


@dataclass(frozen=True, slots=True)
class Sender:
    source: str
    message: VerifiedMessage | None = None  # set for signed (Standard Webhooks) requests


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def _match(offered: str, candidates: Mapping[str, tuple[str, ...]]) -> str | None:
    offered_digest = _digest(offered)
    found: str | None = None
    for source, secrets in candidates.items():
        for secret in secrets:
            if hmac.compare_digest(offered_digest, _digest(secret)):
                found = source
    return found


def authenticate(
    headers: Mapping[str, str], body: bytes, credentials: Credentials, now: float
) -> Sender:
    """The source the request proves it comes from; Unauthorized (401) otherwise."""
    if "webhook-signature" in headers or "webhook-id" in headers:
        return Sender(EARNEST, verify(credentials.webhook_keys, headers, body, now))
    scheme, _, value = (headers.get("authorization") or "").strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        source = _match(value, credentials.bearer)
        if source:
            return Sender(source)
    elif scheme.lower() == "basic" and value:
        try:
            user_pass = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, ValueError):
            raise Unauthorized("malformed basic credentials", field="authorization") from None
        source = _match(user_pass, credentials.basic)
        if source:
            return Sender(source)
    elif not scheme:
        raise Unauthorized(
            "sign the request (webhook-signature) or send the CMP's credentials (authorization)",
            field="authorization",
        )
    raise Unauthorized("the credentials match no configured consent source", field="authorization")
