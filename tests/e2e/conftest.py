"""The local stack, started as a user starts it (`earnest serve`), once per test session."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.builders.stack import Stack, earnest
from tests.conftest import EXAMPLES


@pytest.fixture(scope="session")
def stack_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the session's `earnest serve` writes: serve.log (its console), functions.log."""
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="session")
def stack(stack_dir: Path) -> Iterator[Stack]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    folder = stack_dir
    log = folder / "serve.log"
    with log.open("w") as out:  # a file, not a pipe: the handlers' logs can never block it
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "earnest_cli",
                "serve",
                "--api-port",
                "0",
                "--aws-port",
                "0",
                "--log",
                str(folder / "functions.log"),
            ],
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
    from earnest_cli.local_stack import LOCAL_ENV

    stack_env = {**LOCAL_ENV, "AWS_ENDPOINT_URL": found.group(2)}
    try:
        yield Stack(found.group(1), found.group(2), stack_env)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def pushed(stack: Stack) -> Stack:
    result = earnest("push", str(EXAMPLES), "--actor", "e2e", env=stack.env)
    assert result.returncode == 0, result.stderr
    return stack
