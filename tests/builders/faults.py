"""Faults injected at the AWS client layer: botocore hooks on a real client (moto behind it)
that fail like a hung or dropped connection (`Hung`: before the request is sent; `Lost`:
after the service acted, its answer lost), and count the attempts; `Clock`, a clock that
moves only when the code under test sleeps (a throttled table: tests.builders.throttling)."""

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


class Lost:
    """The first `failures` calls of `operation` reach the service (moto does the write), but
    their answers are lost: the caller sees a read timeout, as after a dropped connection."""

    def __init__(self, aws_client: Any, operation: str, failures: int = 1) -> None:
        self.calls = 0
        self.failures = failures
        service = aws_client.meta.service_model.service_id.hyphenize()
        aws_client.meta.events.register(f"after-call.{service}.{operation}", self._lose)

    def _lose(self, http_response: Any = None, **_: Any) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise ReadTimeoutError(endpoint_url=getattr(http_response, "url", ""))


class Clock:
    """A clock that moves only when the code under test sleeps: backoff checked without waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


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


class Gate:
    """A TCP proxy on 127.0.0.1 in front of a service (moto's server) that can hang it.

    Passes traffic both ways until `hang()`; from then on, nothing goes through in either
    direction: a new connection is accepted and never answered, and a request on an open
    one is neither forwarded nor answered, so the caller's own connect and read timeouts
    are what it waits (a hung service, not a refused one). `kill()` is a dead one: every
    connection, open or new, is closed at once (the caller sees a reset, not a wait).
    `heal()` closes what was held; new connections pass again. Point a client at `url`
    (e.g. AWS_ENDPOINT_URL_DYNAMODB).
    """

    def __init__(self, target: str) -> None:
        host, _, port = target.removeprefix("http://").partition(":")
        self._target = (host, int(port))
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._hung = threading.Event()
        self._dead = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def hang(self) -> None:
        self._hung.set()

    def kill(self) -> None:
        self._dead.set()

    def heal(self) -> None:
        self._hung.clear()
        self._dead.clear()
        with self._lock:
            held, self._held = self._held, []
        for conn in held:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self.heal()
        self._server.close()

    def _hold(self, *conns: socket.socket) -> None:
        with self._lock:
            self._held.extend(conns)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn = self._server.accept()[0]
            except TimeoutError:
                continue
            except OSError:
                return
            if self._dead.is_set():
                conn.close()
                continue
            if self._hung.is_set():
                self._hold(conn)
                continue
            upstream = socket.create_connection(self._target)
            threading.Thread(target=self._pump, args=(conn, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, conn), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        source.settimeout(0.1)
        while not self._stop.is_set():
            try:
                data = source.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data or self._dead.is_set():
                break
            if self._hung.is_set():
                self._hold(source, sink)  # neither forwarded nor answered, until heal()
                return
            try:
                sink.sendall(data)
            except OSError:
                break
        for conn in (source, sink):
            conn.close()
