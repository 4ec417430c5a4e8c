"""`earnest demo` behaves as the product asks every caller to: a 503 ("retry") is retried
with backoff, under the same idempotency key, and the retry's answer is the one used."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from earnest_cli import demo


def _reply(handler: BaseHTTPRequestHandler, status: int, data: bytes) -> None:
    handler.send_response(status)
    handler.send_header("content-type", "application/json")
    handler.send_header("content-length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


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
        _reply(self, status, json.dumps(body).encode())


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


class _Unready(BaseHTTPRequestHandler):
    """/decide answering `rules_unavailable` to the first `failures` posts (a rules refresh
    that outran its bound; with `mixed`, for the first placement only, the others decided
    as the worker decides them itself), then a decision with a token."""

    failures: ClassVar[int] = 0
    mixed: ClassVar[bool] = False
    seen: ClassVar[list[str]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        type(self).seen.append(self.path)
        if self.path == "/events":
            answer: dict[str, Any] = {"accepted": 1, "stored": 1}
        else:
            failing = sum(p == "/decide" for p in self.seen) <= self.failures
            answer = {"decisions": {}}
            for i, p in enumerate(demo.PLACEMENTS):
                unready = failing and (i == 0 or not self.mixed)
                answer["decisions"][p] = {
                    "experience": None if unready else "x",
                    "variant": None if unready else "b",
                    "reason": "rules_unavailable" if unready else "personalized",
                    "token": None if unready else "t",
                }
        _reply(self, 202 if self.path == "/events" else 200, json.dumps(answer).encode())


@pytest.mark.parametrize(
    ("failures", "mixed", "decided"), [(2, False, True), (2, True, True), (1000, False, False)]
)
def test_a_page_view_the_stack_could_not_decide_is_viewed_again(
    monkeypatch: pytest.MonkeyPatch, failures: int, mixed: bool, decided: bool
) -> None:
    # Given a stack whose rules are not ready for the first `failures` page views
    handler = type("Handler", (_Unready,), {"seen": [], "failures": failures, "mixed": mixed})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(demo, "_sleep", lambda _: None)
    site = demo.Site(f"http://127.0.0.1:{server.server_port}", None)
    visitor = demo.Visitor("u-1", "mobile", consents=True)
    try:
        # When a visitor views the page
        decisions = site.view(visitor, demo.Day(date(2026, 12, 1), 0))
    finally:
        server.shutdown()
        server.server_close()
    # Then the reload's decisions are the page's, and only its exposures were posted
    reasons = {d["reason"] for d in decisions.values()}
    if decided:
        assert reasons == {"personalized"} and site.retried == 2
        # (a mixed page's decided slots were posted each time, as a reload posts them)
        assert handler.seen.count("/events") == (3 if mixed else 1)
    else:  # a fault that does not clear ends the reloads, the page counted as it was
        assert reasons == {"rules_unavailable"}
        assert site.retried == demo.FAULTED_VIEW_ATTEMPTS - 1
        assert "/events" not in handler.seen


def test_no_example_remembers_exposures_so_a_reload_moves_no_later_decision() -> None:
    # A reload posts the exposures of the arms it shows again; with a frequency cap or a
    # dismissal among the examples that would change what the visitor is served next.
    from earnest_cli.files import load

    examples = load([demo.EXAMPLES]).experiences
    assert examples
    for _, doc in examples:
        assert "frequency_cap" not in doc and "dismiss_for_days" not in doc, doc["id"]


class _Worker(BaseHTTPRequestHandler):
    """The edge worker as the demo sees it: its first page mixed (one placement
    `rules_unavailable`, the slots it decided itself posted), then a decided page; and its
    relay's counts of the exposures it posted."""

    pages: ClassVar[int] = 0
    posted: ClassVar[int] = 0

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        cls = type(self)
        if self.path == "/stats":
            body = json.dumps({"batches": cls.pages, "events": cls.posted, "stored": cls.posted})
        else:
            cls.pages += 1
            decisions = {
                p: {
                    "reason": "rules_unavailable" if cls.pages == 1 and i == 0 else "personalized",
                    "token": None if cls.pages == 1 and i == 0 else f"t{cls.pages}-{i}",
                }
                for i, p in enumerate(demo.PLACEMENTS)
            }
            cls.posted += sum(bool(d["token"]) for d in decisions.values())
            body = (
                '<script type="application/json" id="earnest-decisions">'
                f"{json.dumps(decisions)}</script>"
            )
        _reply(self, 200, body.encode())


def test_the_exposures_of_a_reloaded_page_are_awaited_before_the_night(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a worker whose first page view is mixed: it posts the slots it decided itself
    handler = type("Handler", (_Worker,), {"pages": 0, "posted": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(demo, "_sleep", lambda _: None)
    url = f"http://127.0.0.1:{server.server_port}"
    site = demo.Site("http://127.0.0.1:9", demo.Edge(url, url, "secret"))
    visitor = demo.Visitor("u-1", "mobile", consents=True)
    try:
        # When the visitor's view is reloaded and the day's exposures are counted
        decisions = site.view(visitor, demo.Day(date(2026, 12, 1), 0))
        stored = site.exposures_stored([(visitor, decisions)])
    finally:
        server.shutdown()
        server.server_close()
    # Then the day waits for every exposure the worker posted, the reload's and the first's
    assert site.retried == 1
    assert site.posting == handler.posted == stored == 2 * len(demo.PLACEMENTS) - 1
