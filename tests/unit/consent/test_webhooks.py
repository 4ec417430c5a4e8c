"""Standard Webhooks verification: the published test vector, rotation, time window, and
the invariant that any change to what was signed breaks the signature."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from earnest.consent.webhooks import SecretError, parse_secrets, sign, verify
from earnest.errors import Unauthorized

# The vector published with the Standard Webhooks reference libraries.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
KEYS = parse_secrets(SECRET)
OTHER = parse_secrets("whsec_" + base64.b64encode(b"another-secret-of-32-bytes-00000").decode())


def headers(
    signature: str = SIGNATURE, ts: int = TIMESTAMP, msg_id: str = MSG_ID
) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": signature}


def test_signing_reproduces_the_published_vector() -> None:
    assert sign(KEYS[0], MSG_ID, TIMESTAMP, BODY) == SIGNATURE


def test_the_published_vector_verifies() -> None:
    message = verify(KEYS, headers(), BODY, now=TIMESTAMP)
    assert (message.webhook_id, message.timestamp) == (MSG_ID, TIMESTAMP)


def test_during_rotation_either_secret_verifies_and_any_listed_signature_may_match() -> None:
    both = OTHER + KEYS
    assert verify(both, headers(), BODY, now=TIMESTAMP).webhook_id == MSG_ID
    several = f"v1,bm9wZQ== {SIGNATURE}"
    assert verify(OTHER + KEYS, headers(several), BODY, now=TIMESTAMP)


def test_a_signature_by_a_retired_secret_is_refused() -> None:
    with pytest.raises(Unauthorized):
        verify(OTHER, headers(), BODY, now=TIMESTAMP)


@pytest.mark.parametrize("skew", [-301, 301, 10_000])
def test_a_timestamp_more_than_five_minutes_away_is_refused(skew: int) -> None:
    with pytest.raises(Unauthorized) as caught:
        verify(KEYS, headers(), BODY, now=TIMESTAMP + skew)
    assert caught.value.field == "webhook-timestamp"


@pytest.mark.parametrize("skew", [-300, 0, 300])
def test_a_timestamp_within_five_minutes_is_accepted(skew: int) -> None:
    assert verify(KEYS, headers(), BODY, now=TIMESTAMP + skew)


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"webhook-id": MSG_ID, "webhook-timestamp": str(TIMESTAMP)},
        {**headers(), "webhook-timestamp": "soon"},
        {**headers(), "webhook-signature": "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
        {**headers(), "webhook-signature": "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
    ],
)
def test_missing_or_malformed_headers_are_unauthorized(bad: dict[str, str]) -> None:
    with pytest.raises(Unauthorized):
        verify(KEYS, bad, BODY, now=TIMESTAMP)


def test_with_no_secret_configured_nothing_verifies() -> None:
    with pytest.raises(Unauthorized):
        verify((), headers(), BODY, now=TIMESTAMP)


@pytest.mark.parametrize("raw", ["whsec_not base64!", "whsec_c2hvcnQ="])
def test_malformed_or_short_secrets_are_a_configuration_error(raw: str) -> None:
    with pytest.raises(SecretError):
        parse_secrets(raw)


@given(st.binary(min_size=1, max_size=300), st.data())
def test_any_byte_changed_in_the_body_breaks_the_signature(
    body: bytes, data: st.DataObject
) -> None:
    signature = sign(KEYS[0], MSG_ID, TIMESTAMP, body)
    index = data.draw(st.integers(0, len(body) - 1))
    flip = data.draw(st.integers(1, 255))
    tampered = body[:index] + bytes([body[index] ^ flip]) + body[index + 1 :]
    assert verify(KEYS, headers(signature), body, now=TIMESTAMP)
    with pytest.raises(Unauthorized):
        verify(KEYS, headers(signature), tampered, now=TIMESTAMP)


@given(
    st.integers(1, 299),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=40),
)
def test_the_signature_binds_the_id_and_the_timestamp(shift: int, other_id: str) -> None:
    signature = sign(KEYS[0], MSG_ID, TIMESTAMP, BODY)
    with pytest.raises(Unauthorized):
        verify(KEYS, headers(signature, ts=TIMESTAMP + shift), BODY, now=TIMESTAMP)
    if other_id != MSG_ID:
        with pytest.raises(Unauthorized):
            verify(KEYS, headers(signature, msg_id=other_id), BODY, now=TIMESTAMP)
