"""consent-update: POST /consent, signed consent changes from CMPs, in force at once.

Thin by design: parse the event, hand headers and raw body to the consent service
(shared/earnest/consent/service.py: authenticate, read the payload, apply each update),
map errors, answer. Logs carry counts and outcomes, never a subject id or a consent
string: the request id is enough to find the history entries an auditor needs.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from earnest.consent.service import receive
from earnest.errors import EarnestError, Unavailable
from earnest_aws.clients import client
from earnest_aws.consent_config import CachedConfig, max_body_bytes
from earnest_aws.consent_writer import ConsentWriter
from earnest_aws.http import error_response, json_response, method_not_allowed, parse_event
from earnest_aws.settings import settings as load_settings

logger = Logger()
SETTINGS = load_settings()
CONFIG = CachedConfig()
CONFIG.get()  # read the secrets at init: a misconfiguration fails the cold start, loudly
STORE = ConsentWriter(SETTINGS.consent_table)
MAX_BODY = max_body_bytes()
client("dynamodb")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request_id = ""
    try:
        request = parse_event(event, MAX_BODY)
        request_id = request.request_id
        if (refused := method_not_allowed(request)) is not None:
            return refused
        body = receive(request.headers, request.body, request_id, CONFIG.get(), STORE)
        logger.info("consent received", extra=_summary(body))
        return json_response(200, body)
    except EarnestError as error:
        logger.info("consent refused", extra={"code": error.code, "field": error.field})
        return error_response(error, request_id)
    except Exception:  # a bug answers 503 (retry), never a stack trace
        logger.exception("consent update failed")
        return error_response(Unavailable("consent update failed; retry"), request_id)


def _summary(body: dict[str, Any]) -> dict[str, Any]:
    results = body["results"]
    return {
        "source": body["source"],
        "updates": len(results),
        "outcomes": sorted({r.get("reason") or r["error"]["code"] for r in results}),
    }
