"""Helpers for tests of the local stack: the `earnest` command, HTTP posts, signed consent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

from earnest.consent.webhooks import parse_secrets, sign
from earnest_cli.local_stack import LOCAL_ENV

KEY = parse_secrets(LOCAL_ENV["CONSENT_WEBHOOK_SECRETS"])[0]


@dataclass(frozen=True)
class Stack:
    api_url: str
    aws_url: str
    env: dict[str, str]  # what a CLI or boto3 user exports to reach this stack


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


def send_consent(
    stack: Stack, body: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    raw = json.dumps(body).encode()
    if headers is None:
        msg_id, ts = f"msg_{uuid.uuid4().hex}", int(time.time())
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": str(ts),
            "webhook-signature": sign(KEY, msg_id, ts, raw),
        }
    status, _, answer = post(f"{stack.api_url}/consent", raw, headers)
    return status, answer
