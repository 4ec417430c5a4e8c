"""`earnest demo`: the product's loop on the embedded local stack, over real HTTP.

Starts the local stack, pushes the example experiences, shows decisions for varied
visitors with their reasons and a CMP's withdrawal in force on the next decision; then,
through the edge worker under Miniflare (where Node is installed), several days of page
views with a known truth (one variant helps a segment, one hurts, one does nothing): the
worker decides, renders and posts the exposures, the page posts its purchases, consent is
withdrawn midway through the signed webhook, and the nightly report runs after each day. A
bandit experience on the same page (desktop heroes, one clicked far more than the others)
has its weights moved by each night's report. It ends with what the reports found against
the truth, the bandit's weights night by night beside its truth, coverage by reason, and a
compliance count.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import io
import json
import os
import random
import re
import secrets
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, redirect_stdout, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from earnest.decide.reasons import RULES_UNAVAILABLE
from earnest.timefmt import format_time
from earnest_cli.errors import CommandError
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


class DemoError(CommandError):
    """The demo cannot go on (a route kept failing); said in one line, exit 2."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code=2)


# What the product asks every caller to do on a 503 (or 429): retry, backing off. Six
# attempts over about 6 s ride out a loaded machine; a route still failing ends the demo.
ATTEMPTS = 6
FIRST_WAIT_SECONDS = 0.2
RETRIED = frozenset({429, 503})
_sleep = time.sleep


