"""record-exposure's limits: the SPEC's by default, tightened by an operator, never loosened."""

from __future__ import annotations

import pytest

from earnest.events.batch import LIMITS, Limits
from earnest_aws.settings import ConfigError, EventsSettings


def test_the_defaults_are_the_specs_limits() -> None:
    limits = limits_of({})
    assert limits == LIMITS
    assert (limits.max_events, limits.max_body_bytes) == (500, 1024 * 1024)


def test_an_operator_may_tighten_the_limits() -> None:
    limits = limits_of(
        {
            "EVENTS_MAX_PER_REQUEST": "100",
            "EVENTS_MAX_BODY_BYTES": "262144",
            "EVENTS_MAX_AGE_SECONDS": "86400",
            "EVENTS_MAX_FUTURE_SECONDS": "60",
        }
    )
    assert (limits.max_events, limits.max_body_bytes) == (100, 262_144)
    assert (limits.max_age_seconds, limits.max_future_seconds) == (86_400, 60)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("EVENTS_MAX_PER_REQUEST", "501"),
        ("EVENTS_MAX_PER_REQUEST", "0"),
        ("EVENTS_MAX_BODY_BYTES", str(2 * 1024 * 1024)),
        ("EVENTS_MAX_AGE_SECONDS", "a week"),
    ],
)
def test_a_limit_past_the_spec_or_unreadable_fails_the_cold_start_naming_it(
    name: str, value: str
) -> None:
    with pytest.raises(ConfigError, match=name):
        limits_of({name: value})


def limits_of(env: dict[str, str]) -> Limits:
    return EventsSettings.from_env(env).limits
