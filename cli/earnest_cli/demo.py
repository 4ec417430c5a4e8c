"""`earnest demo`: the product's loop on the embedded local stack, over real HTTP.

Starts the local stack, pushes the example experiences, shows decisions for varied
visitors with their reasons, a CMP's withdrawal in force on the next decision, page views
through the edge worker (where Node is installed), then several days of visitors with a
known truth (one variant helps a segment, one hurts, one does nothing), consent withdrawn
midway through the signed webhook, and the nightly report after each day. It ends with
what the reports found against the truth, coverage by reason, and a compliance count.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import select
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, redirect_stdout, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from earnest.timefmt import format_time
from earnest_cli.template import ROOT

EXAMPLES = ROOT / "examples" / "experiences"

# The examples' dates (`last_reviewed`, `ends_at`) were written on this day. The demo shifts
# them by as many days as have passed since, so the demo never expires with the calendar.
EXAMPLES_WRITTEN = date(2026, 11, 23)
_AUTHORED_DATE = re.compile(r"^((?:last_reviewed|ends_at):\s*)(\d{4}-\d{2}-\d{2})", re.M)


def examples_as_of(today: date, dest: Path) -> Path:
    """Copy the examples into `dest`, their dates shifted so that on `today` every review is
    as far from due, and every sunset as far ahead, as on the day they were written."""
    shift = today - EXAMPLES_WRITTEN
    dest.mkdir(parents=True, exist_ok=True)

    def moved(match: re.Match[str]) -> str:
        return match[1] + (date.fromisoformat(match[2]) + shift).isoformat()

    for source in sorted(EXAMPLES.glob("*.y*ml")):
        (dest / source.name).write_text(_AUTHORED_DATE.sub(moved, source.read_text()))
    return dest


VISITORS: list[tuple[str, dict[str, Any], dict[str, str]]] = [
    (
        "mobile visitor in Munich, no profile",
        {
            "visitor": {"anonymous_id": "a-munich-1"},
            "placements": ["home-hero", "pdp-recs"],
            "context": {"country": "DE", "device": "mobile", "referrer": "google"},
        },
        {},
    ),
    (
        "hiking fan who consented to personalization",
        {
            "visitor": {"anonymous_id": "a-hiker-7"},
            "placements": ["home-hero"],
            "context": {"country": "FR", "device": "desktop"},
            "attributes": {"last_category": "hiking"},
            "consent": {"purposes": {"personalization": "granted"}},
        },
        {},
    ),
    (
        "the same hiking fan, but the browser sends Sec-GPC: 1",
        {
            "visitor": {"anonymous_id": "a-hiker-7"},
            "placements": ["home-hero"],
            "context": {"country": "FR", "device": "desktop"},
            "attributes": {"last_category": "hiking"},
            "consent": {"purposes": {"personalization": "granted"}},
        },
        {"Sec-GPC": "1"},
    ),
    (
        "high-value customer, identity graph only 62 % sure",
        {
            "visitor": {"anonymous_id": "a-lv-3", "user_id": "u-19", "identity_confidence": 0.62},
            "placements": ["account-banner"],
            "attributes": {"ltv": 900},
            "consent": {"purposes": {"personalization": "granted"}},
        },
        {},
    ),
    (
        "the same customer, signed in (confidence 0.99)",
        {
            "visitor": {"anonymous_id": "a-lv-3", "user_id": "u-19", "identity_confidence": 0.99},
            "placements": ["account-banner", "checkout-banner"],
            "attributes": {"ltv": 900},
            "consent": {"purposes": {"personalization": "granted"}},
        },
        {},
    ),
    (
        "VIP account at checkout",
        {
            "visitor": {"anonymous_id": "a-vip-1", "user_id": "u-1007", "identity_confidence": 1.0},
            "placements": ["checkout-banner", "footer-signup", "blog-sidebar"],
            "consent": {"purposes": {"personalization": "granted"}},
        },
        {},
    ),
]


def post(url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, headers={"content-type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def show_decisions(api: str) -> None:
    for title, body, headers in VISITORS:
        status, answer = post(f"{api}/decide", body, headers)
        print(f"\n• {title}  (HTTP {status})")
        for placement, d in answer["decisions"].items():
            print(f"    {placement:<16} {d['reason']:<20} {served(d)}")
            for lost in d.get("trace", []):
                print(f"    {'':<16}   lost: {lost['experience']} ({lost['outcome']})")
    status, answer = post(f"{api}/decide", {"visitor": {}, "placements": ["home-hero"]})
    print(f"\n• a malformed request  (HTTP {status})\n    {answer['error']}")


def served(decision: dict[str, Any]) -> str:
    if decision["variant"]:
        return f"{decision['experience']}/{decision['variant']}"
    return decision["experience"] or "—"


# ------------------------------------------------------------ consent in force at once


def signed_update(subject: str, purposes: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """A CMP's consent update and the Standard Webhooks headers signing it with the local
    stack's secret."""
    from earnest.consent.webhooks import parse_secrets, sign

    update = {
        "subject_id": subject,
        "event_id": f"cmp-{uuid.uuid4().hex[:12]}",
        "event_time": format_time(datetime.now(UTC)),
        "source": "demo-cmp",
        "jurisdiction": "FR",
        "purposes": purposes,
    }
    raw = json.dumps(update).encode()
    key = parse_secrets(os.environ.get("CONSENT_WEBHOOK_SECRETS", ""))[0]
    msg_id, ts = f"msg_{uuid.uuid4().hex}", int(time.time())
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(key, msg_id, ts, raw),
    }
    return raw, headers


