"""infra/bootstrap_secrets.py against moto's SSM: the secrets a stage reads at cold start."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from earnest.consent.webhooks import parse_secrets
from earnest_aws.settings import parse_keys
from earnest_cli.template import load_template
from infra import bootstrap_secrets
from infra.bootstrap_secrets import bootstrap, stage_parameters
from tests.conftest import FAKE_AWS_ENV


@pytest.fixture
def ssm(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield boto3.client("ssm", region_name="us-east-1")


def value(ssm: Any, name: str) -> str:
    parameter = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
    assert parameter["Type"] == "SecureString"
    return str(parameter["Value"])


def test_each_stage_names_its_own_parameters_from_samconfig() -> None:
    dev, prod = stage_parameters("dev"), stage_parameters("prod")
    declared = set(load_template()["Parameters"])
    assert set(dev) <= declared and set(prod) <= declared  # no override the stack ignores
    assert dev["ExposureTokenKeysParameter"] == "/earnest/dev/exposure-token-keys"
    assert prod["ConsentSecretsPath"] == "/earnest/prod/consent"
    assert {n.name for n in bootstrap_secrets.stage_secrets(dev)}.isdisjoint(
        n.name for n in bootstrap_secrets.stage_secrets(prod)
    )


def test_a_first_run_creates_what_the_functions_can_parse_and_leaves_cmps_unconnected(
    ssm: Any,
) -> None:
    params = stage_parameters("dev")
    done = bootstrap(ssm, params, env={"CONSENT_DIDOMI_TOKENS": "didomi-token-0123456789"})

    keys = parse_keys(value(ssm, params["ExposureTokenKeysParameter"]), "keys")
    assert len(keys) == 1 and len(keys[0][1]) == 64
    consent = params["ConsentSecretsPath"]
    assert len(parse_secrets(value(ssm, f"{consent}/webhook-secrets"))[0]) == 32
    assert value(ssm, f"{consent}/didomi-tokens") == "didomi-token-0123456789"
    assert done[f"{consent}/ketch-tokens"].startswith("not connected")
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name=f"{consent}/ketch-tokens")


def test_a_second_run_keeps_every_secret_and_a_rotation_keeps_the_old_key_valid(
    ssm: Any,
) -> None:
    params = stage_parameters("prod")
    name = params["ExposureTokenKeysParameter"]
    bootstrap(ssm, params, env={})
    first = value(ssm, name)

    again = bootstrap(ssm, params, env={})
    assert again[name] == "kept" and value(ssm, name) == first

    rotated = bootstrap(ssm, params, env={}, rotate=True)
    assert rotated[name] == "rotated"
    keys = parse_keys(value(ssm, name), "keys")
    assert len(keys) == 2 and f"{keys[1][0]}:{keys[1][1].decode()}" == first  # old one verifies


def test_the_command_prints_what_it_did_and_never_a_value(
    ssm: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bootstrap_secrets.main(["--stage", "dev", "--region", "us-east-1"]) == 0
    out = capsys.readouterr().out
    name = stage_parameters("dev")["ExposureTokenKeysParameter"]
    assert f"{name}: created" in out
    assert value(ssm, name).split(":", 1)[1] not in out


def test_an_unknown_stage_is_one_line_naming_the_stages(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 18: `--stage staging` was a KeyError traceback."""
    assert bootstrap_secrets.main(["--stage", "staging"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "staging" in err and "dev, prod" in err


def test_without_credentials_it_is_one_line_naming_the_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance metadata lookup
    assert bootstrap_secrets.main(["--stage", "dev"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no AWS credentials" in err and "AWS_PROFILE" in err
