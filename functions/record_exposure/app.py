"""record-exposure: POST /events, every shown experience and every conversion, stored once.

Thin by design: parse the Function URL event, hand the body to the events service
(shared/earnest/events/service.py: judge each event, keep the consented, one S3 PUT), map
errors, answer 202. A consent store or bucket that fails answers 503 with Retry-After and
acknowledges nothing. Logs and metrics carry counts and reasons, never a unit id.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger

from earnest.errors import EarnestError, Unavailable
from earnest.events.service import receive
from earnest.tokens import TokenSigner
from earnest_aws.clients import client
from earnest_aws.consent_store import ConsentStore
from earnest_aws.events_config import load_limits
from earnest_aws.events_store import EventsStore
from earnest_aws.http import error_response, json_response, method_not_allowed, parse_event
from earnest_aws.metrics import Counts
from earnest_aws.settings import settings as load_settings

logger = Logger()
SETTINGS = load_settings()
LIMITS = load_limits()
SIGNER = TokenSigner(SETTINGS.require_token_keys(), SETTINGS.token_ttl_seconds)
CONSENT = ConsentStore(SETTINGS.consent_table)
STORE = EventsStore(SETTINGS.events_bucket)
METRICS = Counts(SETTINGS.service)
COUNTED = ("received", "accepted", "stored", "no_consent", "rejected")
CLOCK = time.time  # the receive time; tests pin it
client("s3"), client("dynamodb")  # connect at init, not on the first request


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request_id = ""
    try:
        request = parse_event(event, LIMITS.max_body_bytes)
        request_id = request.request_id or str(uuid.uuid4())
        if (refused := method_not_allowed(request)) is not None:
            return refused
        body = receive(
            request.body,
            request_id,
            SIGNER,
            CONSENT,
            STORE,
            idempotency_key=request.header("idempotency-key"),
            gpc=request.header("sec-gpc") == "1",
            regime=SETTINGS.consent_regime,
            limits=LIMITS,
            now=CLOCK(),
        )
        _record(body)
        return json_response(202, body)
    except EarnestError as error:
        logger.info("events refused", extra={"code": error.code, "field": error.field})
        # A 503 (S3 or the consent table failing) is what the events_failed alarm watches.
        METRICS.count(
            "events_failed" if isinstance(error, Unavailable) else f"refused_{error.code}"
        )
        return error_response(error, request_id)
    except Exception:  # a bug answers 503 (retry, nothing acknowledged), never a stack trace
        logger.exception("record-exposure failed")
        METRICS.count("events_failed")
        return error_response(Unavailable("events were not recorded; retry"), request_id)


def _record(body: Mapping[str, Any]) -> None:
    reasons: dict[str, int] = {}
    for rejection in body["rejections"]:
        reasons[rejection["reason"]] = reasons.get(rejection["reason"], 0) + 1
    summary = {name: body[name] for name in COUNTED}
    extra = {**summary, "replayed": body["replayed"], "reasons": reasons}
    logger.info("events received", extra=extra)
    METRICS.emit({f"events_{name}": n for name, n in summary.items()})