WITHDRAWAL = {"personalization": "denied", "measurement": "granted"}


def show_withdrawal(api: str) -> None:
    """A CMP posts a signed withdrawal; the very next decision serves the default."""
    hiker = VISITORS[1][1]
    subject = hiker["visitor"]["anonymous_id"]
    before = post(f"{api}/decide", hiker)[1]["decisions"]["home-hero"]
    raw, headers = signed_update(subject, WITHDRAWAL)
    status, answer = post(f"{api}/consent", raw, headers)
    forged = post(f"{api}/consent", raw, {**headers, "webhook-id": f"msg_{uuid.uuid4().hex}"})
    after = post(f"{api}/decide", hiker)[1]["decisions"]["home-hero"]
    print(f"\n• {subject} before: {before['reason']} ({served(before)})")
    print(f"    CMP posts a signed withdrawal -> HTTP {status}, applied={answer.get('applied')}")
    print(f"    the same body under another id (the signature no longer matches): {forged[0]}")
    print(f"    the very next decision: {after['reason']} ({served(after)})")


# ------------------------------------------------------------ days of traffic, known truth


@dataclass(frozen=True)
class Truth:
    """How a search-landing-recs arm really converts: by device, and in words."""

    mobile: float
    desktop: float
    effect: str


BASE_RATE = 0.10  # the holdout, and every visit outside the search test
TRUTH = {
    "holdout": Truth(BASE_RATE, BASE_RATE, "the default"),
    "popular": Truth(0.30, BASE_RATE, "helps mobile visitors (+20 pts), none on desktop"),
    "similar": Truth(BASE_RATE, BASE_RATE, "none"),
    "bundles": Truth(0.03, 0.03, "hurts (-7 pts)"),
}
SEARCH_TEST = "search-landing-recs"
SIGNED_IN_SHARE = 0.3  # visitors carrying a user_id from the identity graph
CONFIDENCES = (1.0, 0.95, 0.7, 0.5)  # how sure the graph is that it is that user
CONSENTING_SHARE = 0.9  # the rest send no CMP signal: opt-in means denied
WITHDRAWING_SHARE = 0.15  # of consenting signed-in visitors, withdrawing midway


