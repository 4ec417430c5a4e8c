"""record-exposure's settings: the shared Settings and its own limits, read once at cold start.

Defaults are the SPEC's (500 events, 1 MiB); an operator may only tighten the batch,
never loosen it past what the SPEC promises. Its AWS calls (one consent read, one PUT)
get one short attempt each, so a hung dependency answers 503 within about a second.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from earnest.events.batch import LIMITS, Limits
from earnest_aws.clients import ON_REQUEST, Timeouts
from earnest_aws.settings import Env, Settings


@dataclass(frozen=True)
class EventsSettings(Settings):
    limits: Limits = LIMITS
    timeouts: Timeouts = ON_REQUEST

    @classmethod
    def _read(cls, env: Env) -> dict[str, Any]:
        limits = Limits(
            max_events=env.integer("EVENTS_MAX_PER_REQUEST", LIMITS.max_events, 1, 500),
            max_body_bytes=env.integer(
                "EVENTS_MAX_BODY_BYTES", LIMITS.max_body_bytes, 1024, LIMITS.max_body_bytes
            ),
            max_future_seconds=env.integer(
                "EVENTS_MAX_FUTURE_SECONDS", LIMITS.max_future_seconds, 0, 3600
            ),
            max_age_seconds=env.integer(
                "EVENTS_MAX_AGE_SECONDS", LIMITS.max_age_seconds, 60, 30 * 86_400
            ),
        )
        return {**super()._read(env), "limits": limits}


def load_limits(env: Mapping[str, str] | None = None) -> Limits:
    """The batch limits alone (what the tests of an operator's limits read)."""
    return EventsSettings.from_env(env).limits
