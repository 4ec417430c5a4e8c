"""Exposure tokens: only what decide signed is accepted, and keys rotate without a gap."""

from __future__ import annotations

import base64
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from earnest.tokens import TokenError, TokenSigner, _Hmac

OLD = ("k1", b"old-secret-at-least-16")
NEW = ("k2", b"new-secret-at-least-16")


def test_a_signed_token_verifies_to_what_was_decided() -> None:
    signer = TokenSigner([OLD])
    token = signer.sign("a-1", "hero", "b", "personalized", "rv1", issued_at=1_000)
    exposure = signer.verify(token, now=1_010)
    assert (exposure.unit, exposure.experience, exposure.variant, exposure.reason) == (
        "a-1",
        "hero",
        "b",
        "personalized",
    )
    assert (exposure.rules_version, exposure.issued_at) == ("rv1", 1_000)


def test_rotation_old_tokens_still_verify_while_the_new_key_signs() -> None:
    old_token = TokenSigner([OLD]).sign("a-1", "hero", None, "holdout", "rv", issued_at=1_000)
    rotated = TokenSigner([NEW, OLD])
    assert rotated.verify(old_token, now=1_001).reason == "holdout"
    assert rotated.sign("a-1", "hero", None, "holdout", "rv").split(".")[1] == "k2"
    with pytest.raises(TokenError) as caught:
        TokenSigner([NEW]).verify(old_token, now=1_001)
    assert caught.value.reason == "forged"


def test_expired_and_future_tokens_are_refused() -> None:
    signer = TokenSigner([OLD], ttl_seconds=3600)
    token = signer.sign("a", "e", "v", "personalized", "rv", issued_at=10_000)
    with pytest.raises(TokenError) as caught:
        signer.verify(token, now=10_000 + 3601)
    assert caught.value.reason == "expired"
    with pytest.raises(TokenError) as caught:
        signer.verify(token, now=10_000 - 3600)
    assert caught.value.reason == "tampered"


def test_a_forged_signature_with_a_known_kid_is_tampered() -> None:
    attacker = TokenSigner([("k1", b"guessed-secret-xxxxxx")])
    token = attacker.sign("a", "e", "v", "personalized", "rv")
    with pytest.raises(TokenError) as caught:
        TokenSigner([OLD]).verify(token)
    assert caught.value.reason == "tampered"


@settings(max_examples=200)
@given(data=st.data())
def test_changing_any_character_of_a_token_is_caught(data: st.DataObject) -> None:
    signer = TokenSigner([OLD])
    token = signer.sign("unit-9", "hero", "b", "personalized", "rv", issued_at=5_000)
    i = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    replacement = data.draw(st.sampled_from("ABCxyz019-_."))
    changed = token[:i] + replacement + token[i + 1 :]
    if changed == token:
        return
    try:
        exposure = signer.verify(changed, now=5_001)
    except TokenError:
        return
    # base64 padding bits can change without changing the decoded bytes; then nothing changed.
    assert exposure == signer.verify(token, now=5_001)


def test_swapping_the_payload_of_two_tokens_is_caught() -> None:
    signer = TokenSigner([OLD])
    a = signer.sign("u-1", "hero", "a", "personalized", "rv", issued_at=1)
    b = signer.sign("u-2", "hero", None, "holdout", "rv", issued_at=1)
    head, kid, payload_a, _ = a.split(".")
    _, _, _, sig_b = b.split(".")
    with pytest.raises(TokenError):
        signer.verify(f"{head}.{kid}.{payload_a}.{sig_b}", now=2)


@pytest.mark.parametrize("token", [None, 7, "", "v1.k1.x", "v2.k1.a.b", "v1.k1.!!.??", "x" * 3000])
def test_malformed_tokens_are_refused_not_crashed(token: object) -> None:
    with pytest.raises(TokenError):
        TokenSigner([OLD]).verify(token)


def test_payload_that_is_not_json_is_malformed_even_when_signed() -> None:
    import hashlib
    import hmac

    payload = base64.urlsafe_b64encode(b"not json").rstrip(b"=").decode()
    head = f"v1.k1.{payload}"
    sig = (
        base64.urlsafe_b64encode(hmac.new(OLD[1], head.encode(), hashlib.sha256).digest())
        .rstrip(b"=")
        .decode()
    )
    with pytest.raises(TokenError) as caught:
        TokenSigner([OLD]).verify(f"{head}.{sig}")
    assert caught.value.reason == "malformed"


@settings(max_examples=200)
@given(key=st.binary(min_size=1, max_size=200), message=st.binary(max_size=300))
def test_the_verifiers_hmac_is_the_standard_hmac_sha256(key: bytes, message: bytes) -> None:
    assert _Hmac(key).digest(message) == hmac.digest(key, message, "sha256")


def _signed(payload: list[object]) -> str:
    """A token over `payload` under OLD, as a signer that put anything in it would make."""
    import hashlib

    import orjson

    head = "v1.k1." + base64.urlsafe_b64encode(orjson.dumps(payload)).rstrip(b"=").decode()
    sig = hmac.new(OLD[1], head.encode(), hashlib.sha256).digest()
    return f"{head}.{base64.urlsafe_b64encode(sig).rstrip(b'=').decode()}"


def test_a_tokens_segments_verify_and_a_token_without_them_still_does() -> None:
    signer = TokenSigner([OLD])
    seg = {"context.device": "mobile", "attributes.stage": "(none)"}
    token = signer.sign("a-1", "hero", "b", "personalized", "rv", issued_at=1_000, segments=seg)
    assert signer.verify(token, now=1_001).segments == seg
    plain = signer.sign("a-1", "hero", "b", "personalized", "rv", issued_at=1_000)
    assert signer.verify(plain, now=1_001).segments is None
    # an empty map is not written: the token stays the 6-element one
    assert signer.sign("a-1", "hero", "b", "personalized", "rv", 1_000, segments={}) == plain


@pytest.mark.parametrize(
    "seventh",
    [
        "mobile",
        ["context.device", "mobile"],
        {},
        {"context.device": 1},
        {"context.device": "x" * 33},
        {f"context.f{i}": "a" for i in range(4)},
    ],
)
def test_a_7th_element_that_is_not_a_small_map_of_words_is_refused(seventh: object) -> None:
    token = _signed(["a-1", "hero", "b", "personalized", "rv", 1_000, seventh])
    with pytest.raises(TokenError) as caught:
        TokenSigner([OLD]).verify(token, now=1_001)
    assert caught.value.reason == "malformed"


def test_a_payload_of_another_length_is_refused() -> None:
    for payload in (["a-1", "hero", "b", "personalized", "rv"], [*"abcdefgh"], "abcdef"):
        with pytest.raises(TokenError) as caught:
            TokenSigner([OLD]).verify(_signed(payload), now=1_001)  # type: ignore[arg-type]
        assert caught.value.reason == "malformed"
