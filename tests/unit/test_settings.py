"""One settings reader: every function reads an integer the same way, and a setting that is
not one fails the cold start naming it (never silently truncated)."""

from __future__ import annotations

import pytest

from earnest_aws.consent_config import ConsentSettings
from earnest_aws.events_config import EventsSettings
from earnest_aws.nightly_report import ReportOptions
from earnest_aws.settings import ConfigError, DecideSettings, Settings

READERS = (
    Settings.from_env,
    DecideSettings.from_env,
    EventsSettings.from_env,
    ConsentSettings.from_env,
)


@pytest.mark.parametrize("read", READERS)
def test_max_placements_of_7_point_9_is_a_config_error_in_every_function(read: object) -> None:
    with pytest.raises(ConfigError, match="MAX_PLACEMENTS must be an integer"):
        read({"MAX_PLACEMENTS": "7.9"})  # type: ignore[operator]


@pytest.mark.parametrize("read", READERS)
def test_every_function_shares_the_common_parts(read: object) -> None:
    got = read({"MAX_PLACEMENTS": " 7 ", "CONSENT_REGIME": "opt_out"})  # type: ignore[operator]
    assert (got.max_placements, got.consent_regime) == (7, "opt_out")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"EVENTS_MAX_PER_REQUEST": "100.0"}, "EVENTS_MAX_PER_REQUEST must be an integer"),
        ({"CONSENT_MAX_BODY_BYTES": "1e6"}, "CONSENT_MAX_BODY_BYTES must be an integer"),
        ({"REPORT_LOOKBACK_DAYS": "7.5"}, "REPORT_LOOKBACK_DAYS must be an integer"),
        ({"TOKEN_TTL_SECONDS": "59"}, r"TOKEN_TTL_SECONDS must be within \[60"),
        ({"CONSENT_REGIME": "gdpr"}, "CONSENT_REGIME must be one of opt_in, opt_out"),
        ({"GLOBAL_HOLDOUT": "nan"}, "GLOBAL_HOLDOUT must be within"),
    ],
)
def test_a_malformed_setting_names_itself(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        EventsSettings.from_env(env)
        ConsentSettings.from_env(env)
        ReportOptions.from_env(env)


def test_each_function_adds_its_own_parts_to_the_shared_ones() -> None:
    events = EventsSettings.from_env({"EVENTS_MAX_PER_REQUEST": "100"})
    consent = ConsentSettings.from_env({"CONSENT_SECRETS_TTL_SECONDS": "60"})
    assert events.limits.max_events == 100
    assert (consent.max_body_bytes, consent.secrets_ttl_seconds) == (1024 * 1024, 60)
    assert DecideSettings.from_env({}).consent_timeouts.attempts == 1


def test_the_reports_pre_exposure_days_default_to_14_and_are_bounded() -> None:
    assert ReportOptions.from_env({}).pre_exposure_days == 14
    assert ReportOptions.from_env({"REPORT_PRE_EXPOSURE_DAYS": "0"}).pre_exposure_days == 0
    with pytest.raises(ConfigError, match="REPORT_PRE_EXPOSURE_DAYS must be within"):
        ReportOptions.from_env({"REPORT_PRE_EXPOSURE_DAYS": "91"})


@pytest.mark.parametrize("raw", ["", ",", " ", " , ", "k1:exposure-token-secret-01,", "k1:"])
def test_blank_or_unparsable_exposure_token_keys_fail_the_cold_start_naming_them(
    raw: str,
) -> None:
    with pytest.raises(ConfigError, match="EXPOSURE_TOKEN_KEYS"):
        Settings.from_env({"EXPOSURE_TOKEN_KEYS": raw})
