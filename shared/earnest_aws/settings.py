"""Configuration, parsed once from the environment, failing loudly at start-up.

The one settings reader: `Env` parses every variable (one integer parser, one number
parser, one list parser), `Settings` holds what every function shares, and each function's
settings extend it with its own parts (`DecideSettings` here, `EventsSettings` in
earnest_aws.events_config, `ConsentSettings` in earnest_aws.consent_config; the nightly
report's options read through `Env` too).

A frozen dataclass rather than pydantic-settings: decide imports this on its cold path and
pydantic-settings alone costs more to import than the whole decide handler may (see
docs/dependencies.md). Every value is still typed, bounded and named in its error.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Self, TypeVar

from earnest.consent.purposes import REGIMES
from earnest_aws.clients import ON_REQUEST, Timeouts

N = TypeVar("N", int, float)


class ConfigError(RuntimeError):
    """A missing or malformed setting; raised at cold start, never per request."""


class Env:
    """Typed, bounded reads of environment variables; each error names the variable."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env = os.environ if env is None else env

    def text(self, name: str, default: str) -> str:
        return self.env.get(name) or default

    def required(self, name: str, why: str) -> str:
        """A variable that must be set (`why`: what needs it, for the error)."""
        value = self.env.get(name, "").strip()
        if not value:
            raise ConfigError(f"{name} must be set {why}")
        return value

    def integer(self, name: str, default: int, lo: int, hi: int) -> int:
        """An integer written as one (`7.9` is an error, never 7), within [lo, hi]."""
        return self._bounded(name, default, lo, hi, int, "an integer")

    def number(self, name: str, default: float, lo: float, hi: float) -> float:
        return self._bounded(name, default, lo, hi, float, "a number")

    def _bounded(
        self, name: str, default: N, lo: N, hi: N, parse: Callable[[str], N], kind: str
    ) -> N:
        raw = self.env.get(name, "").strip()
        if not raw:
            return default
        try:
            value = parse(raw)
        except ValueError:
            raise ConfigError(f"{name} must be {kind}, got {raw!r}") from None
        if not lo <= value <= hi:  # also refuses nan
            raise ConfigError(f"{name} must be within [{lo}, {hi}], got {value}")
        return value

    def choice(self, name: str, default: str, options: tuple[str, ...]) -> str:
        value = self.text(name, default)
        if value not in options:
            raise ConfigError(f"{name} must be one of {', '.join(options)}, got {value!r}")
        return value


def secret_entries(raw: str, name: str, min_chars: int = 1) -> tuple[str, ...]:
    """A set secret setting, `secret,secret`: every entry a secret of `min_chars` or more.

    Set means meant: a value holding no secret (`,`, ` `), an empty entry (a stray comma)
    or a short one is a ConfigError naming the setting, never read as "no secrets" (which
    would admit everything at the front door, or disconnect a CMP without a word).
    """
    parts = [part.strip() for part in raw.split(",")]
    if not any(parts):
        raise ConfigError(f"{name} is set but holds no secret")
    if not all(parts):
        raise ConfigError(f"{name} has an empty entry (a stray comma?)")
    if any(len(part) < min_chars for part in parts):
        raise ConfigError(f"{name}: each secret must be at least {min_chars} characters")
    return tuple(parts)


def secret_setting(
    env: Mapping[str, str],
    name: str,
    min_chars: int,
    read: Callable[[str], str] | None = None,
    missing_ok: bool = False,
) -> tuple[str, ...]:
    """The secrets of setting `name`: the variable (local), else the SSM SecureString its
    `<name>_PARAM` names (AWS); () when neither is set. `missing_ok`: a parameter that does
    not exist means "not connected" (an optional CMP); any other failure is raised."""
    if name in env:
        return secret_entries(env[name], name, min_chars)
    parameter = env.get(f"{name}_PARAM")
    if parameter is None:
        return ()
    if not parameter.strip():
        raise ConfigError(f"{name}_PARAM is set but names no parameter")
    try:
        raw = (read or read_secret_parameter)(parameter)
    except Exception as exc:
        from earnest_aws.aws_errors import error_code

        if missing_ok and error_code(exc) == "ParameterNotFound":
            return ()
        raise
    return secret_entries(raw, f"{name}_PARAM ({parameter})", min_chars)


def parse_keys(raw: str, name: str) -> tuple[tuple[str, bytes], ...]:
    """`kid:secret,kid:secret` -> ((kid, secret), ...); the first signs, all verify."""
    return tuple(parse_key(entry, name) for entry in secret_entries(raw, name))


def parse_key(entry: str, name: str) -> tuple[str, bytes]:
    kid, sep, secret = entry.partition(":")
    if not sep or not kid or len(secret) < 16:
        raise ConfigError(f"{name} entries must look like kid:secret (secret >= 16 chars)")
    return kid, secret.encode()


@dataclass(frozen=True)
class Settings:
    """What every function shares: where things are, the consent regime, the token keys."""

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
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        return cls(**cls._read(Env(env)))

    @classmethod
    def _read(cls, env: Env) -> dict[str, Any]:
        """The fields this class adds, read from `env`; subclasses extend it."""
        return {
            "experiences_table": env.text("EXPERIENCES_TABLE", cls.experiences_table),
            "consent_table": env.text("CONSENT_TABLE", cls.consent_table),
            "events_bucket": env.text("EVENTS_BUCKET", cls.events_bucket),
            "rules_ttl_seconds": env.number("RULES_TTL_SECONDS", cls.rules_ttl_seconds, 0, 3600),
            "global_holdout": env.number("GLOBAL_HOLDOUT", cls.global_holdout, 0, 0.5),
            "consent_regime": env.choice("CONSENT_REGIME", cls.consent_regime, REGIMES),
            "exposure_token_keys": _token_keys(env),
            "token_ttl_seconds": env.integer(
                "TOKEN_TTL_SECONDS", cls.token_ttl_seconds, 60, 30 * 86_400
            ),
            "max_body_bytes": env.integer(
                "MAX_BODY_BYTES", cls.max_body_bytes, 1024, 6 * 1024 * 1024
            ),
            "max_placements": env.integer("MAX_PLACEMENTS", cls.max_placements, 1, 200),
            "service": env.text("POWERTOOLS_SERVICE_NAME", cls.service),
        }

    def require_token_keys(self) -> tuple[tuple[str, bytes], ...]:
        if not self.exposure_token_keys:
            raise ConfigError(
                "no exposure token keys: set EXPOSURE_TOKEN_KEYS (kid:secret,...) or "
                "EXPOSURE_TOKEN_KEYS_PARAM (an SSM SecureString holding the same)"
            )
        return self.exposure_token_keys


@dataclass(frozen=True)
class DecideSettings(Settings):
    """decide: the shared parts, and the consent read's budget (one short attempt)."""

    consent_timeouts: Timeouts = ON_REQUEST


def _token_keys(env: Env) -> tuple[tuple[str, bytes], ...]:
    name = "EXPOSURE_TOKEN_KEYS"
    where = name if name in env.env else f"{name}_PARAM"
    return tuple(parse_key(entry, where) for entry in secret_setting(env.env, name, 1))


def read_secret_parameter(name: str) -> str:
    """A SecureString from SSM Parameter Store, read once per cold start."""
    from earnest_aws.clients import client  # lazy: only deployments configured this way pay

    response = client("ssm").get_parameter(Name=name, WithDecryption=True)
    return str(response["Parameter"]["Value"])


@cache
def settings() -> Settings:
    return Settings.from_env()
