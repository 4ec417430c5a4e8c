"""decide: which variant of which experience, if any, for this visitor, consent enforced now.

Thin by design: the shared HTTP wrapper parses and maps errors; the decide service
(shared/earnest/decide/service.py) checks the request, reads consent and asks the engine.
Everything here is created once per cold start; per request it does one consent read.
"""

from __future__ import annotations

import time

from earnest.decide.service import decide
from earnest.jsonbody import read_json
from earnest.tokens import TokenSigner
from earnest_aws.clients import client
from earnest_aws.consent_store import ConsentStore
from earnest_aws.front_door import load_secrets
from earnest_aws.http import HttpRequest, Response, http_handler, json_response
from earnest_aws.logs import Logger
from earnest_aws.metrics import DecisionMetrics
from earnest_aws.rules_cache import RulesCache
from earnest_aws.settings import DecideSettings
from earnest_aws.snapstart import init_phase
from earnest_aws.snapstart import register as after_every_restore


def _connect() -> tuple[RulesCache, ConsentStore]:
    rules = RulesCache(SETTINGS, SIGNER, on_event=lambda n, fields: logger.info(n, extra=fields))
    return rules, ConsentStore(
        SETTINGS.consent_table, client("dynamodb", SETTINGS.consent_timeouts)
    )


with init_phase():
    logger = Logger()
    SETTINGS = DecideSettings.from_env()
    SIGNER = TokenSigner(SETTINGS.require_token_keys(), SETTINGS.token_ttl_seconds)
    METRICS = DecisionMetrics(SETTINGS.service)
    RULES, CONSENT = _connect()
    CLOCK = time.time  # the request's time (recency, caps, dismissals, tokens); tests move it


def _after_restore() -> None:
    """SnapStart: the snapshot's connections are dead and its rules may be days old."""
    global RULES, CONSENT
    RULES, CONSENT = _connect()
    RULES.refresh()


after_every_restore(_after_restore)


def _fail_closed() -> None:
    METRICS.count("consent_store_unavailable")
    logger.warning("consent store unreadable: failing closed")


@http_handler(
    "decide",
    logger,
    SETTINGS.max_body_bytes,
    metrics=METRICS,
    failed="decide_failed",
    retry_message="decide failed; serve the default",
    front_door=load_secrets(),
)
def handler(request: HttpRequest) -> Response:
    response = decide(
        read_json(request.body),
        RULES.engine(),
        CONSENT,
        max_placements=SETTINGS.max_placements,
        request_id=request.request_id,
        gpc=request.header("sec-gpc") == "1",
        on_fail_closed=_fail_closed,
        now=CLOCK(),
    )
    METRICS.record(response["decisions"])
    return json_response(200, response)
