"""Builds TC strings bit by bit for tests that need a consent the published strings lack.

The published strings (IAB's reference decoder tests, CMPs' docs) pin the decoder; this
encoder only varies the purpose bits on top of a layout those strings already proved.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable


def _bits(value: int, width: int) -> str:
    return format(value, f"0{width}b")


def _field(ids: Iterable[int], width: int) -> str:
    chosen = set(ids)
    return "".join("1" if i in chosen else "0" for i in range(1, width + 1))


def encode(
    purposes_consent: Iterable[int] = (),
    purposes_li: Iterable[int] = (),
    vendor_ranges: list[tuple[int, int]] | None = None,
    max_vendor: int = 8,
) -> str:
    bits = (
        _bits(2, 6)  # version
        + _bits(16_000_000_000, 36) * 2  # created, last updated (deciseconds)
        + _bits(300, 12)
        + _bits(1, 12)
        + _bits(0, 6)  # cmp id, cmp version, screen
        + _bits(4, 6)
        + _bits(13, 6)  # language "EN"
        + _bits(100, 12)
        + _bits(4, 6)  # vendor list version, policy version (TCF 2.2)
        + "0"
        + "0"  # service specific, non-standard texts
        + _field((), 12)
        + _field(purposes_consent, 24)
        + _field(purposes_li, 24)
        + "0"
        + _bits(3, 6)
        + _bits(4, 6)  # purpose one treatment, publisher CC "DE"
    )
    if vendor_ranges is None:
        bits += _bits(max_vendor, 16) + "0" + "1" * max_vendor
    else:
        bits += _bits(max_vendor, 16) + "1" + _bits(len(vendor_ranges), 12)
        for start, end in vendor_ranges:
            bits += "1" + _bits(start, 16) + _bits(end, 16)
    bits += _bits(0, 16) + "0"  # no legitimate-interest vendors (bitfield of 0)
    bits += _bits(0, 12)  # no publisher restrictions
    bits += "0" * (-len(bits) % 8)
    data = int(bits, 2).to_bytes(len(bits) // 8, "big")
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
