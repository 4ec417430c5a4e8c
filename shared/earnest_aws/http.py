"""The HTTP edge shared by every function: Function URL (payload 2.0) events in, responses out.

Also the one registry that maps domain errors to statuses, so every handler answers bad
input the same way: a 4xx with `{"error": {"code", "message", "field"}}`, never a 500.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from earnest.errors import (
    ConcurrentModification,
    EarnestError,
    InvalidJson,
    InvalidRequest,
    PayloadTooLarge,
    Unauthorized,
    Unavailable,
)

STATUS_BY_ERROR: tuple[tuple[type[EarnestError], int], ...] = (
    (PayloadTooLarge, 413),
    (InvalidRequest, 400),
    (Unauthorized, 401),
    (ConcurrentModification, 409),
    (Unavailable, 503),
    (EarnestError, 400),
)

JSON_HEADERS = {"content-type": "application/json", "cache-control": "no-store"}


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    request_id: str

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


def parse_event(event: Mapping[str, Any], max_body_bytes: int) -> HttpRequest:
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
        request_id=str(context.get("requestId") or ""),
    )


def parse_json(body: bytes, field: str = "body") -> Any:
    if not body:
        raise InvalidJson("the body is empty; send a JSON document", field=field)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidJson(f"the body is not valid JSON ({exc.msg})", field=field) from None


def json_response(
    status: int, body: Any, headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {**JSON_HEADERS, **headers} if headers else JSON_HEADERS,
        "body": orjson.dumps(body).decode(),
    }


def error_response(error: EarnestError, request_id: str = "") -> dict[str, Any]:
    status = next(s for cls, s in STATUS_BY_ERROR if isinstance(error, cls))
    headers = {"retry-after": "1"} if status == 503 else None
    body: dict[str, Any] = {"error": error.as_dict()}
    if request_id:
        body["request_id"] = request_id
    return json_response(status, body, headers)


def method_not_allowed(request: HttpRequest, allowed: str = "POST") -> dict[str, Any] | None:
    if request.method == allowed:
        return None
    body = {"error": {"code": "method_not_allowed", "message": f"use {allowed}"}}
    return json_response(405, body, {"allow": allowed})
