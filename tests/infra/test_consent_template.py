"""consent-update in the template: reachable by CMPs, and allowed only what it uses."""

from __future__ import annotations

from typing import Any

from earnest_cli.template import load_template
from tests.builders.policies import statements as policy_statements

TEMPLATE: dict[str, Any] = load_template()
SSM_PATH = (
    "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${ConsentSecretsPath}/*"
)
FUNCTION = TEMPLATE["Resources"]["ConsentUpdateFunction"]["Properties"]


def statements() -> list[dict[str, Any]]:
    return policy_statements(TEMPLATE["Resources"]["ConsentUpdateFunction"])


def test_consent_update_may_write_only_the_consent_table_and_read_only_its_secrets() -> None:
    by_resource = {str(s["Resource"]): set(s["Action"]) for s in statements()}
    assert by_resource == {
        "ConsentTable.Arn": {
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:Query",
            "dynamodb:BatchWriteItem",
        },
        SSM_PATH: {"ssm:GetParameter"},
    }


def test_cmps_reach_it_through_its_own_url_and_its_secrets_come_from_ssm() -> None:
    assert FUNCTION["FunctionUrlConfig"]["AuthType"] == "NONE"  # the signature is the auth
    assert (
        FUNCTION["CodeUri"] == "functions/consent_update/" and FUNCTION["Handler"] == "app.handler"
    )
    env = FUNCTION["Environment"]["Variables"]
    assert {k for k in env if k.endswith("_PARAM")} == {
        "CONSENT_WEBHOOK_SECRETS_PARAM",
        "CONSENT_DIDOMI_TOKENS_PARAM",
        "CONSENT_KETCH_TOKENS_PARAM",
        "CONSENT_USERCENTRICS_CREDENTIALS_PARAM",
    }
    assert not any(k in env for k in ("CONSENT_WEBHOOK_SECRETS", "CONSENT_DIDOMI_TOKENS"))
    assert "ConsentUpdateFunctionUrl" in str(TEMPLATE["Outputs"]["ConsentUrl"]["Value"])


def test_webhook_ids_kept_for_replay_protection_expire() -> None:
    table = TEMPLATE["Resources"]["ConsentTable"]["Properties"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
