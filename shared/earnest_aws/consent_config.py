"""/consent's configuration: who may write (secrets) and how CMP purpose codes map.

Wired from the CMP registry (earnest.consent.cmp.registry): each source's secret setting
and purpose table are declared in earnest_aws.settings from it, so a CMP added there is
configured here with no edit. Secrets never live in code: each comes from its setting
locally, or, in AWS, from the SSM SecureString its `*_PARAM` variant names (the template
sets these; docs/settings.md lists them).

Every listed secret is valid at once, so rotating is: add the new one, switch the CMP,
remove the old. Secrets are re-read every CONSENT_SECRETS_TTL_SECONDS (default 300), so a
rotation needs no deployment; if a re-read fails, the last good secrets stay in force.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

from earnest.consent.cmp import auth
from earnest.consent.cmp.mappings import parse_table
from earnest.consent.cmp.registry import CMPS
from earnest.consent.cmp.source import BASIC, BEARER, SIGNED
from earnest.consent.service import ConsentConfig
from earnest.consent.webhooks import SecretError, parse_secrets
from earnest_aws.settings import (
    ConfigError,
    ConsentSettings,
    Env,
    Secret,
    Text,
    cmp_settings,
    read_secret_parameter,
)


def load(
    env: Mapping[str, str] | None = None, read: Callable[[str], str] = read_secret_parameter
) -> ConsentConfig:
    """Every registered CMP's credentials and purpose table; a malformed one is a
    ConfigError naming its setting. A secret parameter that does not exist means that CMP
    is not connected (each is optional); a blank one, or any other failure, fails the start."""
    read_env = Env(env)
    declared = cmp_settings()

    def secrets(name: str) -> tuple[str, ...]:
        setting = declared[name]
        assert isinstance(setting, Secret)
        return setting.read(read_env, read)

    def table(name: str, default: Mapping[str, str]) -> dict[str, str]:
        setting = declared[name]
        assert isinstance(setting, Text)
        raw = setting.read(read_env)
        return parse_table(raw, name) if raw else dict(default)

    by_kind: dict[str, dict[str, tuple[str, ...]]] = {SIGNED: {}, BEARER: {}, BASIC: {}}
    try:
        for cmp in CMPS:
            by_kind[cmp.auth][cmp.name] = secrets(cmp.secret)
        signed = [
            key
            for cmp in CMPS
            if cmp.auth == SIGNED and by_kind[SIGNED][cmp.name]
            for key in parse_secrets(",".join(by_kind[SIGNED][cmp.name]), cmp.secret)
        ]
        credentials = auth.Credentials(
            webhook_keys=tuple(signed), bearer=by_kind[BEARER], basic=by_kind[BASIC]
        )
        tables = {
            cmp.name: table(cmp.purposes_setting, cmp.default_purposes)
            for cmp in CMPS
            if cmp.purposes_setting
        }
    except (SecretError, auth.CredentialsError, ValueError) as exc:
        raise ConfigError(str(exc)) from exc
    return ConsentConfig(credentials=credentials, purpose_tables=tables)


class CachedConfig:
    """The configuration, re-read at most every `ttl` seconds; the last good one survives
    a failed re-read (a rotation must never lock every CMP out)."""

    def __init__(
        self,
        loader: Callable[[], ConsentConfig] = load,
        ttl: float = ConsentSettings.secrets_ttl_seconds,
    ) -> None:
        self._loader = loader
        self._ttl = ttl
        self._config: ConsentConfig | None = None
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    def get(self) -> ConsentConfig:
        with self._lock:
            now = time.monotonic()
            if self._config is None or now - self._loaded_at >= self._ttl:
                try:
                    self._config = self._loader()
                except Exception:
                    if self._config is None:
                        raise
                self._loaded_at = now
            return self._config
