"""The origin renders from the edge's decisions only when the edge signed them, recently
(clients/origin/earnest_origin.py; the JS twin is tested under node --test)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.builders.origin import origin_helper, signed_headers

verified_decisions = origin_helper().verified_decisions
SECRET = "the-origin-shares-this-decisions-secret-0001"
NEXT = "the-next-decisions-secret-of-a-rotation-0002"
T = 1_798_761_600
DECISIONS = {
    "home-hero": {"experience": "dach-mobile-hero", "variant": "video", "reason": "personalized"}
}
SIGNED = signed_headers(DECISIONS, SECRET, T)


def test_the_edges_signed_decisions_are_read_under_either_secret_of_a_rotation() -> None:
    assert verified_decisions(SIGNED, [NEXT, SECRET], now=T + 1) == DECISIONS
    # A framework's headers with the names as sent (Title-Case) are read too.
    titled = {
        "X-Earnest-Decisions": SIGNED["x-earnest-decisions"],
        "X-Earnest-Signature": SIGNED["x-earnest-signature"],
    }
    assert verified_decisions(titled, [SECRET.encode()], now=T + 1) == DECISIONS


@pytest.mark.parametrize(
    ("headers", "now"),
    [
        ({"x-earnest-decisions": SIGNED["x-earnest-decisions"]}, T),  # unsigned: a visitor's
        (signed_headers(DECISIONS, NEXT, T), T),  # another secret
        (SIGNED, T + 301),  # older than 300 s
        (SIGNED, T - 61),  # from a clock far ahead
        (
            {
                **SIGNED,
                "x-earnest-decisions": SIGNED["x-earnest-decisions"].replace("video", "vip"),
            },
            T,
        ),
        (
            {
                **SIGNED,
                "x-earnest-signature": SIGNED["x-earnest-signature"].replace(
                    f"t={T}", f"t={T + 1}"
                ),
            },
            T,
        ),
        ({**SIGNED, "x-earnest-signature": SIGNED["x-earnest-signature"].split(",")[1]}, T),
        ({}, T),
    ],
    ids=[
        "unsigned",
        "other-secret",
        "stale",
        "future",
        "value-edited",
        "time-edited",
        "no-time",
        "none",
    ],
)
def test_anything_the_edge_did_not_sign_recently_renders_the_default(
    headers: dict[str, str], now: int
) -> None:
    assert verified_decisions(headers, [SECRET], now=now) is None


def test_a_signed_value_that_is_not_an_object_renders_the_default() -> None:
    assert verified_decisions(signed_headers([1], SECRET, T), [SECRET], now=T) is None  # type: ignore[arg-type]


@given(st.text(max_size=60), st.text(max_size=60))
def test_no_made_up_signature_verifies(value: str, signature: str) -> None:
    headers: dict[str, Any] = {"x-earnest-decisions": value, "x-earnest-signature": signature}
    assert verified_decisions(headers, [SECRET], now=T) is None
