"""Helpers for tests of the local stack: the `earnest` command, HTTP posts, signed consent."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from earnest.consent.webhooks import parse_secrets, sign
from earnest_cli.local_stack import LOCAL_ENV

KEY = parse_secrets(LOCAL_ENV["CONSENT_WEBHOOK_SECRETS"])[0]


@dataclass(frozen=True)
class Stack:
    api_url: str
    aws_url: str
    env: dict[str, str]  # what a CLI or boto3 user exports to reach this stack


@contextmanager
def serving(log: Path, functions_log: Path | None = None) -> Iterator[Stack]:
    """`earnest serve` on free ports, started as a user starts it, with no AWS_* set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    functions_log = functions_log or log.with_name("functions.log")
    serve = ["serve", "--api-port", "0", "--aws-port", "0", "--log", str(functions_log)]
    with log.open("w") as out:  # a file, not a pipe: the handlers' logs can never block it
        process = subprocess.Popen(
            [sys.executable, "-m", "earnest_cli", *serve],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    text = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        text = log.read_text()
        if "\nready\n" in text:
            break
        time.sleep(0.05)
    found = re.search(r"API (\S+)\s+AWS (\S+)", text)
    if not found or "ready" not in text:
        process.kill()
        raise RuntimeError(f"earnest serve did not start:\n{text}")
    try:
        yield Stack(
            found.group(1), found.group(2), {**LOCAL_ENV, "AWS_ENDPOINT_URL": found.group(2)}
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def earnest(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "earnest_cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
    )


def post(
    url: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    req = urllib.request.Request(
        url, data=body, headers={"content-type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def signed_headers(raw: bytes) -> dict[str, str]:
    """The Standard Webhooks headers of the local stack's CMP for `raw`: a fresh id, now."""
    msg_id, ts = f"msg_{uuid.uuid4().hex}", int(time.time())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(KEY, msg_id, ts, raw),
    }


def send_consent(
    stack: Stack, body: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    raw = json.dumps(body).encode()
    if headers is None:
        headers = signed_headers(raw)
    status, _, answer = post(f"{stack.api_url}/consent", raw, headers)
    return status, answer
