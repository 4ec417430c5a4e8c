"""`earnest demo`: the product's loop on the embedded local stack, over real HTTP.

Starts the local stack, pushes the example experiences, shows decisions for varied
visitors with their reasons, a CMP's withdrawal in force on the next decision, a day of
search traffic with a known true effect per variant, the nightly report that finds it and
pauses the loser, and decide no longer serving it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

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


def show_withdrawal(api: str) -> None:
    """A CMP posts a signed withdrawal; the very next decision serves the default."""
    from earnest.consent.webhooks import parse_secrets, sign

    hiker = VISITORS[1][1]
    subject = hiker["visitor"]["anonymous_id"]
    before = post(f"{api}/decide", hiker)[1]["decisions"]["home-hero"]
    update = {
        "subject_id": subject,
        "event_id": f"cmp-{uuid.uuid4().hex[:12]}",
        "event_time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "source": "demo-cmp",
        "jurisdiction": "FR",
        "purposes": {"personalization": "denied", "measurement": "granted"},
    }
    raw = json.dumps(update).encode()
    key = parse_secrets(os.environ.get("CONSENT_WEBHOOK_SECRETS", ""))[0]
    msg_id, ts = f"msg_{uuid.uuid4().hex}", int(time.time())
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(key, msg_id, ts, raw),
    }
    status, answer = post(f"{api}/consent", raw, headers)
    forged = post(f"{api}/consent", raw, {**headers, "webhook-id": f"msg_{uuid.uuid4().hex}"})
    after = post(f"{api}/decide", hiker)[1]["decisions"]["home-hero"]
    print(f"\n• {subject} before: {before['reason']} ({served(before)})")
    print(f"    CMP posts a signed withdrawal -> HTTP {status}, applied={answer.get('applied')}")
    print(f"    the same body under another id (the signature no longer matches): {forged[0]}")
    print(f"    the very next decision: {after['reason']} ({served(after)})")


# ------------------------------------------------------------ traffic with a known effect

# The truth the report has to find: search-landing-recs' holdout converts at 10 %.
TRUE_RATES = {"holdout": 0.10, "popular": 0.21, "similar": 0.10, "bundles": 0.03}
PROGRAM_RATE = 0.10  # the global holdout and visitors outside any test


def simulate_traffic(api: str, visitors: int, seed: int = 20261123) -> dict[str, list[int]]:
    """Search visitors decide over HTTP, see their arm, convert at its true rate, and the
    page posts exposures and conversions to /events in sendBeacon-sized batches."""
    rng = random.Random(seed)
    bodies: list[dict[str, Any]] = [
        {
            "visitor": {"anonymous_id": f"demo-search-{i:05d}"},
            "placements": ["pdp-recs"],
            "context": {
                "country": rng.choice(["DE", "AT", "FR", "IT", "NL"]),
                "device": rng.choice(["mobile", "desktop"]),
                "referrer": rng.choice(["google", "bing", "duckduckgo"]),
            },
            "consent": {"purposes": {"personalization": "granted", "measurement": "granted"}},
        }
        for i in range(visitors)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda b: post(f"{api}/decide", b)[1], bodies))

    now_ms = int(time.time() * 1000)
    events: list[dict[str, Any]] = []
    tally: dict[str, list[int]] = {}
    for body, answer in zip(bodies, answers, strict=True):
        d = answer["decisions"]["pdp-recs"]
        arm = d["variant"] or ("holdout" if d["reason"] == "holdout" else d["reason"])
        unit = body["visitor"]["anonymous_id"]
        events.append(
            {"type": "exposure", "event_id": str(uuid.uuid4()), "token": d["token"], "ts": now_ms}
        )
        converted: int = rng.random() < TRUE_RATES.get(arm, PROGRAM_RATE)
        counts = tally.setdefault(arm, [0, 0])
        counts[0] += 1
        if converted:
            counts[1] += 1
            events.append(
                {
                    "type": "conversion",
                    "event_id": str(uuid.uuid4()),
                    "unit_id": unit,
                    "name": "purchase",
                    "value": round(rng.uniform(20, 140), 2),
                    "currency": "EUR",
                    "ts": now_ms + 1000,
                }
            )
    consent = {"purposes": {"measurement": "granted"}}
    stored = 0
    for start in range(0, len(events), 500):
        batch = {"events": events[start : start + 500], "consent": consent}
        status, answer = post(f"{api}/events", batch, {"idempotency-key": f"demo-{start}"})
        if status != 202:
            raise RuntimeError(f"/events answered {status}: {answer}")
        stored += answer["stored"]
    print(
        f"\n• {visitors} search visitors decided over HTTP; {stored} events stored "
        f"in {-(-len(events) // 500)} batches (one S3 object each)"
    )
    print(f"    {'arm':<16} {'units':>6} {'converted':>10}  true rate")
    for arm, (units, converted) in sorted(tally.items()):
        rate = TRUE_RATES.get(arm, PROGRAM_RATE)
        print(f"    {arm:<16} {units:>6} {converted:>10}  {rate:.0%}")
    return tally


def show_after_guardrails(api: str) -> None:
    """Decide picks the pause up on its next rules refresh: the loser is no longer served."""
    time.sleep(2.5)  # the local stack's RULES_TTL_SECONDS is 2
    seen: dict[str, int] = {}
    for i in range(400):
        body = {
            "visitor": {"anonymous_id": f"demo-after-{i:04d}"},
            "placements": ["pdp-recs"],
            "context": {"referrer": "google"},
            "consent": {"purposes": {"personalization": "granted"}},
        }
        d = post(f"{api}/decide", body)[1]["decisions"]["pdp-recs"]
        key = d["variant"] or d["reason"]
        seen[key] = seen.get(key, 0) + 1
    print(f"\n• the next 400 search visitors after the report: {dict(sorted(seen.items()))}")


def run_demo(args: argparse.Namespace) -> int:
    from earnest_cli.commands import main as earnest
    from earnest_cli.local_stack import local_stack

    started = time.perf_counter()
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
        print("\n== a day of search traffic with a known true effect (POST /decide, /events)")
        simulate_traffic(stack.api_url, args.visitors)
        print(f"\n== the nightly report\n$ earnest report --date {today} --out {out}")
        if earnest(["report", "--date", today.isoformat(), "--out", str(out)]) != 0:
            return 1
        show_after_guardrails(stack.api_url)
        print(f"\nthe report, with its charts: file://{out / 'index.html'}")
    print(f"demo done in {time.perf_counter() - started:.0f} s")
    return 0
