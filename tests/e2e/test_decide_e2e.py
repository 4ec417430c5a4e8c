"""decide over real HTTP on the local stack, as an edge worker calls it."""

from __future__ import annotations

import json

from earnest.tokens import TokenSigner
from earnest_aws.settings import parse_keys
from earnest_cli.local_stack import LOCAL_ENV
from tests.builders.stack import Stack, post


def test_decide_over_http_gives_each_placement_a_reason_and_a_verifiable_token(
    pushed: Stack,
) -> None:
    body = {
        "visitor": {"anonymous_id": "a-e2e-1"},
        "placements": ["home-hero", "pdp-recs", "footer-signup", "nowhere"],
        "context": {"country": "DE", "device": "mobile", "referrer": "google"},
    }
    status, headers, answer = post(f"{pushed.api_url}/decide", json.dumps(body).encode())
    assert status == 200 and headers["content-type"] == "application/json"
    d = answer["decisions"]
    assert d["home-hero"]["experience"] == "dach-mobile-hero"
    assert d["home-hero"]["reason"] in ("personalized", "holdout", "global_holdout")
    assert d["footer-signup"]["reason"] == "no_live_experience"
    assert d["nowhere"]["reason"] == "unknown_placement"
    # The hiking experience outranks it but needs consent this visitor has not given.
    assert {"experience": "hiking-hero", "outcome": "no_consent"} in d["home-hero"]["trace"]
    signer = TokenSigner(parse_keys(LOCAL_ENV["EXPOSURE_TOKEN_KEYS"], "EXPOSURE_TOKEN_KEYS"))
    exposure = signer.verify(d["home-hero"]["token"])
    assert exposure.unit == "a-e2e-1" and exposure.experience == "dach-mobile-hero"
    assert exposure.rules_version == answer["rules_version"]


def test_bad_json_over_http_is_a_400_naming_the_field(pushed: Stack) -> None:
    status, _, answer = post(f"{pushed.api_url}/decide", b'{"visitor": ')
    assert status == 400
    assert answer["error"]["code"] == "invalid_json" and answer["error"]["field"] == "body"
