"""The local stack as an edge worker and a page use it: CORS, chunked bodies, busy ports,
a quiet console with each function's logs tagged by its service."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.builders.stack import Stack

DECIDE = {
    "visitor": {"anonymous_id": "a-local-stack-1"},
    "placements": ["home-hero"],
    "context": {"country": "DE", "device": "mobile"},
}


def connect(stack: Stack) -> http.client.HTTPConnection:
    url = urlsplit(stack.api_url)
    return http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)


def test_a_preflight_on_events_is_answered_with_the_templates_cors_rules(stack: Stack) -> None:
    conn = connect(stack)
    conn.request(
        "OPTIONS",
        "/events",
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, idempotency-key",
        },
    )
    reply = conn.getresponse()
    reply.read()
    assert reply.status == 200
    assert reply.getheader("access-control-allow-origin") == "*"
    assert reply.getheader("access-control-allow-methods") == "POST"
    assert reply.getheader("access-control-allow-headers") == "content-type, idempotency-key"
    assert reply.getheader("access-control-max-age") == "86400"


def test_a_preflight_for_a_header_the_template_does_not_allow_gets_no_grant(
    stack: Stack,
) -> None:
    conn = connect(stack)
    conn.request(
        "OPTIONS",
        "/events",
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-secret",
        },
    )
    reply = conn.getresponse()
    reply.read()
    assert reply.getheader("access-control-allow-origin") is None


def test_a_cross_origin_post_to_events_carries_the_allow_origin_header(stack: Stack) -> None:
    conn = connect(stack)
    body = json.dumps({"events": [], "consent": {"purposes": {"measurement": "granted"}}})
    conn.request(
        "POST",
        "/events",
        body=body,
        headers={"Origin": "https://shop.example", "content-type": "application/json"},
    )
    reply = conn.getresponse()
    reply.read()
    assert reply.getheader("access-control-allow-origin") == "*"


def test_a_chunked_body_is_read_whole(stack: Stack) -> None:
    raw = json.dumps(DECIDE).encode()
    conn = connect(stack)
    conn.request(
        "POST",
        "/decide",
        body=iter([raw[:17], raw[17:40], raw[40:]]),
        headers={"content-type": "application/json", "Transfer-Encoding": "chunked"},
        encode_chunked=True,
    )
    reply = conn.getresponse()
    answer = json.loads(reply.read())
    assert reply.status == 200, answer
    assert set(answer["decisions"]) == {"home-hero"}


def test_one_keep_alive_connection_serves_many_requests(stack: Stack) -> None:
    conn = connect(stack)
    for _ in range(5):
        conn.request(
            "POST", "/decide", body=json.dumps(DECIDE), headers={"content-type": "application/json"}
        )
        reply = conn.getresponse()
        assert reply.status == 200 and "decisions" in json.loads(reply.read())
    assert reply.getheader("connection") != "close"


def test_the_embedded_aws_keeps_a_connection_alive_as_aws_does(stack: Stack) -> None:
    """decide reads consent on every request: each read must not pay a new connection."""
    url = urlsplit(stack.aws_url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
    headers = {
        "x-amz-target": "DynamoDB_20120810.ListTables",
        "content-type": "application/x-amz-json-1.0",
        "authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/"
        "aws4_request, SignedHeaders=host, Signature=0",
    }
    sockets = []
    for _ in range(3):
        conn.request("POST", "/", body=b"{}", headers=headers)
        reply = conn.getresponse()
        assert reply.status == 200 and "TableNames" in json.loads(reply.read())
        assert (reply.getheader("connection") or "").lower() != "close"
        sockets.append(conn.sock)
    assert sockets[0] is not None and sockets.count(sockets[0]) == 3  # one connection


def test_the_embedded_aws_says_continue_before_an_upload_sends_its_body(stack: Stack) -> None:
    """botocore's S3 uploads (every /events batch) send `Expect: 100-continue` and hold the
    body until the interim answer comes, or a second passes: it must come at once."""
    url = urlsplit(stack.aws_url)
    body = b'{"type":"exposure"}\n'
    with socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), 10) as sock:
        sock.sendall(
            b"PUT /earnest-data/continue-probe.ndjson HTTP/1.1\r\n"
            + f"Host: {url.netloc}\r\nContent-Length: {len(body)}\r\n".encode()
            + b"Expect: 100-continue\r\n\r\n"
        )
        # Given only the headers sent, the server speaks first (the body is still held)
        interim = sock.recv(64)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), interim
        # and once the body follows, the upload is stored
        sock.sendall(body)
        final = b""
        while b"\r\n\r\n" not in final:
            final += sock.recv(4096)
    assert final.split(b"\r\n", 1)[0] == b"HTTP/1.1 200 OK", final


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_10_mb_body_is_answered_413_and_the_connection_serves_on(
    stack: Stack, chunked: bool
) -> None:
    """As a Function URL answers a body over its 6 MB limit: a 413 the caller can read, not
    a broken connection (the caller is still sending when the limit is found)."""
    big = b'{"events": [' + b" " * (10 * 1024 * 1024) + b"]}"
    conn = connect(stack)
    body: bytes | object = iter([big[i : i + 65536] for i in range(0, len(big), 65536)])
    conn.request(
        "POST",
        "/events",
        body=body if chunked else big,
        headers={"content-type": "application/json"},
        encode_chunked=chunked,
    )
    reply = conn.getresponse()
    answer = json.loads(reply.read())
    assert reply.status == 413 and answer["error"]["code"] == "payload_too_large"
    conn.request(
        "POST", "/decide", body=json.dumps(DECIDE), headers={"content-type": "application/json"}
    )
    assert conn.getresponse().status == 200


@pytest.mark.parametrize("which", ["--api-port", "--aws-port"])
def test_a_second_serve_on_a_busy_port_is_one_line_and_a_nonzero_exit(
    stack: Stack, which: str, tmp_path: Path
) -> None:
    busy = urlsplit(stack.api_url if which == "--api-port" else stack.aws_url).port
    other = "--aws-port" if which == "--api-port" else "--api-port"
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "earnest_cli",
            "serve",
            which,
            str(busy),
            other,
            "0",
            "--log",
            str(tmp_path / "functions.log"),
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert time.monotonic() - started < 20
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"port {busy} is not free" in lines[0], result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_serve_is_quiet_and_each_functions_logs_name_its_service(
    stack: Stack, stack_dir: Path
) -> None:
    conn = connect(stack)
    conn.request("POST", "/decide", body=b"{not json", headers={"content-type": "application/json"})
    assert conn.getresponse().status == 400
    console = (stack_dir / "serve.log").read_text()
    assert "functions' logs and metrics:" in console and '"_aws"' not in console
    deadline = time.monotonic() + 5
    logs = ""
    while time.monotonic() < deadline and '"service":"decide"' not in logs.replace(" ", ""):
        logs = (stack_dir / "functions.log").read_text()
        time.sleep(0.1)
    assert '"service":"decide"' in logs.replace(" ", "")
    assert "service_undefined" not in logs
