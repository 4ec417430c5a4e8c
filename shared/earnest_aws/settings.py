"""Configuration, parsed once from the environment, failing loudly at start-up.

A frozen dataclass rather than pydantic-settings: decide imports this on its cold path and
pydantic-settings alone costs more to import than the whole decide handler may (see
docs/dependencies.md). Every value is still typed, bounded and named in its error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache


class ConfigError(RuntimeError):
    """A missing or malformed setting; raised at cold start, never per request."""


def _float(env: Mapping[str, str], name: str, default: float, lo: float, hi: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be within [{lo}, {hi}], got {value}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    return int(_float(env, name, default, lo, hi))


def parse_keys(raw: str, name: str) -> tuple[tuple[str, bytes], ...]:
    """`kid:secret,kid:secret` -> ((kid, secret), ...); the first signs, all verify."""
    keys: list[tuple[str, bytes]] = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        kid, sep, secret = part.partition(":")
        if not sep or not kid or len(secret) < 16:
            raise ConfigError(f"{name} entries must look like kid:secret (secret >= 16 chars)")
        keys.append((kid, secret.encode()))
    return tuple(keys)


@dataclass(frozen=True)
class Settings:
    experiences_table: str = "earnest-experiences"
    consent_table: str = "earnest-consent"
    events_bucket: str = "earnest-data"
    rules_ttl_seconds: float = 30.0
    global_holdout: float = 0.05
    consent_regime: str = "opt_in"
    exposure_token_keys: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)
    token_ttl_seconds: int = 86_400
    max_body_bytes: int = 64 * 1024
    max_placements: int = 20
    service: str = "earnest"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        regime = env.get("CONSENT_REGIME", "opt_in")
        if regime not in ("opt_in", "opt_out"):
            raise ConfigError(f"CONSENT_REGIME must be opt_in or opt_out, got {regime!r}")
        return cls(
            experiences_table=env.get("EXPERIENCES_TABLE", cls.experiences_table),
            consent_table=env.get("CONSENT_TABLE", cls.consent_table),
            events_bucket=env.get("EVENTS_BUCKET", cls.events_bucket),
            rules_ttl_seconds=_float(env, "RULES_TTL_SECONDS", cls.rules_ttl_seconds, 0, 3600),
            global_holdout=_float(env, "GLOBAL_HOLDOUT", cls.global_holdout, 0, 0.5),
            consent_regime=regime,
            exposure_token_keys=_token_keys(env),
            token_ttl_seconds=_int(
                env, "TOKEN_TTL_SECONDS", cls.token_ttl_seconds, 60, 30 * 86_400
            ),
            max_body_bytes=_int(env, "MAX_BODY_BYTES", cls.max_body_bytes, 1024, 6 * 1024 * 1024),
            max_placements=_int(env, "MAX_PLACEMENTS", cls.max_placements, 1, 200),
            service=env.get("POWERTOOLS_SERVICE_NAME", cls.service),
        )

    def require_token_keys(self) -> tuple[tuple[str, bytes], ...]:
        if not self.exposure_token_keys:
            raise ConfigError(
                "no exposure token keys: set EXPOSURE_TOKEN_KEYS (kid:secret,...) or "
                "EXPOSURE_TOKEN_KEYS_PARAM (an SSM SecureString holding the same)"
            )
        return self.exposure_token_keys


def _token_keys(env: Mapping[str, str]) -> tuple[tuple[str, bytes], ...]:
    raw = env.get("EXPOSURE_TOKEN_KEYS")
    if raw:
        return parse_keys(raw, "EXPOSURE_TOKEN_KEYS")
    param = env.get("EXPOSURE_TOKEN_KEYS_PARAM")
    if param:
        return parse_keys(read_secret_parameter(param), "EXPOSURE_TOKEN_KEYS_PARAM")
    return ()


def read_secret_parameter(name: str) -> str:
    """A SecureString from SSM Parameter Store, read once per cold start."""
    from earnest_aws.clients import client  # lazy: only deployments configured this way pay

    response = client("ssm").get_parameter(Name=name, WithDecryption=True)
    return str(response["Parameter"]["Value"])


@cache
def settings() -> Settings:
    return Settings.from_env()
