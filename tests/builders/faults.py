"""Faults injected at the AWS client layer: a botocore `before-send` hook on a real client
(moto behind it) that fails like a hung or dropped connection, and counts the attempts."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import ReadTimeoutError


class Hung:
    """Every call of `operation` on `aws_client` times out (as a hung service), until `heal`."""

    def __init__(self, aws_client: Any, operation: str, failures: int = 10**9) -> None:
        self.attempts = 0
        self.failures = failures
        service = aws_client.meta.service_model.service_id.hyphenize()
        self.event = f"before-send.{service}.{operation}"
        self.client = aws_client
        aws_client.meta.events.register(self.event, self._send)

    def _send(self, request: Any, **_: Any) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise ReadTimeoutError(endpoint_url=request.url)

    def heal(self) -> None:
        self.client.meta.events.unregister(self.event, self._send)


@contextmanager
def silent_server() -> Iterator[str]:
    """An endpoint on 127.0.0.1 that accepts connections and never answers (a hung service)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()
