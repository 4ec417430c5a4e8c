"""Secrets come from configuration, rotate without a deployment, and a bad one fails loudly."""

from __future__ import annotations

import base64

import pytest

from earnest_aws.consent_config import CachedConfig, load
from earnest_aws.settings import ConfigError

SECRET = "whsec_" + base64.b64encode(b"config-test-webhook-secret-00001").decode()


class ParameterNotFound(Exception):
    """What botocore raises for a missing SSM parameter (matched by name)."""


def ssm(values: dict[str, str]):  # type: ignore[no-untyped-def]
    def read(name: str) -> str:
        if name not in values:
            raise ParameterNotFound(name)
        return values[name]

    return read


def test_secrets_come_from_the_environment_locally() -> None:
    config = load(
        {"CONSENT_WEBHOOK_SECRETS": SECRET, "CONSENT_DIDOMI_TOKENS": "a-didomi-token-000001"}
    )
    assert len(config.credentials.webhook_keys) == 1
    assert config.credentials.configured() == ["earnest", "didomi"]


def test_in_aws_they_come_from_ssm_and_a_missing_parameter_means_not_connected() -> None:
    env = {
        "CONSENT_WEBHOOK_SECRETS_PARAM": "/earnest/consent/webhook-secrets",
        "CONSENT_KETCH_TOKENS_PARAM": "/earnest/consent/ketch-tokens",
    }
    config = load(env, ssm({"/earnest/consent/webhook-secrets": SECRET}))
    assert config.credentials.configured() == ["earnest"]


def test_any_other_ssm_failure_fails_the_cold_start() -> None:
    def broken(name: str) -> str:
        raise TimeoutError("ssm unreachable")

    with pytest.raises(TimeoutError):
        load({"CONSENT_WEBHOOK_SECRETS_PARAM": "/x"}, broken)


@pytest.mark.parametrize(
    "env",
    [
        {"CONSENT_WEBHOOK_SECRETS": "whsec_!!!"},
        {"CONSENT_DIDOMI_TOKENS": "short"},
        {
            "CONSENT_DIDOMI_TOKENS": "same-token-for-both-01",
            "CONSENT_KETCH_TOKENS": "same-token-for-both-01",
        },
        {"CONSENT_DIDOMI_PURPOSES": "cookies:advertising"},
    ],
)
def test_a_malformed_setting_is_a_configuration_error(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        load(env)


@pytest.mark.parametrize(
    "name",
    [
        "CONSENT_WEBHOOK_SECRETS",
        "CONSENT_DIDOMI_TOKENS",
        "CONSENT_KETCH_TOKENS",
        "CONSENT_USERCENTRICS_CREDENTIALS",
    ],
)
@pytest.mark.parametrize("raw", ["", ",", " ", " , "])
def test_a_blank_secret_is_a_configuration_error_naming_it(name: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load({name: raw})
    with pytest.raises(ConfigError, match=f"{name}_PARAM"):
        load({f"{name}_PARAM": "/earnest/consent/x"}, ssm({"/earnest/consent/x": raw}))


def test_purpose_tables_default_and_can_be_configured() -> None:
    config = load({"CONSENT_KETCH_PURPOSES": "web_perso:personalization"})
    assert config.purpose_tables["ketch"] == {"web_perso": "personalization"}
    assert config.purpose_tables["didomi"]["select_personalized_content"] == "personalization"


def test_rotated_secrets_are_picked_up_and_a_failed_reread_keeps_the_last_good() -> None:
    current = {"value": SECRET}

    def loader():  # type: ignore[no-untyped-def]
        if current["value"] == "broken":
            raise ConfigError("bad secret")
        return load({"CONSENT_WEBHOOK_SECRETS": current["value"]})

    cache = CachedConfig(loader, ttl=0)
    assert len(cache.get().credentials.webhook_keys) == 1
    rotated = SECRET + ",whsec_" + base64.b64encode(b"config-test-webhook-secret-00002").decode()
    current["value"] = rotated
    assert len(cache.get().credentials.webhook_keys) == 2
    current["value"] = "broken"
    assert len(cache.get().credentials.webhook_keys) == 2
