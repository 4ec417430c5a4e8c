"""record-exposure's own limits, parsed once from the environment at cold start.

The rest of its configuration (bucket, consent table and regime, token keys and their
lifetime) is the shared Settings. Defaults are the SPEC's (500 events, 1 MiB); an
operator may only tighten the batch, never loosen it past what the SPEC promises.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from earnest.events.batch import LIMITS, Limits
from earnest_aws.settings import ConfigError


def _int(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = env.get(name) or str(default)
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise ConfigError(f"{name} must be an integer within [{lo}, {hi}], got {raw!r}")
    return int(raw)


def load_limits(env: Mapping[str, str] | None = None) -> Limits:
    env = os.environ if env is None else env
    return Limits(
        max_events=_int(env, "EVENTS_MAX_PER_REQUEST", LIMITS.max_events, 1, 500),
        max_body_bytes=_int(
            env, "EVENTS_MAX_BODY_BYTES", LIMITS.max_body_bytes, 1024, LIMITS.max_body_bytes
        ),
        max_future_seconds=_int(
            env, "EVENTS_MAX_FUTURE_SECONDS", LIMITS.max_future_seconds, 0, 3600
        ),
        max_age_seconds=_int(
            env, "EVENTS_MAX_AGE_SECONDS", LIMITS.max_age_seconds, 60, 30 * 86_400
        ),
    )