class Progress:
    """A one-line bar on a terminal; elsewhere (CI, a pipe) only the finished line."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, max(total, 1), 0
        self.tty = sys.stdout.isatty()

    def step(self, n: int = 1) -> None:
        self.done += n
        if self.tty:
            print(f"\r{self._line()}", end="", flush=True)

    def close(self) -> None:
        self.done = self.total
        print(f"\r{self._line()}" if self.tty else self._line(), flush=True)

    def _line(self) -> str:
        filled = 30 * self.done // self.total
        return (
            f"    {self.label:<34} [{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total}"
        )


@dataclass
class Visitor:
    unit: str
    device: str
    consents: bool
    user_id: str | None = None
    confidence: float = 1.0
    attributes: dict[str, Any] = field(default_factory=dict)
    withdrawn_at: float | None = None  # when /consent acknowledged the withdrawal

    def body(self) -> dict[str, Any]:
        visitor: dict[str, Any] = {"anonymous_id": self.unit}
        placements = ["pdp-recs"]
        if self.user_id:
            visitor |= {"user_id": self.user_id, "identity_confidence": self.confidence}
            placements += ["home-hero", "account-banner"]
        body: dict[str, Any] = {
            "visitor": visitor,
            "placements": placements,
            "context": {"device": self.device, "referrer": "google", "country": "DE"},
        }
        if self.attributes:
            body["attributes"] = self.attributes
        if self.consents:  # the CMP cookie as the edge forwards it; stale after a withdrawal
            body["consent"] = {"purposes": {"personalization": "granted", "measurement": "granted"}}
        return body


def population(size: int, rng: random.Random) -> list[Visitor]:
    out = []
    for i in range(size):
        v = Visitor(
            f"demo-{i:05d}", rng.choice(["mobile", "desktop"]), rng.random() < CONSENTING_SHARE
        )
        if rng.random() < SIGNED_IN_SHARE:
            v.user_id, v.confidence = f"u-{i:05d}", rng.choice(CONFIDENCES)
            v.attributes = {
                "ltv": rng.choice([40, 300, 900]),
                "last_category": rng.choice(["hiking", "running"]),
            }
        out.append(v)
    return out


@dataclass
class Tally:
    reasons: dict[str, int] = field(default_factory=dict)
    paused_on: dict[str, str] = field(default_factory=dict)
    verdicts: dict[str, str] = field(default_factory=dict)  # the latest verdict given, its day
    after_withdrawal: int = 0  # decisions that reached a withdrawn subject afterwards
    violations: int = 0  # of those, personalized by an experience needing consent


@cache
def needs_consent() -> frozenset[str]:
    """The example experiences that require a consent purpose to personalize."""
    from earnest_cli.files import load

    experiences = load([EXAMPLES]).experiences
    return frozenset(doc["id"] for _, doc in experiences if doc.get("requires_consent"))


def day_traffic(
    api: str, day: str, visitors: list[Visitor], rng: random.Random, tally: Tally
) -> int:
    """One simulated day: every visit decides over HTTP, sees its arm, converts at the arm's
    true rate; the page posts exposures and conversions, timestamped as they happen (now:
    the experiences were pushed moments ago, and the report counts units first exposed
    since their allocation started)."""
    progress = Progress(f"{day}: {len(visitors)} visits, decide", len(visitors))
    consented = needs_consent()

    def decide(v: Visitor) -> tuple[Visitor, dict[str, Any]]:
        return v, post(f"{api}/decide", v.body())[1]["decisions"]

    answers = []
    with ThreadPoolExecutor(max_workers=8) as pool:
        for v, decisions in pool.map(decide, visitors):
            answers.append((v, decisions))
            progress.step()
    progress.close()

    now = time.time()
    events: list[dict[str, Any]] = []
    for v, decisions in answers:
        for d in decisions.values():
            tally.reasons[d["reason"]] = tally.reasons.get(d["reason"], 0) + 1
            if v.withdrawn_at is not None:
                tally.after_withdrawal += 1
                if d["experience"] in consented and d["variant"] is not None:
                    tally.violations += 1
        if not v.consents:
            continue  # no measurement consent: the page sends nothing
        ts = int((now - rng.uniform(0, 5)) * 1000)
        for d in decisions.values():
            if d["token"]:
                events.append(
                    {"type": "exposure", "event_id": _id(), "token": d["token"], "ts": ts}
                )
        search = decisions["pdp-recs"]
        arm = search["variant"] or search["reason"]
        truth = TRUTH.get(arm) if search["experience"] == SEARCH_TEST else None
        rate = (truth.mobile if v.device == "mobile" else truth.desktop) if truth else BASE_RATE
        if rng.random() < rate:
            events.append(
                {
                    "type": "conversion",
                    "event_id": _id(),
                    "unit_id": v.unit,
                    "name": "purchase",
                    "value": round(rng.uniform(20, 140), 2),
                    "currency": "EUR",
                    "ts": ts + 60_000,
                }
            )
    stored = 0
    consent = {"purposes": {"measurement": "granted"}}
    for start in range(0, len(events), 500):
        batch = {"events": events[start : start + 500], "consent": consent}
        status, answer = post(
            f"{api}/events", batch, {"idempotency-key": f"demo-{day.replace(' ', '-')}-{start}"}
        )
        if status != 202:
            raise RuntimeError(f"/events answered {status}: {answer}")
        stored += answer["stored"]
    return stored


def _id() -> str:
    return str(uuid.uuid4())


def withdraw(api: str, seen: list[Visitor], rng: random.Random) -> int:
    """Some signed-in visitors seen so far withdraw through their CMP: signed webhooks."""
    chosen = [v for v in seen if v.user_id and v.consents and rng.random() < WITHDRAWING_SHARE]
    progress = Progress("signed withdrawals (POST /consent)", len(chosen))

    def send(v: Visitor) -> None:
        status, answer = post(f"{api}/consent", *signed_update(v.unit, WITHDRAWAL))
        if status != 200:
            raise RuntimeError(f"/consent answered {status}: {answer}")
        v.withdrawn_at = time.time()

    for v in chosen:  # one at a time: moto's DynamoDB transactions are not thread-safe
        send(v)
        progress.step()
    progress.close()
    return len(chosen)


def nightly(day: date, out: Path, tally: Tally, number: int) -> None:
    """`earnest report --date DAY`, its verdicts and actions kept for the final table.

    DAY is today: every simulated day's events happen today, after the push, so tonight's
    report counts all the days simulated so far, as a real night's report counts every day
    since the allocation started.
    """
    from earnest_cli.commands import main as earnest

    with redirect_stdout(io.StringIO()) as printed:
        code = earnest(["report", "--date", day.isoformat(), "--out", str(out)])
    if code != 0:
        raise RuntimeError(f"earnest report --date {day} failed:\n{printed.getvalue()}")
    report = json.loads((out / "report.json").read_text())
    tonight: dict[str, str] = {}
    for exp in report["experiences"]:
        if exp["id"] == SEARCH_TEST:
            tonight = {v["variant"]: v["verdict"] or "no verdict (SRM)" for v in exp["variants"]}
            for variant, verdict in tonight.items():
                if verdict != "no verdict (SRM)":
                    tally.verdicts[variant] = f"{verdict} (day {number})"
    verdicts = ", ".join(f"{k} {v}" for k, v in sorted(tonight.items()))
    print(f"    $ earnest report --date {day}  ->  {SEARCH_TEST}: {verdicts or 'no data'}")
    for alert in report["alerts"]:
        print(f"      ALERT {alert['message']}")
    for action in report["guardrails"]:
        target = action["experience"] + (f"/{action['variant']}" if action["variant"] else "")
        print(f"      {action['action']:<17} {target}: {action['reason']}")
        if action["experience"] == SEARCH_TEST and action["variant"]:
            tally.paused_on.setdefault(action["variant"], f"day {number}")


def simulate_days(api: str, out: Path, visits: int, days: int, seed: int) -> Tally:
    """`days` simulated days, each a round of traffic now; the withdrawals land halfway; a
    report each night."""
    print(
        "  (each simulated day's events happen now, after the push: each night's report is "
        "today's, over every day so far, since the allocation started)"
    )
    rng = random.Random(seed)
    people = population(max(visits * 2, 10), rng)  # ~4 in 5 visits are first visits
    tally = Tally()
    per_day = max(visits // days, 1)
    seen: dict[str, Visitor] = {}
    for number in range(1, days + 1):
        day = datetime.now(UTC).date()
        print(f"\n  day {number} of {days}")
        if number == days // 2 + 1:
            withdrawn = withdraw(api, list(seen.values()), rng)
            print(f"    {withdrawn} signed-in visitors withdrew consent through the signed webhook")
        visitors = [rng.choice(people) for _ in range(per_day)]
        seen |= {v.unit: v for v in visitors}
        stored = day_traffic(api, f"day {number}", visitors, rng, tally)
        print(f"    {stored} events stored, timestamped now")
        nightly(day, out, tally, number)
        time.sleep(2.5)  # decide's rules refresh (the local stack's RULES_TTL_SECONDS is 2)
    return tally


def print_outcome(tally: Tally, out: Path) -> None:
    print(f"\n== what the {SEARCH_TEST} test found, against the truth")
    rows = [("VARIANT", "TRUE EFFECT", "LAST VERDICT", "PAUSED")]
    for arm, truth in TRUTH.items():
        if arm != "holdout":
            verdict = tally.verdicts.get(arm, "—")
            rows.append((arm, truth.effect, verdict, tally.paused_on.get(arm, "no")))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("    " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    total = sum(tally.reasons.values())
    print("\n== coverage by reason (every placement decided in the simulation)")
    for reason, n in sorted(tally.reasons.items(), key=lambda kv: -kv[1]):
        print(f"    {reason:<20} {n:>6}  {n / total:6.1%}")
    print(
        f"\ncompliance: {tally.violations} personalized decisions reached a subject after its "
        f"withdrawal took effect (of {tally.after_withdrawal} decisions for withdrawn subjects)"
    )
    print(f"the report, with its charts: file://{out / 'index.html'}")


def show_after_guardrails(api: str) -> None:
    """Decide picks the pauses up on its next rules refresh: paused variants are not served."""
    seen: dict[str, int] = {}
    for i in range(400):
        body = {
            "visitor": {"anonymous_id": f"demo-after-{i:04d}"},
            "placements": ["pdp-recs"],
            "context": {"referrer": "google"},
        }
        d = post(f"{api}/decide", body)[1]["decisions"]["pdp-recs"]
        key = d["variant"] or d["reason"]
        seen[key] = seen.get(key, 0) + 1
    print(f"\n• the next 400 search visitors after the last report: {dict(sorted(seen.items()))}")


# ------------------------------------------------------------ through the edge worker

WORKER = ROOT / "clients" / "edge-worker"
WORKER_START_SECONDS = 30
# A shared laptop or CI machine is slower than a CDN: the demo gives decide 200 ms, not the
# worker's default 50 (bench/bench_edge.py measures what decide takes through the worker).
DEMO_BUDGET_MS = 200


@contextmanager
def edge_worker(api: str) -> Iterator[str | None]:
    """The reference worker under Miniflare (clients/edge-worker/serve.mjs), fronting a
    small local origin; None when Node or the worker's npm packages are not installed."""
    node = shutil.which("node")
    if node is None or not (WORKER / "node_modules" / "miniflare").exists():
        yield None
        return
    process = subprocess.Popen(
        [node, "serve.mjs"],
        cwd=WORKER,
        env={**os.environ, "EARNEST_API": api, "DECIDE_TIMEOUT_MS": str(DEMO_BUDGET_MS)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # node and its workerd child end together
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], WORKER_START_SECONDS)
        line = process.stdout.readline() if ready else ""
        yield line.split()[-1] if line.startswith("worker ") else None
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with suppress(ProcessLookupError):
                os.killpg(process.pid, sig)  # node and workerd, even if node never got ready
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
                break


