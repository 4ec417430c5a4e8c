"""Invoke a function's real handler with the event a Lambda Function URL delivers."""

from __future__ import annotations

from typing import Any

import orjson

from earnest_cli.local_stack import LambdaContext, function_url_event, load_handler


def invoke(
    folder: str,
    body: Any,
    headers: dict[str, str] | None = None,
    method: str = "POST",
    raw: bytes | None = None,
    handler: Any = None,
) -> tuple[int, dict[str, str], Any]:
    fn = handler or load_handler(folder)
    assert fn is not None, f"functions/{folder}/app.py is missing"
    data = raw if raw is not None else orjson.dumps(body)
    hdrs = {"content-type": "application/json", **(headers or {})}
    event = function_url_event(method, f"/{folder}", "", hdrs, data, "127.0.0.1")
    response = fn(event, LambdaContext(folder, event["requestContext"]["requestId"]))
    text = response.get("body") or "null"
    return response["statusCode"], response.get("headers", {}), orjson.loads(text)
