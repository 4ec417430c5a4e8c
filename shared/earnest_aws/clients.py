"""Cached AWS clients, created once per cold start.

Built on botocore's session rather than boto3's: the low-level client is the same object
boto3 returns, and skipping boto3's import (s3transfer and friends) takes a third off
decide's cold start. `AWS_ENDPOINT_URL` (the local stack) is honoured by botocore itself.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any


@cache
def _session() -> Any:
    import botocore.session

    return botocore.session.get_session()


@cache
def client(service: str) -> Any:
    from botocore.config import Config

    config = Config(
        connect_timeout=float(os.environ.get("AWS_CONNECT_TIMEOUT", "1")),
        read_timeout=float(os.environ.get("AWS_READ_TIMEOUT", "2")),
        retries={"max_attempts": 2, "mode": "standard"},
        tcp_keepalive=True,
    )
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return _session().create_client(service, region_name=region, config=config)


def reset() -> None:
    """Forget cached clients (tests switch endpoints and credentials between cases)."""
    client.cache_clear()
    _session.cache_clear()
