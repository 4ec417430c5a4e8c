"""Signed exposure tokens: decide issues them, record-exposure accepts only what they prove.

Format `v1.<kid>.<payload>.<sig>` (base64url, no padding). The payload is the compact JSON
array `[unit, experience, variant, reason, rules_version, issued_at]`, with a 7th element
`{path: value}` when the experience records segments (earnest.decide.segments: at most
3, each value a short word), so a page cannot claim another segment; the signature is
HMAC-SHA256 over everything before it, so neither the payload nor the key id can be
swapped. Several keys verify at once and the first signs, so keys rotate without a gap.
Imports only the stdlib and orjson: it sits on decide's hot path, and /events verifies up
to 500 tokens a request, so verifying is one HMAC call and two base64 decodes, no more.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import orjson

VERSION = "v1"
MAX_TOKEN_LENGTH = 2048
# A token's segments: at most 3 (earnest.decide.segments.MAX_PATHS), each path at most
# `attributes.` + 64 characters and each value at most 32 (MAX_VALUE_LENGTH there).
MAX_SEGMENTS, MAX_SEGMENT_PATH, MAX_SEGMENT_VALUE = 3, 75, 32


class TokenError(ValueError):
    """Why a token was refused: `reason` is one of forged, tampered, expired, malformed."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class Exposure(NamedTuple):
    unit: str
    experience: str
    variant: str | None
    reason: str
    rules_version: str
    issued_at: int
    segments: Mapping[str, str] | None = None  # the experience's recorded segment values


def _segments(raw: Any) -> Mapping[str, str]:
    """A token's 7th element if it is a small str -> str map, else TokenError."""
    if (
        type(raw) is not dict
        or not 0 < len(raw) <= MAX_SEGMENTS
        or not all(
            type(k) is str
            and type(v) is str
            and len(k) <= MAX_SEGMENT_PATH
            and len(v) <= MAX_SEGMENT_VALUE
            for k, v in raw.items()
        )
    ):
        raise TokenError("malformed", "token segments must be a small map of words")
    return raw


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


_URLSAFE = bytes.maketrans(b"-_", b"+/")


def _unb64(text: str) -> bytes:
    """As `base64.urlsafe_b64decode` of the padded text, without its wrappers' cost."""
    return binascii.a2b_base64(text.encode("ascii").translate(_URLSAFE) + b"=" * (-len(text) % 4))


class _Hmac:
    """HMAC-SHA256 under one key (RFC 2104) with the keyed inner and outer states made once:
    each message then costs two hash copies, half of what `hmac.digest` spends setting the
    key up again per call (tests/unit/test_tokens.py checks it against `hmac`)."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > 64:  # SHA-256's block size
            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


class TokenSigner:
    """Signs with the first key, verifies with any; keys are (kid, secret) pairs."""

    def __init__(self, keys: Sequence[tuple[str, bytes]], ttl_seconds: int = 86_400) -> None:
        if not keys:
            raise ValueError("at least one signing key is required")
        self._kid, secret = keys[0]
        self._sign_mac = hmac.new(secret, digestmod=hashlib.sha256)
        self._verify_macs = {kid: _Hmac(key) for kid, key in keys}
        self.ttl_seconds = ttl_seconds

    def sign(
        self,
        unit: str,
        experience: str,
        variant: str | None,
        reason: str,
        rules_version: str,
        issued_at: int | None = None,
        segments: Mapping[str, str] | None = None,
    ) -> str:
        now = int(time.time()) if issued_at is None else issued_at
        fields: list[Any] = [unit, experience, variant, reason, rules_version, now]
        if segments:
            fields.append(segments)
        payload = _b64(orjson.dumps(fields))
        head = f"{VERSION}.{self._kid}.{payload}"
        mac = self._sign_mac.copy()
        mac.update(head.encode())
        return f"{head}.{_b64(mac.digest())}"

    def verify(self, token: object, now: float | None = None) -> Exposure:
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
            raise TokenError("malformed", "token must be a string of at most 2048 characters")
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != VERSION:
            raise TokenError("malformed", "token is not a v1 exposure token")
        _, kid, payload, signature = parts
        mac = self._verify_macs.get(kid)
        if mac is None:
            raise TokenError("forged", "token was not signed by a key Earnest knows")
        signed = token[: len(token) - len(signature) - 1]  # `v1.<kid>.<payload>`
        try:
            given = _unb64(signature)
        except ValueError:
            raise TokenError("malformed", "token signature is not base64url") from None
        if not hmac.compare_digest(mac.digest(signed.encode()), given):
            raise TokenError("tampered", "token signature does not match its contents")
        try:
            fields = orjson.loads(_unb64(payload))
        except ValueError:
            fields = None
        if type(fields) is not list or len(fields) not in (6, 7):
            raise TokenError("malformed", "token payload is not readable")
        unit, experience, variant, reason, rules_version, issued_at = fields[:6]
        segments = _segments(fields[6]) if len(fields) == 7 else None
        current = time.time() if now is None else now
        if not isinstance(issued_at, int) or current - issued_at > self.ttl_seconds:
            raise TokenError("expired", f"token is older than {self.ttl_seconds} seconds")
        if issued_at - current > 300:
            raise TokenError("tampered", "token claims to be issued in the future")
        return Exposure(unit, experience, variant, reason, rules_version, issued_at, segments)