def page(worker: str, path: str, headers: dict[str, str]) -> tuple[dict[str, Any], str, str]:
    """A page view through the worker: its decisions (the page's JSON script element), the
    slots it marked, and the cookie it set."""
    request = urllib.request.Request(worker + path, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        html, cookie = response.read().decode(), response.headers.get("set-cookie") or ""
    found = re.search(r'<script type="application/json" id="earnest-decisions">(.*?)</', html)
    slots = re.findall(r'placement="([^"]+)" data-earnest-reason="([^"]+)"', html)
    marked = ", ".join(f"{p}={r}" for p, r in slots) or "none (the default page)"
    return (json.loads(found[1]) if found else {}), marked, cookie


def show_edge(api: str) -> None:
    with edge_worker(api) as worker:
        if worker is None:
            print(
                "\n(the edge worker is skipped: no Node, no `npm ci` in clients/edge-worker, "
                f"or it did not start within {WORKER_START_SECONDS} s)"
            )
            return
        print(f"\n== page views through the edge worker (Miniflare at {worker})")
        print(f"(decide's budget here: {DEMO_BUDGET_MS} ms; the worker's default is 50 ms)")
        search = {
            "user-agent": "Mozilla/5.0 (iPhone; Mobile)",
            "referer": "https://www.google.com/",
        }
        returning = {**search, "cookie": "earnest_aid=demo-edge-visitor-0001"}
        for title, headers in (
            ("a first visit from a search engine", search),
            ("a returning visitor, by its cookie", returning),
            ("the same visitor again: the same arm", returning),
        ):
            decisions, marked, cookie = page(worker, "/products/boots", headers)
            print(f"\n• {title}: GET /products/boots")
            for placement, d in decisions.items():
                print(f"    {placement:<16} {d['reason']:<20} {served(d)}")
            if not decisions:
                print(f"    decide did not answer within {DEMO_BUDGET_MS} ms: the default page")
            print(f"    slots marked in the page: {marked}")
            if cookie:
                print(f"    cookie set: {cookie.split('=')[0]}=…; {cookie.split('; ', 2)[-1]}")


def run_demo(args: argparse.Namespace) -> int:
    from earnest_cli.commands import main as earnest
    from earnest_cli.local_stack import local_stack

    started = time.perf_counter()
    days = max(1, min(args.days, 29))
    seed = args.seed
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    with (
        (out / "functions.log").open("w") as function_log,
        local_stack(api_port=0, aws_port=0, function_log=function_log) as stack,
    ):
        print(f"local stack: API {stack.api_url}, AWS {stack.aws_url}")
        print(f"(the functions' own logs and metrics: {out / 'functions.log'})")
        today = datetime.now(UTC).date()
        experiences = examples_as_of(today, out / "experiences")
        print(f"\n(the examples, dated as of {today}: {experiences})")
        print(f"$ earnest push {experiences}")
        if earnest(["push", str(experiences), "--actor", "demo", "--reason", "demo"]) != 0:
            return 1
        print("\n$ earnest list")
        earnest(["list"])
        print("\n== decisions for varied visitors (POST /decide)")
        show_decisions(stack.api_url)
        print("\n== consent in force at once (POST /consent, then /decide)")
        show_withdrawal(stack.api_url)
        show_edge(stack.api_url)
        print(
            f"\n== {days} days of visitors with a known truth, a nightly report after each "
            f"(POST /decide, /events, /consent; earnest report --date)"
        )
        tally = simulate_days(stack.api_url, out, args.visitors, days, seed)
        show_after_guardrails(stack.api_url)
        print_outcome(tally, out)
    print(f"demo done in {time.perf_counter() - started:.0f} s")
    return 0
