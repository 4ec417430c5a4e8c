"""record-exposure: POST /events, every shown experience and every conversion, stored once.

Thin by design: the shared HTTP wrapper parses and maps errors; the events service
(shared/earnest/events/service.py: judge each event, keep the consented, one S3 PUT, the
units' memory where consent allows) does the rest; answer 202. A consent store or bucket
that fails answers 503 with Retry-After (counted as `events_failed`, which an alarm
watches) and acknowledges nothing. Logs and
metrics carry counts and reasons, never a unit id.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger

from earnest.events.service import receive
from earnest.tokens import TokenSigner
from earnest_aws.clients import client
from earnest_aws.consent_store import ConsentStore
from earnest_aws.events_store import EventsStore
from earnest_aws.front_door import load_secrets
from earnest_aws.http import HttpRequest, Response, http_handler, json_response
from earnest_aws.memory_store import MemoryStore
from earnest_aws.metrics import Counts
from earnest_aws.rules_cache import RulesCache
from earnest_aws.settings import EventsSettings

logger = Logger()
SETTINGS = EventsSettings.from_env()
SIGNER = TokenSigner(SETTINGS.require_token_keys(), SETTINGS.token_ttl_seconds)
DYNAMODB = client("dynamodb", SETTINGS.timeouts)
CONSENT = ConsentStore(SETTINGS.consent_table, DYNAMODB)
MEMORY = MemoryStore(SETTINGS.consent_table, DYNAMODB)  # units' memory, beside their consent
# Which experiences' exposures memory counts (those with a cap or a dismissal): read from
# the rules as decide reads them, only for a batch with exposures.
RULES = RulesCache(SETTINGS, None, on_event=lambda name, fields: logger.info(name, extra=fields))
STORE = EventsStore(SETTINGS.events_bucket, client("s3", SETTINGS.timeouts))
METRICS = Counts(SETTINGS.service)
COUNTED = ("received", "accepted", "stored", "no_consent", "rejected")
CLOCK = time.time  # the receive time; tests pin it


@http_handler(
    "events",
    logger,
    SETTINGS.limits.max_body_bytes,
    metrics=METRICS,
    failed="events_failed",
    retry_message="events were not recorded; retry",
    front_door=load_secrets(),
)
def handler(request: HttpRequest) -> Response:
    body = receive(
        request.body,
        request.request_id,
        SIGNER,
        CONSENT,
        STORE,
        idempotency_key=request.header("idempotency-key"),
        gpc=request.header("sec-gpc") == "1",
        regime=SETTINGS.consent_regime,
        limits=SETTINGS.limits,
        now=CLOCK(),
        memory=MEMORY,
        remembering=_remembering,
    )
    _record(body)
    return json_response(202, body)


def _remembering() -> frozenset[str] | None:
    """The live experiences that read memory; None (count every one) without rules."""
    engine = RULES.engine()
    return None if engine is None else engine.remembering


def _record(body: Mapping[str, Any]) -> None:
    reasons: dict[str, int] = {}
    for rejection in body["rejections"]:
        reasons[rejection["reason"]] = reasons.get(rejection["reason"], 0) + 1
    summary = {name: body[name] for name in COUNTED}
    extra = {**summary, "replayed": body["replayed"], "reasons": reasons}
    logger.info("events received", extra=extra)
    METRICS.emit({f"events_{name}": n for name, n in summary.items()})