def post(url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """POST JSON; a 503 or 429 is retried with backoff (the same body and headers, so the
    same idempotency key or webhook id), and the last answer returned."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, headers={"content-type": "application/json", **(headers or {})}
    )
    attempt = 1
    status, answer, retry_after = _send(request)
    while status in RETRIED and attempt < ATTEMPTS:
        wait = FIRST_WAIT_SECONDS * 2 ** (attempt - 1)
        if retry_after and retry_after.isdigit():
            wait = max(wait, float(retry_after))
        _sleep(wait * (1 + random.random() / 2))  # jitter: concurrent retries spread out
        attempt += 1
        status, answer, retry_after = _send(request)
    return status, answer


def _send(request: urllib.request.Request) -> tuple[int, Any, str | None]:
    """(status, JSON answer, Retry-After) of one attempt."""
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read()), None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null"), exc.headers.get("retry-after")


def answered(url: str, status: int, answer: Any) -> DemoError:
    """The one line a route's refusal ends the demo with (after its retries)."""
    error = answer.get("error") if isinstance(answer, dict) else None
    said = f"{error.get('code')}: {error.get('message')}" if isinstance(error, dict) else answer
    tried = f" after {ATTEMPTS} attempts" if status in RETRIED else ""
    return DemoError(f"{urllib.parse.urlsplit(url).path} answered {status}{tried} ({said})")


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
SEGMENT = "context.device"  # what its plan splits the lift by (examples/experiences/)
# The bandit on the page's home-hero for desktop visitors: each hero's true click rate (the
# holdout sees the default hero), and its words for the table's header.
BANDIT_TEST = "desktop-hero-bandit"
HERO_CLICK = "hero_click"  # its primary metric: a conversion event of this name
BANDIT_TRUTH = {
    "holdout": (0.10, "the default"),
    "trail": (0.10, "none"),
    "city": (0.15, "+5 pts"),
    "sale": (0.25, "+15 pts"),
}
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

    def identity(self) -> dict[str, Any]:
        """What the site's login vouches for (the edge worker's signed identity cookie)."""
        return {"user_id": self.user_id, "identity_confidence": self.confidence} | (
            {"attributes": self.attributes} if self.attributes else {}
        )

    def consent(self) -> dict[str, Any]:
        """The CMP cookie as the edge reads it; stale after a withdrawal (the webhook wins)."""
        return {"purposes": dict(GRANTED)} if self.consents else {}

    def page_headers(self, identity_secret: str, expires_at: int) -> dict[str, str]:
        """The browser's request for the landing page: its cookies, device and referrer. The
        identity cookie names this visitor's anonymous id and expires (the worker's rules)."""
        jar = [f"earnest_aid={self.unit}"]
        if self.consents:
            jar.append(f"{CONSENT_COOKIE}={quote(json.dumps(GRANTED))}")
        if self.user_id:
            claims = self.identity() | {"anonymous_id": self.unit, "exp": expires_at}
            jar.append(f"{IDENTITY_COOKIE}={identity_cookie(identity_secret, claims)}")
        return {
            "user-agent": DEVICES[self.device],
            "referer": SEARCH_ENGINE,
            "cookie": "; ".join(jar),
        }

    def body(self) -> dict[str, Any]:
        """decide's request for the landing page, as the edge worker builds it."""
        identity = self.identity() if self.user_id else {}
        attributes = identity.pop("attributes", None)
        context = {"url": f"https://shop.example{PAGE}", "device": self.device}
        body: dict[str, Any] = {
            "visitor": {"anonymous_id": self.unit, **identity},
            "placements": list(PLACEMENTS),
            "context": context | {"referrer": "google", "country": "DE"},
        }
        if attributes:
            body["attributes"] = attributes
        if self.consents:
            body["consent"] = self.consent()
        return body


def identity_cookie(secret: str, identity: dict[str, Any]) -> str:
    """`v1.<payload>.<sig>` as the site's login signs it (clients/edge-worker/README.md)."""
    payload = base64.urlsafe_b64encode(json.dumps(identity).encode()).rstrip(b"=").decode()
    mac = hmac.new(secret.encode(), f"v1.{payload}".encode(), hashlib.sha256).digest()
    return f"v1.{payload}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


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


OVER_BUDGET = "over_budget"  # not a decide reason: the worker served the default page


@dataclass
class Tally:
    reasons: Counter[str] = field(default_factory=Counter)
    paused_on: dict[str, str] = field(default_factory=dict)
    verdicts: dict[str, str] = field(default_factory=dict)  # the latest verdict given, its day
    segments: dict[str, str] = field(default_factory=dict)  # the latest segment flag, its day
    after_withdrawal: int = 0  # decisions that reached a withdrawn subject afterwards
    violations: int = 0  # of those, personalized by an experience needing consent
    weights: list[tuple[str, dict[str, float]]] = field(default_factory=list)  # the bandit's

    def keep_segments(self, section: dict[str, Any], variants: Iterable[str], night: int) -> None:
        """Each variant's lift by segment tonight, where it has one (`segment_finding`)."""
        for variant in variants:
            if said := segment_finding(section, variant):
                self.segments[variant] = f"{said} (day {night})"

    def count(self, v: Visitor, decisions: dict[str, Any]) -> None:
        if not decisions:  # the worker served the default page: every placement unanswered
            self.reasons[OVER_BUDGET] += len(PLACEMENTS)
        for d in decisions.values():
            self.reasons[d["reason"]] += 1
            if v.withdrawn_at is not None:
                self.after_withdrawal += 1
                if d["experience"] in needs_consent() and d["variant"] is not None:
                    self.violations += 1


@cache
def needs_consent() -> frozenset[str]:
    """The example experiences that require a consent purpose to personalize."""
    from earnest_cli.files import load

    experiences = load([EXAMPLES]).experiences
    return frozenset(doc["id"] for _, doc in experiences if doc.get("requires_consent"))


@dataclass(frozen=True)
class Day:
    """A simulated day: its date, and the demo's clock moved back onto it."""

    date: date
    shift_ms: int

    def now_ms(self) -> int:
        return int(time.time() * 1000) - self.shift_ms


FAULTED_VIEW_ATTEMPTS = 8  # 0.2 s to 12.8 s apart: about 25 s for a fault to clear


def faulted(decisions: Mapping[str, Any]) -> bool:
    """Whether a page view was not wholly decided: the worker's default page (decide over
    its budget), or a placement answered `rules_unavailable` (decide's rules refresh
    outran their age bound; the placements the worker decided itself are fine)."""
    return not decisions or any(d["reason"] == RULES_UNAVAILABLE for d in decisions.values())


@dataclass
class Site:
    """Where the simulated page views go: through the edge worker, which decides, renders and
    posts the exposures in the background; or, without Node, straight to /decide, the demo
    then posting each page's exposures as the worker would."""

    api: str
    edge: Edge | None
    posting: int = 0  # exposures the worker posts: one per token decide gave a shown slot
    direct: list[int] = field(default_factory=list)  # events stored by the direct posts
    counted: int = 0  # exposures stored, as of the last count
    retried: int = 0  # page views the stack could not decide, viewed again (faulted)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def view(self, v: Visitor, day: Day) -> dict[str, Any]:
        """A page view's decisions. One the stack could not decide (`faulted`, as happens
        on a loaded machine) is viewed again, as its visitor would reload it, so the seed,
        not the machine's pace, tells the story. A reload only adds exposures of the arms
        already shown: no example caps exposures, so nothing decided later moves."""
        for attempt in range(FAULTED_VIEW_ATTEMPTS):
            decisions = self._view(v, day)
            if not faulted(decisions) or attempt == FAULTED_VIEW_ATTEMPTS - 1:
                break
            with self._lock:
                self.retried += 1
                if self.edge is not None:  # the worker posts the slots it did decide
                    self.posting += sum(bool(d["token"]) for d in decisions.values())
            _sleep(0.2 * 2**attempt)
        return decisions

    def _view(self, v: Visitor, day: Day) -> dict[str, Any]:
        if self.edge is not None:
            headers = v.page_headers(self.edge.identity_secret, self.edge.identity_expiry())
            return self.edge.view(PAGE, headers)[0]
        decisions: dict[str, Any] = post(f"{self.api}/decide", v.body())[1]["decisions"]
        events = [exposure(d["token"], day) for d in decisions.values() if d["token"]]
        if events:
            self.direct.append(post_events(self.api, {"events": events, "consent": v.consent()}))
        return decisions

    def exposures_stored(self, answers: list[tuple[Visitor, dict[str, Any]]]) -> int:
        """The exposures stored since the last call, once the worker's background posts for
        these page views are in (polled, never timed)."""
        total = sum(self.direct) if self.edge is None else self._relayed(self.edge, answers)
        stored, self.counted = total - self.counted, total
        return stored

    def _relayed(self, edge: Edge, answers: list[tuple[Visitor, dict[str, Any]]]) -> int:
        self.posting += sum(bool(d["token"]) for _, ds in answers for d in ds.values())
        relayed = edge.relayed()
        for _ in range(SETTLE_POLLS):
            if relayed["events"] >= self.posting:
                break
            time.sleep(0.1)
            relayed = edge.relayed()
        if (missing := self.posting - relayed["events"]) > 0:
            print(f"    ({missing} of the worker's exposures have not arrived yet)")
        return int(relayed["stored"])


SETTLE_POLLS = 600


def exposure(token: str, day: Day) -> dict[str, Any]:
    return {"type": "exposure", "event_id": _id(), "token": token, "ts": day.now_ms()}


def post_events(api: str, batch: dict[str, Any]) -> int:
    """POST /events under an idempotency key; the number stored."""
    url = f"{api}/events"
    status, answer = post(url, batch, {"idempotency-key": f"demo-{_id()}"})
    if status != 202:
        raise answered(url, status, answer)
    return int(answer["stored"])


def _id() -> str:
    return str(uuid.uuid4())


def page_views(
    site: Site, day: Day, visitors: list[Visitor]
) -> list[tuple[Visitor, dict[str, Any]]]:
    """The day's page views, eight at a time, in the visitors' order."""
    progress = Progress(f"{day.date}: {len(visitors)} page views", len(visitors))
    answers = []
    with ThreadPoolExecutor(max_workers=8) as pool:
        for answer in pool.map(lambda v: (v, site.view(v, day)), visitors):
            answers.append(answer)
            progress.step()
    progress.close()
    return answers


def conversion(
    v: Visitor, decisions: dict[str, Any], day: Day, rng: random.Random
) -> dict[str, Any] | None:
    """A purchase at the arm's true rate, as the page reports it; none without measurement
    consent (the page sends nothing)."""
    search = decisions.get("pdp-recs") or {"experience": None, "variant": None, "reason": None}
    arm = search["variant"] or search["reason"]
    truth = TRUTH.get(str(arm)) if search["experience"] == SEARCH_TEST else None
    rate = (truth.mobile if v.device == "mobile" else truth.desktop) if truth else BASE_RATE
    if rng.random() >= rate or not v.consents:
        return None
    return _converted(v, "purchase", day) | {
        "value": round(rng.uniform(20, 140), 2),
        "currency": "EUR",
    }


def hero_click(
    v: Visitor, decisions: dict[str, Any], day: Day, draw: float
) -> dict[str, Any] | None:
    """A click on the bandit's hero at its arm's true rate (`draw`: this page view's, from an
    rng of its own, so the search test's purchases are drawn as without the bandit); none
    outside the bandit or without consent."""
    hero = decisions.get("home-hero") or {}
    if hero.get("experience") != BANDIT_TEST:
        return None
    rate = BANDIT_TRUTH.get(str(hero["variant"] or hero["reason"]), BANDIT_TRUTH["holdout"])[0]
    if draw >= rate or not v.consents:
        return None
    return _converted(v, HERO_CLICK, day)


def _converted(v: Visitor, name: str, day: Day) -> dict[str, Any]:
    return {
        "type": "conversion",
        "event_id": _id(),
        "unit_id": v.unit,
        "name": name,
        "ts": day.now_ms(),
    }


# The day's purchases and clicks go in batches, as a shop's order system or a tag
# manager's queue forwards them: one POST each stores each as an S3 object of its own, for
# the nights to read back (the demo: 60 s instead of 46; the per-page beacon is tested in
# tests/e2e).
CONVERSION_BATCH = 25


def post_conversions(api: str, conversions: list[dict[str, Any]]) -> int:
    """The day's conversions, `CONVERSION_BATCH` to a POST; the number stored."""
    consent = {"purposes": {"measurement": "granted"}}
    batches = [
        conversions[i : i + CONVERSION_BATCH] for i in range(0, len(conversions), CONVERSION_BATCH)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        return sum(pool.map(lambda b: post_events(api, {"events": b, "consent": consent}), batches))


def day_traffic(
    site: Site,
    day: Day,
    visitors: list[Visitor],
    rngs: tuple[random.Random, random.Random],
    tally: Tally,
) -> int:
    """One simulated day: every visitor views the landing page, sees its arms, converts and
    clicks the hero at their true rates (`rngs`: the purchases', the clicks'); exposures and
    conversions are dated on that day. The events stored."""
    rng, clicks = rngs
    if site.edge is not None:
        site.edge.set_clock(day.now_ms())
    answers = page_views(site, day, visitors)
    for v, decisions in answers:
        tally.count(v, decisions)
    conversions = [c for v, ds in answers if (c := conversion(v, ds, day, rng))]
    # One click draw per page view, shown the bandit or not: no decision moves the draws of
    # the visitors after it.
    draws = [clicks.random() for _ in answers]
    conversions += [
        c for (v, ds), u in zip(answers, draws, strict=True) if (c := hero_click(v, ds, day, u))
    ]
    return post_conversions(site.api, conversions) + site.exposures_stored(answers)


def withdraw(api: str, seen: list[Visitor], rng: random.Random) -> int:
    """Some signed-in visitors seen so far withdraw through their CMP: signed webhooks, one
    at a time. The local stack serves concurrent ones too, but makes their DynamoDB writes
    in turn, so sending them at once gains nothing, and on a loaded machine a write queued
    past the client's read timeout is retried, and the retry's webhook-id claim answers
    401 "replay"."""
    chosen = [v for v in seen if v.user_id and v.consents and rng.random() < WITHDRAWING_SHARE]
    progress = Progress("signed withdrawals (POST /consent)", len(chosen))

    def send(v: Visitor) -> None:
        status, answer = post(f"{api}/consent", *signed_update(v.unit, WITHDRAWAL))
        if status != 200:
            raise answered(f"{api}/consent", status, answer)
        v.withdrawn_at = time.time()

    for v in chosen:
        send(v)
        progress.step()
    progress.close()
    return len(chosen)


def nightly(day: date, out: Path, tally: Tally, number: int) -> None:
    """`earnest report --date DAY`, its verdicts, actions and the bandit's weights kept for
    the final tables.

    DAY is the simulated day: its events are stamped on it (they arrive today, and the
    report reads the partitions up to the latest day an event may arrive), and each
    experience is analysed from its allocation's start, so each night counts the days
    simulated so far, as a real night's report counts every day since the allocation started.
    """
    from earnest_cli.main import main as earnest

    with redirect_stdout(io.StringIO()) as printed:
        code = earnest(["report", "--date", day.isoformat(), "--out", str(out)])
    if code != 0:
        raise DemoError(f"earnest report --date {day} failed: {printed.getvalue().strip()}")
    report = json.loads((out / "report.json").read_text())
    tonight: dict[str, str] = {}
    for exp in report["experiences"]:
        if exp["id"] == BANDIT_TEST and exp.get("allocation"):
            tally.weights.append((f"night {number} ({day})", weights_after(exp["allocation"])))
        if exp["id"] == SEARCH_TEST:
            tonight = {v["variant"]: v["verdict"] or "no verdict (SRM)" for v in exp["variants"]}
            tally.keep_segments(exp.get("segments") or {}, tonight, number)
            for variant, verdict in tonight.items():
                # A restart (a pause) begins a new comparison: its first nights say too
                # early, which does not undo what the last allocation found.
                if verdict not in ("no verdict (SRM)", "needs_more_data") or (
                    variant not in tally.verdicts
                ):
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


def weights_after(allocation: Mapping[str, Any]) -> dict[str, float]:
    """The weights a bandit serves after tonight's report: tonight's re-weighting, if any,
    else the ones it served (the file's, while exploring), as shares."""
    reweight = allocation.get("reweight")
    weights = reweight["weights"] if reweight else allocation["weights"]
    total = sum(weights.values()) or 1.0
    return {v: w / total for v, w in weights.items()}


def segment_finding(section: dict[str, Any], variant: str) -> str | None:
    """What the night's lift by segment says of `variant`: its flag when it has one
    ("helps mobile, shows no measurable effect on desktop"), else each value with enough
    data and its effect; None when no value has enough data yet."""
    for flag in section.get("flags", []):
        if flag["variant"] == variant:
            return str(flag["message"]).removeprefix(f"{variant} ")
    found = [
        f"{t['value']} {t['effect']} ({t['relative'] * 100:+.0f} %)"
        for t in section.get("tests", [])
        if t["variant"] == variant and t["enough_data"] and t["relative"] is not None
    ]
    return ", ".join(found) or None


def start_allocations(since: date) -> None:
    """Date every pushed experience's allocation from the first simulated day: the pushed
    rules serve the days the demo simulates, which end yesterday (an operational write,
    audited like any other)."""
    from earnest.experiences import lifecycle
    from earnest_aws.experiences_store import ExperiencesStore
    from earnest_aws.settings import settings

    store = ExperiencesStore(settings().experiences_table)
    at = f"{since.isoformat()}T00:00:00.000Z"
    for stored in store.load_all():
        allocation = stored.ops.get(lifecycle.ALLOCATION)
        if isinstance(allocation, dict):
            ops = {**stored.ops, lifecycle.ALLOCATION: {**allocation, "started_at": at}}
            store.save_ops(stored, ops, "demo", "allocate", "the demo's first simulated day")


def simulate_days(site: Site, out: Path, visits: int, days: int, seed: int) -> Tally:
    """`days` days ending yesterday; the withdrawals land halfway; a report each night."""
    today = datetime.now(UTC).date()
    first = today - timedelta(days=days)
    start_allocations(first)
    print(
        f"  (the experiences' allocations dated from {first}, the first simulated day; each "
        "day's events are stamped on it, and each night's report is that day's)"
    )
    rng, clicks = random.Random(seed), random.Random(seed + 1)
    people = population(max(visits * 2, 10), rng)  # ~4 in 5 visits are first visits
    tally = Tally()
    per_day = max(visits // days, 1)
    seen: dict[str, Visitor] = {}
    for number in range(1, days + 1):
        back = days - number + 1
        day = Day(today - timedelta(days=back), back * 86_400_000)
        print(f"\n  day {number} of {days}: {day.date}")
        if number == days // 2 + 1:
            withdrawn = withdraw(site.api, list(seen.values()), rng)
            print(f"    {withdrawn} signed-in visitors withdrew consent through the signed webhook")
        visitors = [rng.choice(people) for _ in range(per_day)]
        seen |= {v.unit: v for v in visitors}
        stored = day_traffic(site, day, visitors, (rng, clicks), tally)
        print(f"    {stored} events stored, timestamped on {day.date}")
        before = stored_rules_version()
        nightly(day.date, out, tally, number)
        if (after := stored_rules_version()) != before:  # a pause, a retirement, a re-weighting
            serve_the_nights_rules(site.api, after, time.monotonic())
    return tally


RULES_WAIT_SECONDS = 30
# workerd's clock moves only with I/O, so the edge may judge its copy's age a little late.
EDGE_CLOCK_SLACK_S = 0.5


def stored_rules_version() -> str:
    """The rules version of the experiences as stored: what decide serves once refreshed."""
    from earnest.decide.engine import rules_version_of
    from earnest_aws.experiences_store import ExperiencesStore
    from earnest_aws.settings import settings

    rules = ExperiencesStore(settings().experiences_table).load_rules()
    return rules_version_of(rules.experiences)


def serve_the_nights_rules(api: str, version: str, changed_at: float) -> None:
    """Wait until every page view of the next day sees the rules the night wrote (its
    pauses, its re-weightings), however fast or loaded the machine: decide answers with the
    stored rules version, and the edge's copies of the bundle from before the change (at
    monotonic `changed_at` or earlier) are past their age bound, so the worker decides from
    the new bundle or asks decide (`version`: the stored rules'). Without it, the first
    pages of a day would see last night's rules for as long as the refreshes happened to
    take, and a seed would not give the same run."""
    probe = {"visitor": {"anonymous_id": "demo-rules-probe"}, "placements": list(PLACEMENTS)}
    deadline = time.monotonic() + RULES_WAIT_SECONDS
    while post(f"{api}/decide", probe)[1].get("rules_version") != version:
        if time.monotonic() > deadline:
            raise DemoError(f"decide did not serve the night's rules within {RULES_WAIT_SECONDS} s")
        time.sleep(0.1)
    edge_stale_until = changed_at + EDGE_BUNDLE_MAX_AGE_S + EDGE_CLOCK_SLACK_S
    time.sleep(max(0.0, edge_stale_until - time.monotonic()))


def print_table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("    " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def print_outcome(tally: Tally, out: Path, retried: int) -> None:
    print(f"\n== what the {SEARCH_TEST} test found, against the truth")
    arms = [(arm, truth) for arm, truth in TRUTH.items() if arm != "holdout"]
    print_table(
        [("VARIANT", "TRUE EFFECT", "LAST VERDICT", "PAUSED")]
        + [
            (arm, t.effect, tally.verdicts.get(arm, "—"), tally.paused_on.get(arm, "no"))
            for arm, t in arms
        ]
    )
    print(f"\n== what the lift by segment ({SEGMENT}) found, against the truth")
    print_table(
        [("VARIANT", "TRUE EFFECT", "LAST SEGMENT FINDING")]
        + [(arm, t.effect, tally.segments.get(arm, "none")) for arm, t in arms]
    )
    print_weights(tally)
    total = sum(tally.reasons.values())
    print("\n== coverage by reason (every placement decided in the simulation)")
    for reason, n in tally.reasons.most_common():
        print(f"    {reason:<20} {n:>6}  {n / total:6.1%}")
    if tally.reasons[OVER_BUDGET]:
        print(f"    ({OVER_BUDGET}: decide took over {DEMO_BUDGET_MS} ms: the default page)")
    if retried:
        print(
            f"    ({retried} page views the loaded stack could not decide were viewed again; "
            "the table counts what the reloads decided)"
        )
    print(
        f"\ncompliance: {tally.violations} personalized decisions reached a subject after its "
        f"withdrawal took effect (of {tally.after_withdrawal} decisions for withdrawn subjects)"
    )
    print(f"the report, with its charts: file://{out / 'index.html'}")


def print_weights(tally: Tally) -> None:
    """The bandit's weights after each night, the true click rates in the header."""
    base = BANDIT_TRUTH["holdout"][0]
    print(
        f"\n== how the {BANDIT_TEST} bandit moved its weights, night by night, against the "
        f"truth (hero clicks: {base:.0%} on the default hero, which its holdout keeps seeing)"
    )
    arms = [a for a in BANDIT_TRUTH if a != "holdout"]
    rows = [("WEIGHTS AFTER", *(f"{a} ({BANDIT_TRUTH[a][1]})" for a in arms))]
    for night, weights in tally.weights:
        rows.append((night, *(f"{weights[a]:.2f}" if a in weights else "paused" for a in arms)))
    print_table(rows)


def show_after_guardrails(api: str) -> None:
    """Decide picks the pauses up on its next rules refresh: paused variants are not served."""
    seen: Counter[str] = Counter()
    for i in range(400):
        body = {
            "visitor": {"anonymous_id": f"demo-after-{i:04d}"},
            "placements": ["pdp-recs"],
            "context": {"referrer": "google"},
        }
        d = post(f"{api}/decide", body)[1]["decisions"]["pdp-recs"]
        seen[d["variant"] or d["reason"]] += 1
    print(f"\n• the next 400 search visitors after the last report: {dict(sorted(seen.items()))}")


# ------------------------------------------------------------ through the edge worker

WORKER = ROOT / "clients" / "edge-worker"
WORKER_START_SECONDS = 30
# A shared laptop or CI machine is slower than a CDN: the demo gives decide 10 s, not the
# worker's default 50 ms (bench/bench_edge.py measures what decide takes through the
# worker), so that no page falls back to the default for how loaded the machine is: a seed
# gives the same run, page for page.
DEMO_BUDGET_MS = 10_000
# The edge's bound on the age of its copy of the rules bundle (its BUNDLE_MAX_AGE_S): as
# short as decide's own rules refresh here, as the simulated days are seconds apart.
EDGE_BUNDLE_MAX_AGE_S = 2
CONSENT_COOKIE = "shop_consent"  # the shop's own CMP cookie (the worker's CONSENT_COOKIE)
IDENTITY_COOKIE = "earnest_identity"  # the worker's default IDENTITY_COOKIE
GRANTED = {"personalization": "granted", "measurement": "granted"}
PAGE = "/products/boots"  # serve.mjs routes /products/* to these placements
PLACEMENTS = ("pdp-recs", "home-hero", "account-banner")
SEARCH_ENGINE = "https://www.google.com/"
DEVICES = {"mobile": "Mozilla/5.0 (iPhone; Mobile)", "desktop": "Mozilla/5.0 (X11; Linux x86_64)"}


@dataclass(frozen=True)
class Edge:
    """The reference worker under Miniflare (clients/edge-worker/serve.mjs) and the relay by
    which its exposures reach /events, dated on the demo's clock."""

    url: str
    relay: str
    identity_secret: str
    clock_skew_s: float = 0.0  # the worker's clock minus the demo's (faketime moves only ours)

    def view(self, path: str, headers: dict[str, str]) -> tuple[dict[str, Any], str, str]:
        """A page view: its decisions (the page's JSON script element; none on the default
        page), the slots it marked, and the cookie it set."""
        request = urllib.request.Request(self.url + path, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            html, cookie = response.read().decode(), response.headers.get("set-cookie") or ""
        found = re.search(r'<script type="application/json" id="earnest-decisions">(.*?)</', html)
        slots = re.findall(r'placement="([^"]+)" data-earnest-reason="([^"]+)"', html)
        marked = ", ".join(f"{p}={r}" for p, r in slots) or "none (the default page)"
        return (json.loads(found[1]) if found else {}), marked, cookie

    def identity_expiry(self) -> int:
        """An identity cookie's `exp`: an hour ahead on the worker's clock, which checks it."""
        return int(time.time() + self.clock_skew_s) + 3600

    def set_clock(self, now_ms: int) -> None:
        """Date the exposures relayed from now on as if the worker's clock read `now_ms`."""
        post(f"{self.relay}/clock", {"now": now_ms})

    def relayed(self) -> dict[str, int]:
        """The exposure batches and events the worker has posted so far, the events stored."""
        with urllib.request.urlopen(f"{self.relay}/stats", timeout=30) as response:
            stats: dict[str, int] = json.loads(response.read())
        return stats


def on_real_clock(env: Mapping[str, str]) -> bool:
    """Whether this process's clock is the real one, which the worker's is (real_clock)."""
    return "faketime" not in env.get("LD_PRELOAD", "")


def real_clock(env: Mapping[str, str]) -> dict[str, str]:
    """`env` without libfaketime. workerd links tcmalloc, and libfaketime's own start-up
    (its dlsym of the real time functions) calls malloc while tcmalloc initializes: workerd
    then spins forever before its main, even `workerd --version`; FAKETIME_SKIP_CMDS and
    FAKETIME_DONT_FAKE_MONOTONIC act too late to help. So node and workerd run on the real
    clock; the relay dates the exposures on the demo's clock (Edge.set_clock)."""
    out = {k: v for k, v in env.items() if not k.startswith("FAKETIME")}
    kept = [p for p in re.split(r"[:\s]+", env.get("LD_PRELOAD", "")) if p and "faketime" not in p]
    out.pop("LD_PRELOAD", None)
    if kept:
        out["LD_PRELOAD"] = " ".join(kept)
    return out


def edge_decisions(aws_url: str) -> dict[str, str]:
    """What lets the worker decide at the edge: the bundle the push published to the local
    S3, the edge's token key (the `edge:` one of EXPOSURE_TOKEN_KEYS), and an age bound as
    short as decide's own rules refresh here, as the simulated days are seconds apart."""
    from earnest_aws.edge_bundle import EDGE_BUNDLE_KEY
    from earnest_aws.settings import settings

    keys = os.environ.get("EXPOSURE_TOKEN_KEYS", "").split(",")
    edge_key = next((k for k in keys if k.startswith("edge:")), "")
    url = f"{aws_url}/{settings().events_bucket}/{EDGE_BUNDLE_KEY}"
    max_age = str(EDGE_BUNDLE_MAX_AGE_S)
    return {"EARNEST_BUNDLE_URL": url, "EDGE_TOKEN_KEY": edge_key, "BUNDLE_MAX_AGE_S": max_age}


def show_hops(edge: Edge | None) -> None:
    if edge is not None:
        stats = edge.relayed()
        pages, hops, hopped = stats["pages"], stats["hops"], stats["hopped"]
        placements = pages * len(PLACEMENTS)
        print(
            f"\n• {pages} pages through the worker; {hops} needed the hop to /decide, for "
            f"{hopped} of their {placements} placements: those only decide can settle (a "
            "consent-gated candidate the page's cookie does not deny, where the visitor's stored "
            "consent decides; a saved group); the other "
            f"{placements - hopped} were decided at the edge"
        )


@contextmanager
def edge_worker(api: str, aws_url: str = "") -> Iterator[Edge | None]:
    """The worker under Miniflare in front of a small shop page, for the whole run; None
    (and a note saying why) when Node or the worker's npm packages are missing. With the
    stack's `aws_url` it decides at the edge where it can."""
    node = shutil.which("node")
    if node is None or not (WORKER / "node_modules" / "miniflare").exists():
        print("\n(no edge worker: no Node, or no `npm ci` in clients/edge-worker)")
        yield None
        return
    secret = secrets.token_urlsafe(32)  # the shop's login signs identity cookies with it
    env = {"EARNEST_API": api, "DECIDE_TIMEOUT_MS": str(DEMO_BUDGET_MS)}
    env |= {"CONSENT_COOKIE": CONSENT_COOKIE, "IDENTITY_SECRET": secret}
    if aws_url and on_real_clock(os.environ):
        env |= edge_decisions(aws_url)
    elif aws_url:
        print(
            "\n(decisions at the edge are off: this demo runs under faketime and the worker on "
            "the real clock, so the tokens it signed would be expired on the stack's clock; "
            "every placement goes to /decide)"
        )
    process = subprocess.Popen(
        [node, "serve.mjs"],
        cwd=WORKER,
        env=real_clock(os.environ) | env,
        stdin=subprocess.PIPE,  # closed when the demo ends, however: serve.mjs then stops
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # node and its workerd child end together
    )
    try:
        yield _ready(process, secret)
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with suppress(ProcessLookupError):
                os.killpg(process.pid, sig)  # node and workerd, even if node never got ready
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
                break


def _ready(process: subprocess.Popen[str], secret: str) -> Edge | None:
    """serve.mjs's "worker URL relay URL" line, or None when it did not come in time."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], WORKER_START_SECONDS)
    words = (process.stdout.readline() if ready else "").split()
    if len(words) == 4 and words[0] == "worker":
        with urllib.request.urlopen(f"{words[3]}/clock", timeout=30) as response:
            worker_now_ms = json.loads(response.read())["now"]
        return Edge(words[1], words[3], secret, worker_now_ms / 1000 - time.time())
    print(f"\n(no edge worker: serve.mjs did not start within {WORKER_START_SECONDS} s)")
    return None


def show_edge(edge: Edge | None) -> None:
    if edge is None:
        print(
            "\n(the page views below go straight to /decide, the demo posting their exposures "
            "as the worker would)"
        )
        return
    print(f"\n== page views through the edge worker (Miniflare at {edge.url})")
    print(f"(decide's budget here: {DEMO_BUDGET_MS} ms; the worker's default is 50 ms)")
    search = {"user-agent": DEVICES["mobile"], "referer": SEARCH_ENGINE}
    returning = {**search, "cookie": "earnest_aid=demo-edge-visitor-0001"}
    for title, headers in (
        ("a first visit from a search engine", search),
        ("a returning visitor, by its cookie", returning),
        ("the same visitor again: the same arm", returning),
    ):
        decisions, marked, cookie = edge.view(PAGE, headers)
        print(f"\n• {title}: GET {PAGE}")
        for placement, d in decisions.items():
            print(f"    {placement:<16} {d['reason']:<20} {served(d)}")
        if not decisions:
            print(f"    decide did not answer within {DEMO_BUDGET_MS} ms: the default page")
        print(f"    slots marked in the page: {marked}")
        if cookie:
            print(f"    cookie set: {cookie.split('=')[0]}=…; {cookie.split('; ', 2)[-1]}")


MAX_DAYS = 29  # the events' partitions and the examples' dates hold a month


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from earnest_cli.arguments import integer

    parser.description = (
        "The whole loop on an embedded local stack (no AWS needed, nothing to export)."
    )
    parser.add_argument(
        "--visitors",
        type=integer(1, 1_000_000),
        default=4000,
        help="simulated visits, all days (default 4000)",
    )
    parser.add_argument(
        "--days",
        type=integer(1, MAX_DAYS, " days"),
        default=5,
        help=f"simulated days, 1 to {MAX_DAYS} (default 5)",
    )
    parser.add_argument("--seed", type=int, default=20261123, help="the simulation's random seed")
    parser.add_argument(
        "--out", type=Path, default=Path(".earnest/demo-report"), help="where to keep the report"
    )


def run(args: argparse.Namespace) -> int:
    return run_demo(args)


def run_demo(args: argparse.Namespace) -> int:
    from earnest_cli.local_stack import local_stack

    started = time.perf_counter()
    days = max(1, min(args.days, 29))
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    # Events from the simulated days are a few days old: let /events take them (and the
    # report read the partitions they arrive in).
    os.environ.setdefault("EVENTS_MAX_AGE_SECONDS", str((days + 2) * 86_400))
    with (
        (out / "functions.log").open("w") as function_log,
        local_stack(api_port=0, aws_port=0, function_log=function_log) as stack,
    ):
        print(f"local stack: API {stack.api_url}, AWS {stack.aws_url}")
        print(f"(the functions' own logs and metrics: {out / 'functions.log'})")
        if not introduce(stack.api_url, out):
            return 1
        with edge_worker(stack.api_url, stack.aws_url) as edge:
            show_edge(edge)
            via = f"GET {PAGE} through the worker" if edge else "POST /decide per page view"
            print(
                f"\n== {days} days of visitors with a known truth, a nightly report after each "
                f"({via}, POST /events, /consent; earnest report --date)"
            )
            site = Site(stack.api_url, edge)
            tally = simulate_days(site, out, args.visitors, days, args.seed)
            show_hops(edge)
        show_after_guardrails(stack.api_url)
        print_outcome(tally, out, site.retried)
        show_inventory()
    print(f"demo done in {time.perf_counter() - started:.0f} s")
    return 0


def show_inventory() -> None:
    """Every experience the demo pushed, where it stands after the simulated nights."""
    from earnest_cli.main import main as earnest

    print("\n$ earnest inventory")
    earnest(["inventory"])


def introduce(api: str, out: Path) -> bool:
    """The examples pushed and listed, decisions with their reasons, consent in force."""
    from earnest_cli.main import main as earnest

    today = datetime.now(UTC).date()
    experiences = examples_as_of(today, out / "experiences")
    print(f"\n(the examples, dated as of {today}: {experiences})")
    print(f"$ earnest push {experiences}")
    if earnest(["push", str(experiences), "--actor", "demo", "--reason", "demo"]) != 0:
        return False
    print("\n$ earnest list")
    earnest(["list"])
    print("\n== decisions for varied visitors (POST /decide)")
    show_decisions(api)
    print("\n== consent in force at once (POST /consent, then /decide)")
    show_withdrawal(api)
    return True
