"""Cached AWS clients, created once per cold start, each with the timeouts its caller can afford.

Built on botocore's session rather than boto3's: the low-level client is the same object
boto3 returns, and skipping boto3's import (s3transfer and friends) takes a third off
decide's cold start. `AWS_ENDPOINT_URL` (the local stack) is honoured by botocore itself.
Stores take a client as a constructor argument and default to `client(service)`, so a
test (or a caller on a tighter budget) hands them another.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import Any


@dataclass(frozen=True, slots=True)
class Timeouts:
    """How long one call may wait: seconds to connect, seconds per read, total attempts."""

    connect: float = 1.0
    read: float = 2.0
    attempts: int = 3


# Off the request path (the report, the CLI, the rules refresh): patient.
PATIENT = Timeouts()
# On a request path with a budget (/events, /consent): one attempt, short waits, so a hung
# dependency costs well under a second per call and the caller's fallback (fail closed,
# 503 to retry) answers in time: /consent's 503 within 2 s even when its claim, its read
# and the claim's release each wait their full timeout.
ON_REQUEST = Timeouts(connect=0.25, read=0.5, attempts=1)
# decide's consent read, on the page's critical path: a hung or dead table costs at most
# about 0.2 s before decide fails closed, so its p99 stays within 300 ms
# (bench/bench_faults.py). DynamoDB answers a BatchGetItem in milliseconds.
ON_DECIDE = Timeouts(connect=0.15, read=0.2, attempts=1)


@cache
def _session() -> Any:
    import botocore.session

    return botocore.session.get_session()


@cache
def client(service: str, timeouts: Timeouts = PATIENT) -> Any:
    """The service's client with the caller's budget (AWS_CONNECT_TIMEOUT and
    AWS_READ_TIMEOUT, when set, in its place: earnest_aws.settings)."""
    from botocore.config import Config

    from earnest_aws.settings import with_overrides  # it imports this module

    timeouts = with_overrides(timeouts)
    config = Config(
        connect_timeout=timeouts.connect,
        read_timeout=timeouts.read,
        retries={"total_max_attempts": timeouts.attempts, "mode": "standard"},
        tcp_keepalive=True,
    )
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return _session().create_client(service, region_name=region, config=config)


def reset() -> None:
    """Forget cached clients (tests switch endpoints and credentials between cases)."""
    client.cache_clear()
    _session.cache_clear()
