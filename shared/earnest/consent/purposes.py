"""Consent at serve time: what the store says and what the request carries, combined.

Also the one check of the `consent` object a request carries, and the one GPC rule.

The most restrictive answer wins; unknown follows the configured regime (opt-in: denied,
opt-out: granted). Pure and tiny: it runs on every decide request.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from earnest.errors import InvalidRequest

PURPOSES = ("personalization", "measurement")
GRANTED = "granted"
DENIED = "denied"
VALUES = (GRANTED, DENIED)
# The consent default where nothing is known: opt_in denies, opt_out grants.
REGIMES = ("opt_in", "opt_out")
# What a subject whose consent cannot be read, or who was erased, counts as (fail closed).
ALL_DENIED: Mapping[str, str] = MappingProxyType(dict.fromkeys(PURPOSES, DENIED))
# Global Privacy Control is an opt-out of sale/sharing and targeted use: it denies
# personalization wherever it is read. At ingest it withholds measurement too (issue #4,
# docs/events.md), so /events passes `GPC_DENIES_AT_INGEST`.
GPC_DENIES = ("personalization",)
GPC_DENIES_AT_INGEST = ("personalization", "measurement")
# The `consent` object a request carries (decide's and /events' alike).
CARRIED_FIELDS = frozenset({"gpc", "purposes"})


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


def with_gpc(
    purposes: Mapping[str, str] | None, denies: tuple[str, ...] = GPC_DENIES
) -> dict[str, str]:
    """`purposes` with what Global Privacy Control denies denied: the one GPC rule."""
    return {**(purposes or {}), **dict.fromkeys(denies, DENIED)}


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
        combined = with_gpc(combined)
    unknown = regime == "opt_out"
    return {p: combined[p] == GRANTED if p in combined else unknown for p in PURPOSES}


def check_carried(raw: Any) -> Mapping[str, Any] | None:
    """The request's `consent` object, checked: `{"gpc"?: bool, "purposes"?: {p: v}}`.

    Raises InvalidRequest naming the field (`consent.purposes.measurement`, ...).
    """
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise InvalidRequest("consent must be an object", field="consent")
    unknown = raw.keys() - CARRIED_FIELDS
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidRequest(f"unknown field consent.{name}", field=f"consent.{name}")
    gpc = raw.get("gpc")
    if gpc is not None and not isinstance(gpc, bool):
        raise InvalidRequest("consent.gpc must be true or false", field="consent.gpc")
    purposes = raw.get("purposes")
    if purposes is None:
        return raw
    if not isinstance(purposes, Mapping):
        raise InvalidRequest("consent.purposes must be an object", field="consent.purposes")
    for purpose, value in purposes.items():
        field = f"consent.purposes.{purpose}"
        if purpose not in PURPOSES:
            raise InvalidRequest(f"unknown consent purpose {purpose!r}", field=field)
        if value not in VALUES:
            raise InvalidRequest("consent values are granted or denied", field=field)
    return raw
