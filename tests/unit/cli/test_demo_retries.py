"""`earnest demo` behaves as the product asks every caller to: a 503 ("retry") is retried
with backoff, under the same idempotency key, and the retry's answer is the one used."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from earnest_cli import demo


class _Flaky(BaseHTTPRequestHandler):
    """Answers 503 `unavailable` to the first `failures` posts, then 202."""

    failures: ClassVar[int] = 0
    seen: ClassVar[list[tuple[str, str | None]]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        type(self).seen.append((self.path, self.headers.get("idempotency-key")))
        failing = len(self.seen) <= self.failures
        status = 503 if failing else 202
        body = (
            {"error": {"code": "unavailable", "message": "the consent store cannot be read"}}
            if failing
            else {"accepted": 1, "stored": 1}
        )
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def flaky() -> Iterator[tuple[str, type[_Flaky]]]:
    handler = type("Handler", (_Flaky,), {"seen": [], "failures": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", handler
    server.shutdown()
    server.server_close()


def test_a_503_from_events_is_retried_under_the_same_key(
    flaky: tuple[str, type[_Flaky]], monkeypatch: pytest.MonkeyPatch
) -> None:
    api, handler = flaky
    handler.failures = 3
    waits: list[float] = []
    monkeypatch.setattr(demo, "_sleep", waits.append)
    assert demo.post_events(api, {"events": [{"type": "conversion"}]}) == 1
    assert len(handler.seen) == 4
    assert len({key for _, key in handler.seen}) == 1  # one key: the retries store no copy
    assert waits == sorted(waits) and waits[0] > 0  # backing off


def test_a_dependency_down_for_good_ends_the_demo_in_one_line(
    flaky: tuple[str, type[_Flaky]], monkeypatch: pytest.MonkeyPatch
) -> None:
    api, handler = flaky
    handler.failures = 1000
    monkeypatch.setattr(demo, "_sleep", lambda _: None)
    with pytest.raises(demo.DemoError, match="/events answered 503 after 6 attempts"):
        demo.post_events(api, {"events": []})
