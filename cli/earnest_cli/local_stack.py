"""`earnest serve`: moto's server plus the functions' HTTP routes, all on 127.0.0.1.

Each route calls the real handler (`functions/<name>/app.py`) with the event a Lambda
Function URL sends (payload 2.0), so what runs locally is what runs in AWS: each function
with its own environment from template.yaml (its Powertools service name), and the Function
URL's CORS rules answering preflights. boto3 and the CLI reach the embedded AWS through the
standard AWS_ENDPOINT_URL.

An edge worker holds keep-alive connections open, so replies go out in one send with
Nagle off (otherwise delayed ACKs add ~40 ms per request), and chunked bodies are read.
A body over a Function URL's 6 MB is answered 413 (read to its end, so the caller, still
sending, gets the answer and keeps its connection).
moto's DynamoDB is not thread-safe, so the embedded AWS makes DynamoDB writes one at a
time, as concurrent consent updates through the routes need.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import logging
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar, TextIO

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from moto.server import ThreadedMotoServer

from earnest.consent.cmp.registry import CMPS
from earnest.consent.cmp.source import local_secret
from earnest_cli.template import FUNCTIONS, load_template

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
    # decide signs with the first; the second is the edge worker's (its EDGE_TOKEN_KEY), so
    # /events verifies the tokens of decisions made at the edge as it verifies decide's.
    "EXPOSURE_TOKEN_KEYS": "local:local-exposure-token-secret-0001,"
    "edge:local-edge-exposure-token-secret-0001",
    **{cmp.secret: local_secret(cmp) for cmp in CMPS},  # every registered CMP connected
    "POWERTOOLS_METRICS_NAMESPACE": "Earnest",
    # Locally a push (or a guardrail) should show within seconds, not AWS's 30.
    "RULES_TTL_SECONDS": "2",
    # ...and a loaded dev machine's moto may take longer than AWS's 0.1 s to answer a
    # refresh: wait for it rather than answer the defaults (the bound is then TTL + 1 s).
    "RULES_WAIT_SECONDS": "1",
    # Its moto answers in milliseconds when idle, but on a loaded two-core machine a write
    # can queue past the functions' AWS budgets (0.5 s, one attempt): give every call the
    # CLI's patience, three attempts of 2 s.
    "AWS_CONNECT_TIMEOUT": "1",
    "AWS_READ_TIMEOUT": "2",
    "AWS_MAX_ATTEMPTS": "3",
    "POWERTOOLS_DEV": "false",
}

# A Lambda Function URL refuses bodies over 6 MB before the function runs.
MAX_BODY_BYTES = 6 * 1024 * 1024
# An oversize body is read to its end (and dropped) up to this, so the caller, still
# sending, can read its 413 and keep the connection; past it the connection is closed.
MAX_DRAINED_BYTES = 64 * 1024 * 1024

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class PortBusy(Exception):
    """A port the stack was asked for is taken (by a second `earnest serve`, say)."""


def _function_properties(folder: str) -> dict[str, Any]:
    """The template's properties of the function whose code is `functions/<folder>/`."""
    for resource in load_template()["Resources"].values():
        props = resource.get("Properties") or {}
        if resource["Type"] == "AWS::Serverless::Function" and str(props.get("CodeUri", "")).rstrip(
            "/"
        ).endswith(f"functions/{folder}"):
            return dict(props)
    return {}


def service_name(folder: str) -> str:
    """The function's POWERTOOLS_SERVICE_NAME in the template (its logs' and metrics' tag)."""
    variables = (_function_properties(folder).get("Environment") or {}).get("Variables") or {}
    return str(variables.get("POWERTOOLS_SERVICE_NAME") or folder.replace("_", "-"))


def cors_rules(folder: str) -> dict[str, Any] | None:
    """The Function URL's `Cors` block in the template, if the function has one."""
    cors = (_function_properties(folder).get("FunctionUrlConfig") or {}).get("Cors")
    return dict(cors) if cors else None


def load_handler(folder: str) -> Handler | None:
    """Import `functions/<folder>/app.py` with its own template environment, as its cold
    start in Lambda would (Powertools reads its service name at import)."""
    from earnest_aws.settings import settings

    path = FUNCTIONS / folder / "app.py"
    if not path.exists():
        return None
    saved = os.environ.get("POWERTOOLS_SERVICE_NAME")
    os.environ["POWERTOOLS_SERVICE_NAME"] = service_name(folder)
    settings.cache_clear()
    try:
        spec = importlib.util.spec_from_file_location(f"earnest_function_{folder}", path)
        assert spec and spec.loader
        module: ModuleType = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    finally:
        if saved is None:
            os.environ.pop("POWERTOOLS_SERVICE_NAME", None)
        else:
            os.environ["POWERTOOLS_SERVICE_NAME"] = saved
        settings.cache_clear()
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


