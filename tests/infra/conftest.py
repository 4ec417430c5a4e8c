"""Fixtures for tests of what is deployed: a moto server on loopback, a wheel cache."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def wheel_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """pip's cache for this test session only; pip runs on the real clock.

    The suite's second pass runs under libfaketime a year ahead; PyPI's TLS certificate is
    not valid then, and nothing a build downloads depends on the date, so pip's
    subprocesses are started without the preload.
    """
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n == "LD_PRELOAD" or n.startswith("FAKETIME")]:
            patch.delenv(name)
        yield tmp_path_factory.mktemp("wheels")


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """moto's server on 127.0.0.1: what a clean interpreter's boto3 reaches."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
