"""`earnest demo`: the product's loop on the embedded local stack, over real HTTP.

Starts the local stack, pushes the example experiences, and shows decisions for a handful
of varied visitors with their reasons.
"""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from typing import Any

from earnest_cli.template import ROOT

EXAMPLES = ROOT / "examples" / "experiences"

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
    data = json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, headers={"content-type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def show_decisions(api: str) -> None:
    for title, body, headers in VISITORS:
        status, answer = post(f"{api}/decide", body, headers)
        print(f"\n• {title}  (HTTP {status})")
        for placement, d in answer["decisions"].items():
            chosen = (
                f"{d['experience']}/{d['variant']}" if d["variant"] else (d["experience"] or "—")
            )
            print(f"    {placement:<16} {d['reason']:<20} {chosen}")
            for lost in d.get("trace", []):
                print(f"    {'':<16}   lost: {lost['experience']} ({lost['outcome']})")
    status, answer = post(f"{api}/decide", {"visitor": {}, "placements": ["home-hero"]})
    print(f"\n• a malformed request  (HTTP {status})\n    {answer['error']}")


def run_demo(args: argparse.Namespace) -> int:
    from earnest_cli.local_stack import local_stack
    from earnest_cli.main import main as earnest

    with local_stack(api_port=0, aws_port=0) as stack:
        print(f"local stack: API {stack.api_url}, AWS {stack.aws_url}")
        print(f"\n$ earnest push {EXAMPLES.relative_to(ROOT)}")
        if earnest(["push", str(EXAMPLES), "--actor", "demo", "--reason", "demo"]) != 0:
            return 1
        print("\n$ earnest list")
        earnest(["list"])
        show_decisions(stack.api_url)
    return 0