class _BadBody(Exception):
    def __init__(self, status: int, code: str, message: str, read_whole: bool = False) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.read_whole = read_whole  # the body was read to its end: the connection serves on


def _too_large(read_whole: bool) -> _BadBody:
    return _BadBody(413, "payload_too_large", f"body exceeds {MAX_BODY_BYTES} bytes", read_whole)


class _RouteHandler(BaseHTTPRequestHandler):
    handlers: ClassVar[dict[str, Handler]] = {}
    cors: ClassVar[dict[str, dict[str, Any]]] = {}
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # no 40 ms wait for a delayed ACK on keep-alive
    wbufsize = 64 * 1024  # headers and body leave in one send (flushed after each request)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: handlers log themselves
        pass

    def _serve(self) -> None:
        path, _, query = self.path.partition("?")
        cors = self.cors.get(path)
        if self.command == "OPTIONS" and cors is not None:
            self._preflight(cors)
            return
        try:
            body = self._read_body()
        except _BadBody as bad:
            self.close_connection = not bad.read_whole  # else what is left cannot be skipped
            self._error(bad.status, bad.code, bad.message)
            return
        handler = self.handlers.get(path)
        if handler is None:
            self._error(404, "not_found", "no such route", field="path")
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        headers.pop("transfer-encoding", None)  # a Function URL hands the function whole bodies
        event = function_url_event(self.command, path, query, headers, body, self.client_address[0])
        context = LambdaContext(path.strip("/"), event["requestContext"]["requestId"])
        response = handler(event, context)
        out = response.get("body") or ""
        data = base64.b64decode(out) if response.get("isBase64Encoded") else out.encode()
        reply_headers = dict(response.get("headers") or {})
        if cors is not None and (origin := self._allowed_origin(cors)):
            reply_headers["access-control-allow-origin"] = origin
        self._reply(int(response.get("statusCode", 200)), reply_headers, data)

    def _read_body(self) -> bytes:
        """The whole request body, sent with a content-length or in chunks."""
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            return self._read_chunks()
        raw = self.headers.get("content-length") or "0"
        if not raw.isdigit():
            raise _BadBody(400, "invalid_request", "content-length is not a number")
        length = int(raw)
        if length > MAX_BODY_BYTES:
            drained = length <= MAX_DRAINED_BYTES
            if drained:
                self._discard(length)
            raise _too_large(drained)
        return self.rfile.read(length) if length else b""

    def _discard(self, length: int) -> None:
        while length > 0:
            got = len(self.rfile.read(min(length, 1 << 16)))
            if not got:
                return
            length -= got

    def _read_chunks(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024).split(b";")[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise _BadBody(400, "invalid_request", "malformed chunked body") from None
            if size == 0:
                while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                if total > MAX_BODY_BYTES:
                    raise _too_large(read_whole=True)
                return b"".join(parts)
            total += size
            if total > MAX_DRAINED_BYTES:
                raise _too_large(read_whole=False)
            if total > MAX_BODY_BYTES:
                self._discard(size)  # read on to the end, keeping nothing
                parts.clear()
            else:
                parts.append(self.rfile.read(size))
            self.rfile.readline(8)  # the CRLF after each chunk

    def _allowed_origin(self, cors: dict[str, Any]) -> str | None:
        origin = self.headers.get("origin")
        allowed = [str(o) for o in cors.get("AllowOrigins") or []]
        if origin is None:
            return None
        if "*" in allowed:
            return "*"
        return origin if origin in allowed else None

    def _preflight(self, cors: dict[str, Any]) -> None:
        """What a Function URL with `Cors` answers to OPTIONS, without calling the function."""
        method = (self.headers.get("access-control-request-method") or "").upper()
        wanted = {
            h.strip().lower()
            for h in (self.headers.get("access-control-request-headers") or "").split(",")
            if h.strip()
        }
        methods = [str(m).upper() for m in cors.get("AllowMethods") or []]
        allowed_headers = [str(h).lower() for h in cors.get("AllowHeaders") or []]
        origin = self._allowed_origin(cors)
        headers: dict[str, str] = {}
        if (
            origin
            and (method in methods or "*" in methods)
            and ("*" in allowed_headers or wanted <= set(allowed_headers))
        ):
            headers = {
                "access-control-allow-origin": origin,
                "access-control-allow-methods": ", ".join(methods),
                "access-control-allow-headers": ", ".join(allowed_headers),
            }
            if "MaxAge" in cors:
                headers["access-control-max-age"] = str(cors["MaxAge"])
        self._reply(200, headers, b"")

    def _error(self, status: int, code: str, message: str, field: str = "body") -> None:
        error = {"error": {"code": code, "message": message, "field": field}}
        self._reply(status, {"content-type": "application/json"}, json.dumps(error).encode())

    def _reply(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_POST = _serve
    do_GET = _serve
    do_PUT = _serve
    do_DELETE = _serve
    do_PATCH = _serve
    do_HEAD = _serve
    do_OPTIONS = _serve


class _FunctionOutput(io.TextIOBase):
    """stdout that sends what the functions print (logs, EMF lines) to a file, as Lambda
    sends it to CloudWatch, and the command's own output to the console. Routed by thread:
    the thread that started the stack is the command's; every other one serves requests or
    was started by a function (decide's background rules refresh), so it goes to the log."""

    def __init__(self, console: TextIO, log: TextIO) -> None:
        self.console, self.log = console, log
        self.command = threading.current_thread()

    def write(self, text: str) -> int:
        target = self.console if threading.current_thread() is self.command else self.log
        return target.write(text)

    def flush(self) -> None:
        self.console.flush()
        self.log.flush()


@dataclass
class LocalStack:
    api_url: str
    aws_url: str
    routes: list[str]


def _probe(port: int, what: str) -> None:
    """Fail at once on a taken port: moto's server thread would print and exit, leaving
    its caller waiting forever."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise PortBusy(f"{what} port {port} is not free ({exc.strerror})") from None


class _Routes(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (an edge worker closing a kept-alive connection) is
        routine, not a traceback on the console."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _bind_routes(port: int) -> ThreadingHTTPServer:
    try:
        server = _Routes(("127.0.0.1", port), _RouteHandler)
    except OSError as exc:
        raise PortBusy(f"API port {port} is not free ({exc.strerror})") from None
    return server


# DynamoDB actions that only read (by prefix): they never wait for a write.
_READS = ("GetItem", "BatchGetItem", "TransactGetItems", "Query", "Scan", "Describe", "List")


class _OneDynamoDBWriteAtATime:
    """WSGI middleware before moto: DynamoDB writes in turn; reads and S3 concurrently.
    A moto transaction deep-copies every table for its rollback while another write changes
    them ("dictionary changed size during iteration": a 500, the consent update lost), and
    consent updates are transactions; DynamoDB itself serializes conflicting writes. Reads
    never take the lock, so decide's consent read is not held up by a write."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app, self.lock = app, threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        service, _, action = str(environ.get("HTTP_X_AMZ_TARGET", "")).partition(".")
        if not service.startswith("DynamoDB_") or action.startswith(_READS):
            return self.app(environ, start_response)
        with self.lock:  # the whole answer, body included, is made under the lock
            return list(self.app(environ, start_response))


def _moto_server(port: int) -> ThreadedMotoServer:
    """moto's ThreadedMotoServer, its app behind _OneDynamoDBWriteAtATime, its connections
    kept alive (_keep_alive_handler)."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    handler = _keep_alive_handler()

    class Serialized(ThreadedMotoServer):
        def _server_entry(self) -> None:  # moto's own, with the app wrapped
            app = _OneDynamoDBWriteAtATime(DomainDispatcherApplication(create_backend_app))
            self._server = make_server(
                self._ip_address, self._port, app, True, request_handler=handler
            )
            self._server_ready_event.set()
            self._server.serve_forever()

    return Serialized(ip_address="127.0.0.1", port=port, verbose=False)


def _keep_alive_handler() -> type[Any]:
    """moto's request handler (its environ: werkzeug's, with S3's underscored headers), with
    HTTP/1.1 keep-alive as AWS answers: werkzeug's development server closes every
    connection (`connection: close`, then it reads on to drain the socket), so each of
    decide's consent reads paid a new connection. Here the body is read whole, by its
    length, before the app runs, and the answer leaves in one send with its length."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class KeepAlive(MotoRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True
        wbufsize = 64 * 1024  # flushed after each request

        def handle_expect_100(self) -> bool:
            """The interim `100 Continue` leaves at once, not with the answer: a client that
            sent `Expect: 100-continue` (botocore's S3 uploads) waited a second for it."""
            super().handle_expect_100()
            self.wfile.flush()
            return True

        def run_wsgi(self) -> None:
            environ = self.make_environ()
            body = environ["wsgi.input"]
            length = environ.get("CONTENT_LENGTH")
            if environ.get("wsgi.input_terminated"):  # chunked: werkzeug dechunks it
                data = body.read()
            else:
                data = body.read(int(length)) if length and length.isdigit() else b""
            environ["wsgi.input"] = io.BytesIO(data)
            environ["CONTENT_LENGTH"] = str(len(data))
            environ.pop("wsgi.input_terminated", None)
            answer: list[Any] = []

            def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> Any:
                answer[:] = [status, headers]
                return lambda _data: None  # moto never writes outside its iterable

            chunks = self.server.app(environ, start_response)
            try:
                out = b"".join(chunks)
            finally:
                if hasattr(chunks, "close"):
                    chunks.close()
            status, headers = answer
            code, _, reason = status.partition(" ")
            self.send_response(int(code), reason)
            head = self.command == "HEAD"  # its length is the object's, with no body sent
            dropped = {"connection", "transfer-encoding"} | (set() if head else {"content-length"})
            for key, value in headers:
                if key.lower() not in dropped:
                    self.send_header(key, value)
            if not head or not any(k.lower() == "content-length" for k, _ in headers):
                self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            if not head:
                self.wfile.write(out)

    return KeepAlive


@contextmanager
def local_stack(
    api_port: int = 8787, aws_port: int = 5000, function_log: TextIO | None = None
) -> Iterator[LocalStack]:
    """Start moto's server and the routes; the process's environment points at them.

    With `function_log`, what the functions print goes there instead of the console.
    Raises PortBusy, before starting anything, when either port is taken.
    """
    server = _bind_routes(api_port)
    try:
        _probe(aws_port, "AWS (moto)")
    except PortBusy:
        server.server_close()
        raise
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request lines
    console = sys.stdout
    if function_log is not None:
        sys.stdout = _FunctionOutput(console, function_log)

    moto = _moto_server(aws_port)  # heavy: only once the ports are known free
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
    cors = {route: rules for route, folder in ROUTES.items() if (rules := cors_rules(folder))}
    server.RequestHandlerClass = type(
        "Routes", (_RouteHandler,), {"handlers": handlers, "cors": cors}
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LocalStack(f"http://127.0.0.1:{server.server_port}", aws_url, sorted(handlers))
    finally:
        server.shutdown()
        server.server_close()
        moto.stop()
        sys.stdout = console


DEFAULT_LOG = Path(".earnest/serve.log")


def _bundle_path() -> str:
    """Where every experiences write publishes the edge's bundle: in the local S3, as in AWS."""
    from earnest_aws.edge_bundle import EDGE_BUNDLE_KEY
    from earnest_aws.settings import settings

    return f"{settings().events_bucket}/{EDGE_BUNDLE_KEY}"


def serve_forever(
    api_port: int, aws_port: int, verbose: bool = False, log_path: Path = DEFAULT_LOG
) -> int:
    """Run until Ctrl-C. Quiet: the functions' logs and metrics go to `log_path` unless
    `verbose`; a taken port is one line on stderr and exit status 2."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with ExitStack() as scope:
        function_log = None if verbose else scope.enter_context(log_path.open("a"))
        try:
            stack = scope.enter_context(local_stack(api_port, aws_port, function_log))
        except PortBusy as exc:
            print(f"earnest serve: {exc}; is another `earnest serve` running?", file=sys.stderr)
            return 2
        print(f"earnest local stack: API {stack.api_url}  AWS {stack.aws_url}", flush=True)
        print(f"routes: {', '.join(stack.routes) or '(none yet)'}", flush=True)
        print(f"export AWS_ENDPOINT_URL={stack.aws_url}", flush=True)
        print(f"edge rules bundle: {stack.aws_url}/{_bundle_path()}", flush=True)
        if function_log is not None:
            print(f"functions' logs and metrics: {log_path} (--verbose shows them)", flush=True)
        print("ready", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0
    return 0
