"""Withdrawal to enforcement: from a CMP's signed withdrawal reaching /consent to the first
/decide that honours it, through the local stack over real HTTP. Prints p50/p99.

Scenario: `earnest serve` on free ports, the examples pushed. Per trial a signed-in
visitor interested in hiking consents through the signed webhook and is personalized by
`hiking-hero` (holdouts skipped); then a poller posts /decide for that visitor back to back
on its own keep-alive connection while the CMP's signed withdrawal is posted to /consent.
Measured, per trial: from the moment the withdrawal is sent to the arrival of the first
/decide answer that honours it (`no_consent`, the default content), and /consent's own
round trip; counted: answers still personalized for a /decide sent after /consent answered
200 (the promise is that there are none).

This measures decide's path only. The edge worker's local decisions (decided at the edge
from a published rules bundle) are not measured here.

    .venv/bin/python bench/bench_withdrawal.py [--trials 100]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "shared"), str(ROOT / "cli"), str(ROOT)]

from tests.builders.stack import earnest, serving, signed_headers  # noqa: E402

PLACEMENT = "home-hero"
EXPERIENCE = "hiking-hero"


def decide_body(subject: str) -> bytes:
    """A signed-in visitor whose profile matches hiking-hero's audience."""
    return json.dumps(
        {
            "visitor": {"anonymous_id": subject, "user_id": f"u-{subject}"},
            "placements": [PLACEMENT],
            "context": {"country": "US", "device": "desktop"},
            "attributes": {"last_category": "hiking"},
        }
    ).encode()


def consent_body(subject: str, personalization: str) -> bytes:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return json.dumps(
        {
            "subject_id": subject,
            "event_id": f"e-{uuid.uuid4().hex}",
            "event_time": now,
            "source": "bench-cmp",
            "jurisdiction": "DE",
            "purposes": {"personalization": personalization, "measurement": "granted"},
        }
    ).encode()


class Client:
    """One keep-alive connection, as an edge worker's or a CMP's HTTP client keeps one."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def post(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> Any:
        hdrs = {"content-type": "application/json", **(headers or {})}
        try:
            self.conn.request("POST", path, body=body, headers=hdrs)
            reply = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError):  # closed while idle: reopen
            self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            self.conn.request("POST", path, body=body, headers=hdrs)
            reply = self.conn.getresponse()
        data = reply.read()
        if reply.status != 200:
            raise SystemExit(f"{path} answered {reply.status}: {data[:200]!r}")
        return json.loads(data)

    def decision(self, subject: str) -> dict[str, Any]:
        decision: dict[str, Any] = self.post("/decide", decide_body(subject))["decisions"][
            PLACEMENT
        ]
        return decision

    def consent(self, subject: str, personalization: str) -> Any:
        raw = consent_body(subject, personalization)
        return self.post("/consent", raw, signed_headers(raw))


@dataclass
class Poller:
    """Posts /decide for one visitor back to back; records (sent, answered, reason)."""

    url: str
    subject: str
    answers: list[tuple[float, float, str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        client = Client(self.url)
        while not self.stop.is_set():
            sent = time.perf_counter()
            reason = client.decision(self.subject)["reason"]
            self.answers.append((sent, time.perf_counter(), reason))


@dataclass(frozen=True)
class Trial:
    to_enforcement_ms: float  # withdrawal sent -> first honouring /decide answer
    consent_ms: float  # /consent's round trip
    stale_after_ack: int  # /decide sent after the 200 and still personalized


def stored(answer: Any) -> None:
    """The update is in force: applied, or found already stored (a slow store's write that
    botocore retried after it had in fact succeeded is answered `duplicate`)."""
    assert answer["applied"] is True or answer.get("reason") == "duplicate", answer


def personalized_subjects(url: str, n: int) -> list[str]:
    client = Client(url)
    out: list[str] = []
    i = 0
    while len(out) < n:
        subject = f"a-withdrawal-{uuid.uuid4().hex[:8]}-{i}"
        i += 1
        stored(client.consent(subject, "granted"))
        decision = client.decision(subject)
        if (decision["experience"], decision["reason"]) == (EXPERIENCE, "personalized"):
            out.append(subject)
        if i > 20 * n:
            raise SystemExit("too few personalized visitors: check the holdouts")
    return out


def trial(url: str, cmp: Client, subject: str) -> Trial:
    poller = Poller(url, subject)
    thread = threading.Thread(target=poller.run, daemon=True)
    thread.start()
    while len(poller.answers) < 3:  # the poller is deciding, personalized
        time.sleep(0.001)
    sent = time.perf_counter()
    answer = cmp.consent(subject, "denied")
    acked = time.perf_counter()
    stored(answer)
    while not any(s > acked for s, _, _ in poller.answers):  # one /decide sent after the ack
        time.sleep(0.001)
    poller.stop.set()
    thread.join()
    honoured = [
        done for _, done, reason in poller.answers if done > sent and reason == "no_consent"
    ]
    stale = sum(1 for s, _, reason in poller.answers if s > acked and reason == "personalized")
    return Trial((min(honoured) - sent) * 1000, (acked - sent) * 1000, stale)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-withdrawal-"))
    with serving(folder / "serve.log") as stack:
        pushed = earnest("push", str(ROOT / "examples" / "experiences"), env=stack.env)
        if pushed.returncode != 0:
            raise SystemExit(f"earnest push failed:\n{pushed.stderr}")
        subjects = personalized_subjects(stack.api_url, args.trials)
        cmp = Client(stack.api_url)
        trials = [trial(stack.api_url, cmp, s) for s in subjects]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    enforced = [t.to_enforcement_ms for t in trials]
    acks = [t.consent_ms for t in trials]
    print(
        f"# bench_withdrawal: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {load}, "
        f"{os.cpu_count()} cores, {len(trials)} withdrawals through `earnest serve`"
    )
    print(
        f"withdrawal sent -> first /decide that honours it: p50 {pct(enforced, 0.5):.1f} ms, "
        f"p99 {pct(enforced, 0.99):.1f} ms, max {max(enforced):.1f} ms "
        f"(mean {statistics.fmean(enforced):.1f})"
    )
    print(
        f"/consent round trip (signed webhook, written before the 200): "
        f"p50 {pct(acks, 0.5):.1f} ms, p99 {pct(acks, 0.99):.1f} ms"
    )
    print(
        f"/decide answers still personalized though sent after /consent's 200: "
        f"{sum(t.stale_after_ack for t in trials)}"
    )
    print("the edge worker's local decisions: not measured here (decide's path only)")


if __name__ == "__main__":
    main()
