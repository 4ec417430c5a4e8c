"""decide requests as the edge worker builds them, generated with a fixed seed.

For the test that holds the edge's JS engine and Python's to the same decisions: visitors
over the examples' audiences (countries, devices, search referrers, paid-search URLs,
signed-in users with and without the VIP group, ltv and last category, identity confidence
from none to certain) and every kind of consent a request carries (none, granted, denied,
one purpose of two, GPC). Given the request's time, also time-stamped attributes for the
recency experiences below (every form a time takes, bad types, missing values, the window's
edges, times ahead of now), and a unit's memory for their caps and dismissals.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from earnest.memory import DAY_MS
from earnest_cli.files import load
from tests.builders.experiences import experience

PLACEMENTS = ["home-hero", "pdp-recs", "account-banner", "checkout-banner", "footer-signup"]
RETURNING = "returning-offer"  # the placement of the recency and memory experiences
NOWHERE = "no-such-placement"
USERS = ["u-1001", "u-1007", "u-2040", "u-3111", "u-19", "u-4242", "u-5000"]
CONFIDENCE = [None, 0.5, 0.79, 0.8, 0.9, 0.95, 1.0]
URLS = [
    "https://shop.example/",
    "https://shop.example/products/boots?utm_medium=cpc&utm_source=google",
    "https://shop.example/products/boots?ref=mail&utm_medium=cpc",
    "https://shop.example/products/boots?utm_medium=email",
]


def examples(folder: Path) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """The example experiences as decide serves them (no operational state) and their groups."""
    authored = load([folder])
    assert not authored.problems, authored.problems
    return [doc for _, doc in authored.experiences], authored.saved_groups


def recency_and_memory() -> list[dict[str, Any]]:
    """Experiences reading recency and memory: a capped, dismissable one for lapsed buyers,
    one for recent buyers, and one on the visit's own time that needs no consent (so the
    edge decides it itself), which records segments."""
    personal = {"requires_consent": ["personalization"], "placement": RETURNING}
    return [
        experience(
            id="lapsed-buyers",
            priority=10,
            audience={"attributes.last_purchase_at": {"$olderThanDays": 60}},
            frequency_cap={"max_exposures": 3, "per_days": 7},
            dismiss_for_days=30,
            **personal,
        ),
        experience(
            id="recent-buyers",
            priority=5,
            audience={"attributes.last_purchase_at": {"$withinDays": 30, "$olderThanDays": 1}},
            dismiss_for_days=14,
            **personal,
        ),
        experience(
            id="fresh-session",
            placement=RETURNING,
            audience={"context.session_started_at": {"$withinDays": 0.01}},
            frequency_cap={"max_exposures": 2, "per_days": 1},
            **{k: v for k, v in personal.items() if k != "placement"},
        ),
        experience(
            id="new-session",
            placement=RETURNING,
            priority=-1,
            audience={"context.session_started_at": {"$withinDays": 0.5}},
            # segments whose values take every form: words, numbers, times, missing
            measurement_plan={
                **experience()["measurement_plan"],
                "segments": ["attributes.ltv", "context.referrer", "attributes.last_purchase_at"],
            },
        ),
    ]


def _moment(rng: random.Random, now_ms: int) -> Any:
    """A time-stamped attribute around the windows above, in any form, or not a time."""
    shape = rng.random()
    if shape < 0.08:
        return rng.choice([None, True, "yesterday", "2026-01-02", [now_ms], {"at": now_ms}])
    edge = rng.choice([0, 0.01, 0.5, 1, 30, 60]) * DAY_MS
    age = int(edge) + rng.choice([-1, 0, 1, 0, -300_001, -299_999]) if shape < 0.3 else 0
    if not age:
        age = rng.randint(-DAY_MS, 90 * DAY_MS)
    at = now_ms - age
    if shape < 0.5:
        return at  # epoch milliseconds
    offset = rng.choice([0, 60, -300, 330, 765])  # minutes east of UTC
    local = at + offset * 60_000
    days, ms = divmod(local, DAY_MS)
    text = _civil(days) + "T" + _clock(ms, rng.random() < 0.5)
    if offset == 0 and rng.random() < 0.5:
        return text + "Z"
    sign = "+" if offset >= 0 else "-"
    return f"{text}{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"


def _civil(days: int) -> str:
    from datetime import date, timedelta

    return (date(1970, 1, 1) + timedelta(days=days)).isoformat()


def _clock(ms: int, with_fraction: bool) -> str:
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, frac = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}" + (f".{frac:03d}" if with_fraction else "")


def memory_of(rng: random.Random, now_ms: int) -> dict[str, Any] | None:
    """A unit's memory as decide reads it (earnest.memory's fields), or None for none."""
    if rng.random() < 0.3:
        return None
    today = now_ms // DAY_MS
    exposures = {
        exp: {today - rng.randint(0, 9): rng.randint(1, 3) for _ in range(rng.randint(0, 3))}
        for exp in ("lapsed-buyers", "fresh-session")
    }
    dismissed = {
        exp: now_ms - rng.choice([0, 13, 14, 29, 30, 31]) * DAY_MS + rng.choice([-1, 0, 1])
        for exp in ("lapsed-buyers", "recent-buyers")
        if rng.random() < 0.3
    }
    return {"exposures": exposures, "dismissed": dismissed}


def _times(rng: random.Random, body: dict[str, Any], now_ms: int) -> None:
    if rng.random() < 0.8:
        body["context"]["session_started_at"] = _moment(rng, now_ms)
    if rng.random() < 0.8:
        body.setdefault("attributes", {})["last_purchase_at"] = _moment(rng, now_ms)


def bandit_examples(folder: Path) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """The examples with every experience of several variants made a bandit, re-weighted
    twice by the nightly run (its slices and weights laid over the file, as decide serves);
    every other one segmented by `context.device`, with `mobile` and `tablet` re-weighted
    their own way (the other devices, and requests without one, on the overall slices)."""
    from earnest.decide import slices
    from earnest.experiences.lifecycle import effective

    docs, groups = examples(folder)
    out = []
    for n, doc in enumerate(docs):
        ids = [str(v["id"]) for v in doc["variants"]]
        if len(ids) < 2:
            out.append(doc)
            continue
        segmented = n % 2 == 0
        allocation = {"mode": "bandit", **({"segments": ["context.device"]} if segmented else {})}
        doc = {**doc, "allocation": allocation}
        current = slices.layout([(v, 1.0) for v in ids])
        for step in (1, 2):
            weights = {
                v: (i + step) / sum(j + step for j in range(len(ids))) for i, v in enumerate(ids)
            }
            current = slices.reweight(current, list(weights.items()))
        ops: dict[str, Any] = {"bandit": {"weights": weights, "slices": [list(s) for s in current]}}
        if segmented:
            own = {
                "mobile": dict(zip(ids, reversed(list(weights.values())), strict=True)),
                "tablet": {v: 0.9 if i == 0 else 0.1 / (len(ids) - 1) for i, v in enumerate(ids)},
            }
            ops["bandit"]["segments"] = {
                value: {
                    "weights": w,
                    "slices": [list(s) for s in slices.reweight(current, [*w.items()])],
                }
                for value, w in own.items()
            }
        out.append(effective(doc, ops))
    return out, groups


def _consent(rng: random.Random) -> dict[str, Any] | None:
    shape = rng.random()
    if shape < 0.25:
        return None
    consent: dict[str, Any] = {}
    if rng.random() < 0.15:
        consent["gpc"] = True
    purposes = {
        p: v
        for p in ("personalization", "measurement")
        if (v := rng.choice(["granted", "denied", None])) is not None
    }
    if purposes:
        consent["purposes"] = purposes
    return consent or None


def requests(n: int, seed: int, now_ms: int | None = None) -> Iterator[dict[str, Any]]:
    """Generated requests; with `now_ms`, also times for the recency experiences' placement."""
    rng = random.Random(seed)
    offered = [*PLACEMENTS, NOWHERE, *([RETURNING] * 2 if now_ms is not None else [])]
    for _ in range(n):
        placements = list(dict.fromkeys(rng.sample(offered, rng.randint(1, 3))))
        context: dict[str, Any] = {
            "url": rng.choice(URLS),
            "device": rng.choice(["mobile", "desktop", "mobile", "tablet"]),
        }
        if (country := rng.choice(["DE", "AT", "CH", "US", "FR", None])) is not None:
            context["country"] = country
        if (referrer := rng.choice(["google", "bing", "duckduckgo", "facebook", None])) is not None:
            context["referrer"] = referrer
        visitor: dict[str, Any] = {"anonymous_id": f"a-{rng.getrandbits(64):016x}"}
        body: dict[str, Any] = {"visitor": visitor, "placements": placements, "context": context}
        if rng.random() < 0.4:  # a signed-in visitor the site vouches for
            visitor["user_id"] = rng.choice(USERS)
            if (confidence := rng.choice(CONFIDENCE)) is not None:
                visitor["identity_confidence"] = confidence
            attributes: dict[str, Any] = {"ltv": rng.choice([0, 120, 249.5, 250, 900])}
            if (category := rng.choice(["hiking", "running", None])) is not None:
                attributes["last_category"] = category
            body["attributes"] = attributes
        elif rng.random() < 0.3:  # profile attributes keyed on the anonymous id
            body["attributes"] = {"last_category": rng.choice(["hiking", "running"])}
        if now_ms is not None:
            _times(rng, body, now_ms)
        if (consent := _consent(rng)) is not None:
            body["consent"] = consent
        yield body
