"""decide requests as the edge worker builds them, generated with a fixed seed.

For the test that holds the edge's JS engine and Python's to the same decisions: visitors
over the examples' audiences (countries, devices, search referrers, paid-search URLs,
signed-in users with and without the VIP group, ltv and last category, identity confidence
from none to certain) and every kind of consent a request carries (none, granted, denied,
one purpose of two, GPC).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from earnest_cli.files import load

PLACEMENTS = ["home-hero", "pdp-recs", "account-banner", "checkout-banner", "footer-signup"]
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


def bandit_examples(folder: Path) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """The examples with every experience of several variants made a bandit, re-weighted
    twice by the nightly run (its slices and weights laid over the file, as decide serves)."""
    from earnest.decide import slices
    from earnest.experiences.lifecycle import effective

    docs, groups = examples(folder)
    out = []
    for doc in docs:
        ids = [str(v["id"]) for v in doc["variants"]]
        if len(ids) < 2:
            out.append(doc)
            continue
        doc = {**doc, "allocation": {"mode": "bandit"}}
        current = slices.layout([(v, 1.0) for v in ids])
        for step in (1, 2):
            weights = {
                v: (i + step) / sum(j + step for j in range(len(ids))) for i, v in enumerate(ids)
            }
            current = slices.reweight(current, list(weights.items()))
        ops = {"bandit": {"weights": weights, "slices": [list(s) for s in current]}}
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


def requests(n: int, seed: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for _ in range(n):
        placements = rng.sample([*PLACEMENTS, NOWHERE], rng.randint(1, 3))
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
        if (consent := _consent(rng)) is not None:
            body["consent"] = consent
        yield body
