"""Consent at serve time: what the store says and what the request carries, combined.

The most restrictive answer wins; unknown follows the configured regime (opt-in: denied,
opt-out: granted). Pure and tiny: it runs on every decide request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PURPOSES = ("personalization", "measurement")
GRANTED = "granted"
DENIED = "denied"
VALUES = (GRANTED, DENIED)
REGIMES = ("opt_in", "opt_out")


def most_restrictive(*maps: Mapping[str, str] | None) -> dict[str, str]:
    """Purpose -> denied if any map denies it, else granted if any grants it."""
    out: dict[str, str] = {}
    for purposes in maps:
        if not purposes:
            continue
        for purpose, value in purposes.items():
            if value == DENIED or out.get(purpose) == DENIED:
                out[purpose] = DENIED
            elif value == GRANTED:
                out[purpose] = GRANTED
    return out


def effective_consent(
    stored: Mapping[str, str] | None,
    carried: Mapping[str, Any] | None,
    regime: str = "opt_in",
) -> dict[str, bool]:
    """Purpose -> may we rely on it for this request.

    `stored` is the consent store's record (None: no record); `carried` is the request's
    `consent` object (`purposes` from the CMP cookie, `gpc` from the Sec-GPC header).
    GPC is an opt-out of sale/sharing and targeted use: Earnest reads it as a denial of
    personalization (documented in docs/consent.md) and leaves measurement as it was.
    """
    carried_purposes = carried.get("purposes") if carried else None
    combined = most_restrictive(stored, carried_purposes)
    if carried and carried.get("gpc") is True:
        combined["personalization"] = DENIED
    unknown = regime == "opt_out"
    return {p: combined[p] == GRANTED if p in combined else unknown for p in PURPOSES}
