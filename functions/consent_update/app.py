"""consent-update: POST /consent, signed consent changes from CMPs, in force at once.

Thin by design: the shared HTTP wrapper parses and maps errors; the consent service
(shared/earnest/consent/service.py: authenticate, read the payload, apply each update)
does the rest. Logs carry counts and outcomes, never a subject id or a consent string:
the request id is enough to find the history entries an auditor needs.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from earnest.consent.service import receive
from earnest_aws.clients import client
from earnest_aws.consent_config import CachedConfig
from earnest_aws.consent_writer import ConsentWriter
from earnest_aws.http import HttpRequest, Response, http_handler, json_response
from earnest_aws.metrics import Counts
from earnest_aws.settings import ConsentSettings

logger = Logger()
SETTINGS = ConsentSettings.from_env()
CONFIG = CachedConfig(ttl=SETTINGS.secrets_ttl_seconds)
CONFIG.get()  # read the secrets at init: a misconfiguration fails the cold start, loudly
STORE = ConsentWriter(SETTINGS.consent_table, client("dynamodb", SETTINGS.timeouts))
METRICS = Counts(SETTINGS.service)


@http_handler(
    "consent",
    logger,
    SETTINGS.max_body_bytes,
    metrics=METRICS,
    failed="consent_failed",
    retry_message="consent update failed; retry",
)
def handler(request: HttpRequest) -> Response:
    body = receive(request.headers, request.body, request.request_id, CONFIG.get(), STORE)
    logger.info("consent received", extra=_summary(body))
    METRICS.emit(outcome_counts(body["results"]))
    return json_response(200, body)


def outcome_counts(results: list[dict[str, Any]]) -> dict[str, int]:
    """`consent_<reason>` per applied or kept update, `consent_refused_<code>` per refused."""
    counts: dict[str, int] = {}
    for r in results:
        name = (
            f"consent_{r['reason']}" if "reason" in r else f"consent_refused_{r['error']['code']}"
        )
        counts[name] = counts.get(name, 0) + 1
    return counts


def _summary(body: dict[str, Any]) -> dict[str, Any]:
    results = body["results"]
    return {
        "source": body["source"],
        "updates": len(results),
        "outcomes": sorted({r.get("reason") or r["error"]["code"] for r in results}),
    }
