"""One CMP registry wires every consent source: the template, the secrets bootstrap, the
local stack and consent-update's configuration each cover every registered CMP, so adding
one is its module and a line in earnest.consent.cmp.registry (and the template's line this
test asks for)."""

from __future__ import annotations

from typing import Any

from earnest.consent.cmp.registry import CMPS
from earnest.consent.cmp.source import SIGNED
from earnest_aws.consent_config import load
from earnest_cli.local_stack import LOCAL_ENV
from earnest_cli.template import load_template
from infra.bootstrap_secrets import stage_parameters, stage_secrets

CONSENT_ENV: dict[str, Any] = load_template()["Resources"]["ConsentUpdateFunction"]["Properties"][
    "Environment"
]["Variables"]


def test_the_template_names_each_registered_cmps_secret_parameter_and_no_other() -> None:
    expected = {f"{cmp.secret}_PARAM": f"${{ConsentSecretsPath}}/{cmp.parameter}" for cmp in CMPS}
    found = {k: str(v).removeprefix("{'Fn::Sub': '").removesuffix("'}") for k, v in
             CONSENT_ENV.items() if k.startswith("CONSENT_") and k.endswith("_PARAM")}  # fmt: skip
    assert found == expected


def test_the_secrets_bootstrap_creates_or_asks_for_each_registered_cmps_secret() -> None:
    parameters = stage_parameters("dev")
    secrets = {s.name: s for s in stage_secrets(parameters)}
    for cmp in CMPS:
        secret = secrets[f"{parameters['ConsentSecretsPath']}/{cmp.parameter}"]
        if cmp.auth == SIGNED:  # Earnest's own: generated
            assert secret.generate is not None
        else:  # shared with the CMP: taken from the operator, under the function's name
            assert (secret.generate, secret.env) == (None, cmp.secret)


def test_the_local_stack_connects_every_registered_cmp() -> None:
    assert all(cmp.secret in LOCAL_ENV for cmp in CMPS)
    assert sorted(load(LOCAL_ENV).credentials.configured()) == sorted(c.name for c in CMPS)


def test_each_cmp_is_registered_once_under_its_own_secret_and_parameter() -> None:
    for attribute in ("name", "secret", "parameter"):
        values = [getattr(cmp, attribute) for cmp in CMPS]
        assert len(set(values)) == len(values), attribute
