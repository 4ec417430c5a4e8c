"""decide: which variant of which experience, if any, for this visitor, consent enforced now.

Thin by design: parse, read consent, ask the engine (shared/earnest/decide/engine.py), answer.
Everything here is created once per cold start; per request it does one consent read.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from earnest.consent.purposes import DENIED, most_restrictive
from earnest.decide.engine import unavailable_response
from earnest.decide.request import validate_request
from earnest.errors import EarnestError, Unavailable
from earnest.tokens import TokenSigner
from earnest_aws.clients import client
from earnest_aws.consent_store import ConsentStore
from earnest_aws.http import (
    error_response,
    json_response,
    method_not_allowed,
    parse_event,
    parse_json,
)
from earnest_aws.metrics import DecisionMetrics
from earnest_aws.rules_cache import RulesCache
from earnest_aws.settings import settings as load_settings

logger = Logger()
SETTINGS = load_settings()
SIGNER = TokenSigner(SETTINGS.require_token_keys(), SETTINGS.token_ttl_seconds)
RULES = RulesCache(SETTINGS, SIGNER, on_event=lambda name, fields: logger.info(name, extra=fields))
CONSENT = ConsentStore(SETTINGS.consent_table)
METRICS = DecisionMetrics(SETTINGS.service)
client("dynamodb")  # connect at init, not on the first visitor's request

FAIL_CLOSED = {"personalization": DENIED, "measurement": DENIED}
GPC = {"personalization": DENIED}


def read_consent(visitor: dict[str, Any], gpc: bool) -> dict[str, str] | None:
    """The stored consent of every id the visitor carries; unreadable means denied."""
    subjects = [s for s in (visitor["anonymous_id"], visitor.get("user_id")) if s]
    try:
        stored = CONSENT.purposes_for(subjects)
    except Unavailable:
        METRICS.count("consent_store_unavailable")
        logger.warning("consent store unreadable: failing closed")
        return FAIL_CLOSED
    return most_restrictive(stored, GPC) if gpc else stored


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request_id = ""
    try:
        request = parse_event(event, SETTINGS.max_body_bytes)
        request_id = request.request_id
        if (refused := method_not_allowed(request)) is not None:
            return refused
        body = parse_json(request.body)
        engine = RULES.engine()
        validate_request(body, SETTINGS.max_placements, engine.known_placements if engine else ())
        if engine is None:
            response = unavailable_response(body["placements"])
        else:
            consent = read_consent(body["visitor"], request.header("sec-gpc") == "1")
            response = engine.decide(body, consent, validate=False)
        response["request_id"] = request_id
        METRICS.record(response["decisions"])
        return json_response(200, response)
    except EarnestError as error:
        METRICS.count(f"refused_{error.code}")
        return error_response(error, request_id)
    except Exception:  # a bug must still leave the edge a renderable answer, not a 500
        logger.exception("decide failed")
        METRICS.count("decide_failed")
        return error_response(Unavailable("decide failed; serve the default"), request_id)
