"""The HTTP edge shared by every HTTP function: Function URL (payload 2.0) events in, responses out.

`http_handler` is the one wrapper the three HTTP handlers share: it parses the event,
refuses other methods, binds the request id to the logger (every log line carries it as
`correlation_id`) and to every error body (the 413 included), and maps domain errors to
statuses through the one registry, `STATUS_BY_ERROR`: a 4xx with
`{"error": {"code", "message", "field"}}`, a 503 with Retry-After, never a 500 or a trace.
A light decorator rather than Powertools' resolver: decide pays for no router.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import wraps
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from earnest.errors import (
    ConcurrentModification,
    EarnestError,
    MethodNotAllowed,
    PayloadTooLarge,
    Unauthorized,
    Unavailable,
)
from earnest_aws.front_door import require

if TYPE_CHECKING:
    from earnest_aws.metrics import Counts

STATUS_BY_ERROR: tuple[tuple[type[EarnestError], int], ...] = (
    (PayloadTooLarge, 413),
    (MethodNotAllowed, 405),
    (Unauthorized, 401),
    (ConcurrentModification, 409),
    (Unavailable, 503),
    (EarnestError, 400),
)

JSON_HEADERS = {"content-type": "application/json", "cache-control": "no-store"}
ALLOWED_METHOD = "POST"

Response = dict[str, Any]


class Logger(Protocol):
    """What the wrapper logs through: Powertools' Logger, or decide's (earnest_aws.logs)."""

    def set_correlation_id(self, value: str | None) -> None: ...
    def info(self, msg: str, /, *, extra: Mapping[str, Any] | None = None) -> None: ...
    def exception(self, msg: str, /, *, extra: Mapping[str, Any] | None = None) -> None: ...


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    request_id: str

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


def request_id_of(event: Mapping[str, Any]) -> str:
    """The Function URL's request id; one of our own when the event carries none."""
    return str((event.get("requestContext") or {}).get("requestId") or uuid.uuid4())


def parse_event(
    event: Mapping[str, Any], max_body_bytes: int, request_id: str | None = None
) -> HttpRequest:
    """A Function URL / HTTP API v2 event as a request; oversize bodies are refused here."""
    context = event.get("requestContext") or {}
    http = context.get("http") or {}
    raw = event.get("body") or ""
    if len(raw) > max_body_bytes * 4 // 3 + 4:
        raise PayloadTooLarge(f"body exceeds {max_body_bytes} bytes", field="body")
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()
    if len(body) > max_body_bytes:
        raise PayloadTooLarge(f"body exceeds {max_body_bytes} bytes", field="body")
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    return HttpRequest(
        method=str(http.get("method", "POST")).upper(),
        path=str(event.get("rawPath") or http.get("path") or "/"),
        headers=headers,
        body=body,
        request_id=request_id if request_id is not None else request_id_of(event),
    )


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    return {
        "statusCode": status,
        "headers": {**JSON_HEADERS, **headers} if headers else JSON_HEADERS,
        "body": orjson.dumps(body).decode(),
    }


def status_of(error: EarnestError) -> int:
    return next(s for cls, s in STATUS_BY_ERROR if isinstance(error, cls))


def error_response(error: EarnestError, request_id: str = "") -> Response:
    status = status_of(error)
    headers: dict[str, str] | None = None
    if status == 503:
        headers = {"retry-after": "1"}
    elif isinstance(error, MethodNotAllowed):
        headers = {"allow": error.allowed}
    body: dict[str, Any] = {"error": error.as_dict()}
    if request_id:
        body["request_id"] = request_id
    return json_response(status, body, headers)


def http_handler(
    name: str,
    logger: Logger,
    max_body_bytes: int,
    *,
    metrics: Counts | None = None,
    failed: str = "",
    retry_message: str = "the request failed; retry",
    front_door: tuple[bytes, ...] = (),
) -> Callable[[Callable[[HttpRequest], Response]], Callable[[Mapping[str, Any], Any], Response]]:
    """Wrap `serve(request) -> response` as a Lambda handler of a POST route.

    With `front_door` secrets (FrontDoor=header, earnest_aws.front_door), a request without
    one of them in `x-earnest-edge-secret` is refused (401) before any work.

    A refused request logs `<name> refused` with its code and field and counts
    `refused_<code>`; a dependency that failed (Unavailable) or a bug answers 503 (retry,
    nothing acknowledged), counted as `failed`, a bug logged with its traceback.
    """

    def wrap(
        serve: Callable[[HttpRequest], Response],
    ) -> Callable[[Mapping[str, Any], Any], Response]:
        @wraps(serve)
        def handler(event: Mapping[str, Any], context: Any) -> Response:
            request_id = request_id_of(event)
            logger.set_correlation_id(request_id)
            try:
                request = parse_event(event, max_body_bytes, request_id)
                if front_door:
                    require(request.headers, front_door)
                if request.method != ALLOWED_METHOD:
                    raise MethodNotAllowed(f"use {ALLOWED_METHOD}", allowed=ALLOWED_METHOD)
                return serve(request)
            except EarnestError as error:
                logger.info(f"{name} refused", extra={"code": error.code, "field": error.field})
                if metrics is not None:
                    unavailable = isinstance(error, Unavailable)
                    metrics.count(failed if unavailable and failed else f"refused_{error.code}")
                return error_response(error, request_id)
            except Exception:
                logger.exception(f"{name} failed")
                if metrics is not None and failed:
                    metrics.count(failed)
                return error_response(Unavailable(retry_message), request_id)

        return handler

    return wrap
