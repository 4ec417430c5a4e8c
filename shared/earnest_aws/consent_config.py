"""/consent's configuration: who may write (secrets) and how CMP purpose codes map.

Secrets never live in code. Each comes from an environment variable locally, or, in
AWS, from an SSM SecureString named by the `*_PARAM` variant (the template sets these):

- Earnest (signed): CONSENT_WEBHOOK_SECRETS = whsec_<base64>,...
- Didomi (bearer): CONSENT_DIDOMI_TOKENS = token,...
- Ketch (bearer): CONSENT_KETCH_TOKENS = token,...
- Usercentrics (basic): CONSENT_USERCENTRICS_CREDENTIALS = user:password,...

Every listed secret is valid at once, so rotating is: add the new one, switch the CMP,
remove the old. Secrets are re-read every CONSENT_SECRETS_TTL_SECONDS (default 300), so a
rotation needs no deployment; if a re-read fails, the last good secrets stay in force.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from earnest.consent.cmp import auth, didomi, ketch
from earnest.consent.cmp.mappings import parse_table
from earnest.consent.service import ConsentConfig
from earnest.consent.webhooks import SecretError, parse_secrets
from earnest_aws.settings import (
    ConfigError,
    Env,
    Settings,
    read_secret_parameter,
    secret_setting,
)

SECRETS = {
    "webhook": "CONSENT_WEBHOOK_SECRETS",
    auth.DIDOMI: "CONSENT_DIDOMI_TOKENS",
    auth.KETCH: "CONSENT_KETCH_TOKENS",
    auth.USERCENTRICS: "CONSENT_USERCENTRICS_CREDENTIALS",
}
PURPOSE_TABLES = {
    auth.DIDOMI: ("CONSENT_DIDOMI_PURPOSES", didomi.DEFAULT_PURPOSES),
    auth.USERCENTRICS: ("CONSENT_USERCENTRICS_PURPOSES", {}),
    auth.KETCH: ("CONSENT_KETCH_PURPOSES", ketch.DEFAULT_PURPOSES),
}


@dataclass(frozen=True)
class ConsentSettings(Settings):
    """consent-update: the shared parts, its body limit and how often secrets are re-read.

    Its body limit is larger than decide's: a batch of 100 updates with long TC strings fits.
    """

    max_body_bytes: int = 1024 * 1024
    secrets_ttl_seconds: int = 300

    @classmethod
    def _read(cls, env: Env) -> dict[str, Any]:
        return {
            **super()._read(env),
            "max_body_bytes": env.integer(
                "CONSENT_MAX_BODY_BYTES", cls.max_body_bytes, 1024, 6 * 1024 * 1024
            ),
            "secrets_ttl_seconds": env.integer(
                "CONSENT_SECRETS_TTL_SECONDS", cls.secrets_ttl_seconds, 0, 86_400
            ),
        }


def load(
    env: Mapping[str, str] | None = None, read: Callable[[str], str] = read_secret_parameter
) -> ConsentConfig:
    env = os.environ if env is None else env

    def secret(source: str) -> tuple[str, ...]:
        # A parameter that does not exist means that CMP is not connected (each is
        # optional); a blank one, or any other failure to read it, fails the cold start.
        return secret_setting(env, SECRETS[source], 1, read, missing_ok=True)

    try:
        credentials = auth.Credentials(
            webhook_keys=parse_secrets(",".join(secret("webhook")), SECRETS["webhook"]),
            bearer={source: secret(source) for source in auth.BEARER_SOURCES},
            basic={auth.USERCENTRICS: secret(auth.USERCENTRICS)},
        )
        tables = {
            source: parse_table(env[name], name) if env.get(name) else dict(default)
            for source, (name, default) in PURPOSE_TABLES.items()
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
