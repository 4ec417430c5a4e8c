"""The local stack, started as a user starts it (`earnest serve`), once per test session.

tests/e2e holds the tests that start a process of their own, as a user would: the local stack
over HTTP, the `earnest` command, Chromium for the report's page, the edge's engine in Node.
Tests of code in this process (a handler against in-process moto, DuckDB over files) belong in
tests/integration."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.builders.stack import Stack, earnest, serving
from tests.conftest import EXAMPLES


@pytest.fixture(scope="session")
def stack_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the session's `earnest serve` writes: serve.log (its console), functions.log."""
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="session")
def stack(stack_dir: Path) -> Iterator[Stack]:
    with serving(stack_dir / "serve.log", stack_dir / "functions.log") as started:
        yield started


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of the module's own, for tests that must start from empty tables."""
    with serving(tmp_path_factory.mktemp("own-stack") / "serve.log") as started:
        yield started


@pytest.fixture(scope="module")
def pushed(stack: Stack) -> Stack:
    result = earnest("push", str(EXAMPLES), "--actor", "e2e", "--force", env=stack.env)
    assert result.returncode == 0, result.stderr
    return stack
