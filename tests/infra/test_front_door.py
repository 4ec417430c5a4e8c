"""The shared-secret front door (earnest_aws.front_door): only the CDN's requests get in."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from earnest.errors import Unauthorized
from earnest_aws.front_door import HEADER, admits, load_secrets, parse_secrets, require
from earnest_aws.http import error_response
from earnest_aws.settings import ConfigError

OLD = "old-front-door-secret-0123456789abcdef"
NEW = "new-front-door-secret-0123456789abcdef"
SECRETS = parse_secrets(f"{NEW},{OLD}")


def test_a_request_with_either_secret_of_a_rotation_gets_in() -> None:
    assert admits({HEADER: NEW}, SECRETS)
    assert admits({HEADER: OLD}, SECRETS)


@pytest.mark.parametrize(
    "headers",
    [{}, {HEADER: ""}, {HEADER: NEW[:-1]}, {HEADER: NEW + "x"}, {HEADER: f"{NEW},{OLD}"}],
)
def test_a_request_without_the_exact_secret_is_refused_with_401_naming_the_header(
    headers: dict[str, str],
) -> None:
    assert not admits(headers, SECRETS)
    with pytest.raises(Unauthorized) as refused:
        require(headers, SECRETS)
    response = error_response(refused.value, "req-1")
    assert response["statusCode"] == 401
    assert HEADER in response["body"]


@given(st.text(max_size=80))
def test_nothing_but_a_configured_secret_gets_in(offered: str) -> None:
    assert admits({HEADER: offered}, SECRETS) == (offered in (NEW, OLD))


def test_without_a_configured_secret_the_front_door_is_cloudfronts_and_admits_all() -> None:
    assert load_secrets({}) == ()
    assert admits({}, ())


@pytest.mark.parametrize("raw", ["", ",", " ", " , ", f"{NEW},", f"{NEW}, ,{OLD}"])
def test_a_blank_secret_or_entry_is_a_configuration_error_never_admit_all(raw: str) -> None:
    """Issue 18: `,`, ` ` and ` , ` parsed to no secrets, and no secrets admitted all."""
    with pytest.raises(ConfigError, match="FRONT_DOOR_SECRET"):
        load_secrets({"FRONT_DOOR_SECRET": raw})


def test_secrets_come_from_the_environment_and_must_be_long() -> None:
    assert load_secrets({"FRONT_DOOR_SECRET": f" {NEW} , {OLD} "}) == SECRETS
    with pytest.raises(ConfigError, match="at least 32"):
        parse_secrets("short-secret")


def test_in_aws_the_secrets_are_read_from_the_parameter_the_template_names(aws: object) -> None:
    from earnest_aws.clients import client

    client("ssm").put_parameter(
        Name="/earnest/test/front-door-secret", Value=NEW, Type="SecureString"
    )
    assert load_secrets({"FRONT_DOOR_SECRET_PARAM": "/earnest/test/front-door-secret"}) == (
        NEW.encode(),
    )
    client("ssm").put_parameter(Name="/earnest/test/blank-secret", Value=" , ", Type="SecureString")
    with pytest.raises(ConfigError, match="FRONT_DOOR_SECRET_PARAM"):
        load_secrets({"FRONT_DOOR_SECRET_PARAM": "/earnest/test/blank-secret"})
