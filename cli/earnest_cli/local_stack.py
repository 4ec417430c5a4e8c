"""`earnest serve`: moto's server plus the functions' HTTP routes, all on 127.0.0.1.

Each route calls the real handler (`functions/<name>/app.py`) with the event a Lambda
Function URL sends (payload 2.0), so what runs locally is what runs in AWS. boto3 and the
CLI reach the embedded AWS through the standard AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any, ClassVar, TextIO

from earnest_cli.template import FUNCTIONS

# Route -> function folder. Functions not built yet are skipped, not faked.
ROUTES = {
    "/decide": "decide",
    "/events": "record_exposure",
    "/consent": "consent_update",
}

LOCAL_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    # Local-only secrets, so the stack runs with no account; never used in AWS.
    "EXPOSURE_TOKEN_KEYS": "local:local-exposure-token-secret-0001",
    "CONSENT_WEBHOOK_SECRETS": "whsec_bG9jYWwtY29uc2VudC13ZWJob29rLXNlY3JldA==",
    "CONSENT_DIDOMI_TOKENS": "local-didomi-bearer-token-0001",
    "CONSENT_KETCH_TOKENS": "local-ketch-bearer-token-0001",
    "CONSENT_USERCENTRICS_CREDENTIALS": "usercentrics:local-usercentrics-password",
    "POWERTOOLS_METRICS_NAMESPACE": "Earnest",
    # Locally a push (or a guardrail) should show within seconds, not AWS's 30.
    "RULES_TTL_SECONDS": "2",
    "POWERTOOLS_DEV": "false",
}

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def load_handler(folder: str) -> Handler | None:
    path = FUNCTIONS / folder / "app.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(f"earnest_function_{folder}", path)
    assert spec and spec.loader
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    handler: Handler = module.handler
    return handler


@dataclass
class LambdaContext:
    """What Lambda passes as `context`: enough for Powertools and our handlers."""

    function_name: str
    aws_request_id: str
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:local"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def function_url_event(
    method: str, path: str, query: str, headers: dict[str, str], body: bytes, source_ip: str
) -> dict[str, Any]:
    """The payload 2.0 event a Lambda Function URL delivers for this HTTP request."""
    now = datetime.now(UTC)
    text_like = headers.get("content-type", "").startswith(("application/json", "text/"))
    try:
        body_text, encoded = (body.decode(), False) if text_like else (None, True)
    except UnicodeDecodeError:
        body_text, encoded = None, True
    if encoded:
        body_text = base64.b64encode(body).decode()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "body": body_text if body else None,
        "isBase64Encoded": encoded if body else False,
    }


class _RouteHandler(BaseHTTPRequestHandler):
    handlers: ClassVar[dict[str, Handler]] = {}
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: handlers log themselves
        pass

    def _serve(self) -> None:
        _in_function.active = True  # what the function prints goes to the function log
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        handler = self.handlers.get(path)
        if handler is None:
            self._reply(
                404,
                {"content-type": "application/json"},
                b'{"error":{"code":"not_found","message":"no such route"}}',
            )
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        event = function_url_event(self.command, path, query, headers, body, self.client_address[0])
        context = LambdaContext(path.strip("/"), event["requestContext"]["requestId"])
        response = handler(event, context)
        out = response.get("body") or ""
        data = base64.b64decode(out) if response.get("isBase64Encoded") else out.encode()
        self._reply(int(response.get("statusCode", 200)), response.get("headers") or {}, data)

    def _reply(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = _serve
    do_GET = _serve
    do_PUT = _serve


_in_function = threading.local()


class _FunctionOutput(io.TextIOBase):
    """stdout that sends what the functions print (logs, EMF lines) to a file, as Lambda
    sends it to CloudWatch, and everything else to the console. Routed per thread, so a
    command printing while requests are served stays readable."""

    def __init__(self, console: TextIO, log: TextIO) -> None:
        self.console, self.log = console, log

    def write(self, text: str) -> int:
        target = self.log if getattr(_in_function, "active", False) else self.console
        return target.write(text)

    def flush(self) -> None:
        self.console.flush()
        self.log.flush()


@dataclass
class LocalStack:
    api_url: str
    aws_url: str
    routes: list[str]


@contextmanager
def local_stack(
    api_port: int = 8787, aws_port: int = 5000, function_log: TextIO | None = None
) -> Iterator[LocalStack]:
    """Start moto's server and the routes; the process's environment points at them.

    With `function_log`, what the functions print goes there instead of the console.
    """
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request lines
    console = sys.stdout
    if function_log is not None:
        sys.stdout = _FunctionOutput(console, function_log)

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=aws_port, verbose=False)
    moto.start()
    aws_port = moto._server.server_port  # type: ignore[union-attr]  # the real port if 0
    aws_url = f"http://127.0.0.1:{aws_port}"
    for key, value in LOCAL_ENV.items():
        os.environ.setdefault(key, value)
    os.environ["AWS_ENDPOINT_URL"] = aws_url

    from earnest_aws.clients import client, reset
    from earnest_aws.settings import settings
    from earnest_cli.template import create_resources

    reset()
    settings.cache_clear()
    create_resources(client("dynamodb"), client("s3"), settings())

    handlers = {route: h for route, folder in ROUTES.items() if (h := load_handler(folder))}
    server_class = type("Routes", (_RouteHandler,), {"handlers": handlers})
    server = ThreadingHTTPServer(("127.0.0.1", api_port), server_class)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LocalStack(f"http://127.0.0.1:{server.server_port}", aws_url, sorted(handlers))
    finally:
        server.shutdown()
        moto.stop()
        sys.stdout = console


def serve_forever(api_port: int, aws_port: int) -> int:
    with local_stack(api_port, aws_port) as stack:
        print(f"earnest local stack: API {stack.api_url}  AWS {stack.aws_url}", flush=True)
        print(f"routes: {', '.join(stack.routes) or '(none yet)'}", flush=True)
        print(f"export AWS_ENDPOINT_URL={stack.aws_url}", flush=True)
        print("ready", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0
