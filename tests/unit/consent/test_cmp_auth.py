"""Only the CMP can write: each source's own credential, and nothing else, names it."""

from __future__ import annotations

import base64

import pytest

from earnest.consent.cmp.auth import Credentials, CredentialsError, authenticate
from earnest.consent.webhooks import parse_secrets, sign
from earnest.errors import Unauthorized

CREDENTIALS = Credentials(
    webhook_keys=parse_secrets("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    bearer={
        "didomi": ("didomi-token-0000000001", "didomi-token-0000000002"),
        "ketch": ("ketch-token-00000000001",),
    },
    basic={"usercentrics": ("uc-user:uc-password-000001",)},
)


def basic(user_pass: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(user_pass.encode()).decode()}


@pytest.mark.parametrize(
    ("headers", "source"),
    [
        ({"authorization": "Bearer didomi-token-0000000001"}, "didomi"),
        ({"authorization": "bearer didomi-token-0000000002"}, "didomi"),  # rotation: both valid
        ({"authorization": "Bearer ketch-token-00000000001"}, "ketch"),
        (basic("uc-user:uc-password-000001"), "usercentrics"),
    ],
)
def test_each_cmp_is_recognised_by_its_own_credential(headers: dict[str, str], source: str) -> None:
    assert authenticate(headers, b"{}", CREDENTIALS, now=0).source == source


def test_a_signed_request_is_earnest_format_and_carries_its_webhook_id() -> None:
    body = b'{"x": 1}'
    signature = sign(CREDENTIALS.webhook_keys[0], "msg_1", 1_700_000_000, body)
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": "1700000000",
        "webhook-signature": signature,
    }
    sender = authenticate(headers, body, CREDENTIALS, now=1_700_000_000)
    assert sender.source == "earnest" and sender.message and sender.message.webhook_id == "msg_1"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer not-a-configured-token"},
        {"authorization": "Bearer "},
        basic("uc-user:wrong-password-00000"),
        basic("didomi-token-0000000001"),  # a bearer token sent as basic is still wrong
        {"authorization": "Basic %%%"},
        {"authorization": "Token didomi-token-0000000001"},
        {"webhook-id": "msg_1", "authorization": "Bearer didomi-token-0000000001"},  # unsigned
    ],
)
def test_anything_else_is_unauthorized(headers: dict[str, str]) -> None:
    with pytest.raises(Unauthorized):
        authenticate(headers, b"{}", CREDENTIALS, now=1_700_000_000)


def test_one_credential_may_not_name_two_sources() -> None:
    with pytest.raises(CredentialsError):
        Credentials(
            bearer={"didomi": ("shared-token-0000000001",), "ketch": ("shared-token-0000000001",)}
        )


def test_short_credentials_are_refused_at_start_up() -> None:
    with pytest.raises(CredentialsError):
        Credentials(bearer={"didomi": ("short",)})
