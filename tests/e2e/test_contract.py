"""The published contract (docs/openapi.yaml) is the one the code keeps.

Given the local stack as a user starts it (`earnest serve`), the document names exactly the
fields, limits, reasons and error codes the code enforces; real answers validate against
it; and schemathesis, generating requests from the document over real HTTP, finds no 5xx
and no answer outside it.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from jsonschema import Draft202012Validator
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from earnest import errors
from earnest.consent.purposes import PURPOSES, VALUES
from earnest.decide import request as decide_request
from earnest.decide.reasons import REASONS
from earnest.events import batch
from earnest_aws.settings import Settings
from tests.builders.stack import Stack, post, send_consent, signed_headers
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e

OPENAPI = ROOT / "docs" / "openapi.yaml"
DOCUMENT: dict[str, Any] = yaml.safe_load(OPENAPI.read_text())
SCHEMAS: dict[str, Any] = DOCUMENT["components"]["schemas"]


def _schema(name: str) -> dict[str, Any]:
    return dict(SCHEMAS[name])


def _validate(name: str, instance: Any) -> None:
    """Validate against one component, its $refs resolved inside the whole document."""
    root = {**DOCUMENT, "$ref": f"#/components/schemas/{name}"}
    Draft202012Validator(root).validate(instance)


# ------------------------------------------------------------ in step with the code


def test_the_decide_request_names_the_fields_and_limits_the_code_enforces() -> None:
    decide = _schema("DecideRequest")
    assert set(decide["properties"]) == decide_request.TOP_LEVEL
    visitor = decide["properties"]["visitor"]
    assert set(visitor["properties"]) == decide_request.VISITOR
    assert _schema("Id")["maxLength"] == decide_request.MAX_ID_LENGTH
    placements = decide["properties"]["placements"]
    assert placements["maxItems"] == Settings().max_placements
    assert placements["items"]["maxLength"] == decide_request.MAX_PLACEMENT_LENGTH
    assert tuple(_schema("Purposes")["properties"]) == PURPOSES
    assert tuple(_schema("ConsentValue")["enum"]) == VALUES
    reasons = _schema("Decision")["properties"]["reason"]["enum"]
    assert tuple(reasons) == REASONS


def test_the_events_request_names_the_fields_limits_and_reasons_the_code_enforces() -> None:
    envelope = _schema("EventsRequest")["oneOf"][0]
    assert set(envelope["properties"]) == batch.ENVELOPE
    assert envelope["properties"]["events"]["maxItems"] == batch.LIMITS.max_events
    assert set(_schema("Exposure")["properties"]) == batch.EXPOSURE_KEYS
    assert set(_schema("Conversion")["properties"]) == batch.CONVERSION_KEYS
    assert _schema("Exposure")["properties"]["event_id"]["maxLength"] == (batch.MAX_EVENT_ID_LENGTH)
    assert _schema("Conversion")["properties"]["name"]["maxLength"] == batch.MAX_NAME_LENGTH
    rejection = _schema("EventsResponse")["properties"]["rejections"]["items"]
    assert tuple(rejection["properties"]["reason"]["enum"]) == batch.REJECTION_REASONS


def test_the_consent_a_request_carries_has_the_fields_the_contract_names(pushed: Stack) -> None:
    # Given a decision carrying every field the contract names for its consent, and one more
    carried = {name: None for name in _schema("RequestConsent")["properties"]}
    body = {"visitor": {"anonymous_id": "contract-consent"}, "placements": ["home-hero"]}
    # Then the named ones are taken, and the other is refused by name
    assert (
        post(f"{pushed.api_url}/decide", json.dumps({**body, "consent": carried}).encode())[0]
        == 200
    )
    extra = {**carried, "tracking": None}
    status, _, answer = post(
        f"{pushed.api_url}/decide", json.dumps({**body, "consent": extra}).encode()
    )
    assert (status, answer["error"]["field"]) == (400, "consent.tracking")


def _codes(cls: type[errors.EarnestError]) -> set[str]:
    return {cls.code} | {code for sub in cls.__subclasses__() for code in _codes(sub)}


def test_every_error_code_the_code_can_answer_is_in_the_contract() -> None:
    listed = set(_schema("Error")["properties"]["error"]["properties"]["code"]["enum"])
    # the domain errors, and the two the HTTP layer answers itself (405, 404)
    assert _codes(errors.EarnestError) | {"method_not_allowed", "not_found"} == listed


# ------------------------------------------------------------ real answers fit it


def test_real_answers_of_the_local_stack_validate_against_the_contract(pushed: Stack) -> None:
    now = int(time.time())
    status, _, answer = post(
        f"{pushed.api_url}/decide",
        json.dumps(
            {
                "visitor": {"anonymous_id": f"contract-{uuid.uuid4().hex}"},
                "placements": ["home-hero", "pdp-recs", "no-such-slot"],
                "context": {"country": "DE", "device": "mobile"},
                "consent": {"purposes": {"personalization": "granted", "measurement": "granted"}},
            }
        ).encode(),
    )
    assert status == 200
    _validate("DecideResponse", answer)
    token = next(d["token"] for d in answer["decisions"].values() if d["token"])

    status, _, bad = post(f"{pushed.api_url}/decide", b'{"visitor": {}}')
    assert status == 400
    _validate("Error", bad)
    assert bad["error"]["field"] == "visitor.anonymous_id"

    events = {
        "events": [
            {"type": "exposure", "event_id": uuid.uuid4().hex, "token": token, "ts": now},
            {"type": "conversion", "event_id": "c", "unit_id": "u", "name": "x", "ts": "no"},
        ]
    }
    status, _, counted = post(f"{pushed.api_url}/events", json.dumps(events).encode())
    assert status == 202
    _validate("EventsResponse", counted)
    assert (counted["accepted"], counted["rejected"]) == (1, 1)

    status, consent = send_consent(
        pushed,
        {
            "subject_id": f"contract-{uuid.uuid4().hex}",
            "event_id": uuid.uuid4().hex,
            "event_time": now,
            "purposes": {"personalization": "granted", "measurement": "denied"},
        },
    )
    assert status == 200
    _validate("ConsentResponse", consent)
    status, refused = send_consent(pushed, {"subject_id": "x"}, headers={})
    assert status == 401
    _validate("Error", refused)


# ------------------------------------------------------------ schemathesis over real HTTP

schema = schemathesis.openapi.from_path(OPENAPI)
# The methods the local stack routes to the handlers (which answer 405 in the error form).
schema.config.phases.coverage.unexpected_methods = {"get", "put", "delete", "patch", "options"}
# Refused input is a 400, 401, 405 or 413 (too many events, too large a body).
schema.config.checks.negative_data_rejection.expected_statuses = ["400", "401", "405", "413"]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


# Two 5xx schemathesis once found, kept as regression tests.
OBJECT_PURPOSE = {"purposes": {"measurement": {}}}


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("/decide", {"visitor": {"anonymous_id": "a-1"}, "placements": ["home-hero"]}),
        ("/events", {"events": []}),
    ],
)
def test_a_consent_purpose_that_is_an_object_is_a_400_naming_it(
    route: str, body: dict[str, Any], pushed: Stack
) -> None:
    raw = json.dumps({**body, "consent": OBJECT_PURPOSE}).encode()
    status, _, answer = post(f"{pushed.api_url}{route}", raw)
    assert (status, answer["error"]["field"]) == (400, "consent.purposes.measurement")


@pytest.mark.parametrize("method", ["DELETE", "PATCH", "OPTIONS"])
def test_every_method_but_post_is_a_405_in_the_contracts_error_form(
    method: str, pushed: Stack
) -> None:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(f"{pushed.api_url}/decide", data=b"{}", method=method)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(req, timeout=10)
    assert caught.value.code == 405
    _validate("Error", json.loads(caught.value.read()))


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_generated_requests_get_no_5xx_and_only_answers_the_contract_allows(
    case: Any, pushed: Stack
) -> None:
    # /consent bodies are signed as the CMP signs them (the bytes `requests` sends for a
    # JSON body), so generated payloads reach the parser instead of stopping at the 401
    signed = case.path == "/consent" and not isinstance(case.body, bytes | NotSet)
    if signed:
        raw = json.dumps(case.body, allow_nan=False).encode()
        case.headers = {**(case.headers or {}), **signed_headers(raw)}
    response = case.call_and_validate(base_url=pushed.api_url, checks=CHECKS)
    if signed:  # the signature held: whatever the body, the answer is about the body
        assert response.status_code != 401, response.text
