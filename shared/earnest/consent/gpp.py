"""IAB's Global Privacy Platform (GPP) string, read as the IAB's own library reads it.

A GPP string is a header (which sections follow) and `~`-separated sections. Earnest reads
every section that carries what it maps (docs/consent.md): the EU TCF section (tcfeuv2,
id 2, a TC string), the legacy US Privacy string (uspv1, id 6), the US national section
(usnat, id 7) and every US state section `@iabgpp/cmpapi` defines (ids 8 to 27: usca to
usri). Another section (Canada's tcfcav1, or an id the IAB has not defined) is listed in
`unread`, and the mapping denies personalization for it rather than ignore it.

As strict as the IAB library: base64url without padding, every field of a section's core
segment present, the header's section count equal to the sections that follow. Linear in
the string's length and capped at `MAX_LENGTH`. Pure stdlib; it must not import boto3.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from earnest.consent.tcf import MAX_LENGTH, BitReader, TCString, TCStringError
from earnest.consent.tcf import decode as decode_tc_string

TCFEUV2, USPV1, USNAT = 2, 6, 7
MAX_SECTIONS = 64

# 0 = not applicable, 1 = opted out, 2 = did not opt out (GPP's US sections).
OPTED_OUT = 1
GPC = -1  # the second segment of a section is its GPC segment


class GppError(ValueError):
    """Not a GPP string this decoder can read."""


class _Layout(NamedTuple):
    """Where a US section's core segment keeps what Earnest reads (bit offsets).

    Taken from `@iabgpp/cmpapi` 3.2.0's segment definitions; tests/iab cross-checks them.
    """

    name: str
    core_bits: int  # every field of the core segment: fewer is a truncated section
    sale: int
    sharing: int | None
    targeted_advertising: int | None
    second: int | None  # GPC, or the bits of a sensitive-data segment, or no second segment


US_SECTIONS: dict[int, _Layout] = {
    7: _Layout("usnat", 70, 18, 20, 22, GPC),
    8: _Layout("usca", 46, 12, 14, None, GPC),
    9: _Layout("usva", 40, 12, None, 14, None),
    10: _Layout("usco", 38, 12, None, 14, GPC),
    11: _Layout("usut", 42, 14, None, 16, None),
    12: _Layout("usct", 44, 12, None, 14, GPC),
    13: _Layout("usfl", 46, 12, None, 14, None),
    14: _Layout("usmt", 46, 12, None, 14, GPC),
    15: _Layout("usor", 52, 12, None, 14, GPC),
    16: _Layout("ustx", 42, 12, None, 14, GPC),
    17: _Layout("usde", 52, 12, None, 14, GPC),
    18: _Layout("usia", 42, 14, None, 16, GPC),
    19: _Layout("usne", 42, 12, None, 14, GPC),
    20: _Layout("usnh", 46, 12, None, 14, GPC),
    21: _Layout("usnj", 54, 12, None, 14, GPC),
    22: _Layout("ustn", 42, 12, None, 14, GPC),
    23: _Layout("usmn", 42, 12, None, 14, GPC),
    24: _Layout("usmd", 22, 16, None, 18, GPC),
    25: _Layout("usin", 24, 16, None, 18, 16),
    26: _Layout("usky", 24, 16, None, 18, 16),
    27: _Layout("usri", 24, 16, None, 18, 16),
}
# usnat version 1 was 60 or 66 bits long; the library widens it to version 2's layout.
_USNAT_V1_BITS = (60, 66)


@dataclass(frozen=True, slots=True)
class UsOptOuts:
    """The US opt-outs Earnest maps; None where the section has no such field."""

    section: str
    sale: int
    sharing: int | None
    targeted_advertising: int | None
    gpc: bool = False

    def any_opt_out(self) -> bool:
        return self.gpc or OPTED_OUT in (self.sale, self.sharing, self.targeted_advertising)


@dataclass(frozen=True, slots=True)
class GppString:
    section_ids: tuple[int, ...]
    tcfeuv2: TCString | None = None
    us: tuple[UsOptOuts, ...] = field(default=())
    unread: tuple[int, ...] = ()  # sections present that Earnest does not decode


def _fibonacci(r: BitReader) -> int:
    """One Fibonacci-coded integer: bits weigh 1, 2, 3, 5, ...; '11' ends it."""
    a, b = 1, 2
    value, previous = 0, 0
    for _ in range(64):
        bit = r.uint(1)
        if bit and previous:
            return value
        if bit:
            value += a
        a, b = b, a + b
        previous = bit
    raise GppError("Fibonacci integer never ends")


def _section_ids(r: BitReader) -> tuple[int, ...]:
    ids: list[int] = []
    offset = 0
    for _ in range(r.uint(12)):
        if r.flag():  # a range: start and end, each an offset from the last id
            start = offset + _fibonacci(r)
            end = start + _fibonacci(r)
            if end - start > MAX_SECTIONS:
                raise GppError("section range too long")
            ids.extend(range(start, end + 1))
            offset = end
        else:
            offset += _fibonacci(r)
            ids.append(offset)
        if len(ids) > MAX_SECTIONS:
            raise GppError("too many sections")
    return tuple(ids)


def _opt_out(r: BitReader, offset: int) -> int:
    r.pos = offset
    return r.uint(2)


def _us_section(layout: _Layout, text: str) -> UsOptOuts:
    core, *rest = text.split(".")
    r = BitReader(core, padded=False)
    # usnat v1 is shorter after the opt-outs, which sit at the same offsets in both versions
    v1 = layout.name == "usnat" and r.size in _USNAT_V1_BITS
    if r.size < layout.core_bits and not v1:
        raise GppError(f"{layout.name}: truncated ({r.size} of {layout.core_bits} bits)")
    sharing, targeted = layout.sharing, layout.targeted_advertising
    opt_outs = (
        _opt_out(r, layout.sale),
        None if sharing is None else _opt_out(r, sharing),
        None if targeted is None else _opt_out(r, targeted),
    )
    gpc = False
    if rest and layout.second is not None:
        second = BitReader(rest[0], padded=False)
        if layout.second == GPC:
            second.uint(2)  # the segment type, read as the library does: by position
            gpc = second.flag()
        else:
            second.uint(layout.second)  # sensitive-data consents: present in full
    return UsOptOuts(layout.name, *opt_outs, gpc=gpc)


def _uspv1(text: str) -> UsOptOuts:
    """The legacy US Privacy string, e.g. `1YNN`: version, notice, opt-out of sale, LSPA."""
    if len(text) != 4 or text[0] != "1" or any(c not in "YN-" for c in text[1:]):
        raise GppError("not a US Privacy string (expected e.g. 1YNN)")
    sale = {"Y": 1, "N": 2, "-": 0}[text[2].upper()]
    return UsOptOuts("uspv1", sale, None, None)


def decode_us_privacy(text: str) -> UsOptOuts:
    return _uspv1(text.strip().upper())


def _header(header: str) -> tuple[int, ...]:
    """The ids of the sections the header says follow."""
    try:
        r = BitReader(header, padded=False)
        if r.uint(6) != 3:
            raise GppError("not a GPP string (header type is not 3)")
        if r.uint(6) != 1:
            raise GppError("unsupported GPP version")
        return _section_ids(r)
    except TCStringError as exc:
        raise GppError(f"bad GPP header: {exc}") from None


def decode(gpp_string: str) -> GppString:
    if not isinstance(gpp_string, str) or not gpp_string.strip():
        raise GppError("empty GPP string")
    if len(gpp_string) > MAX_LENGTH:
        raise GppError(f"GPP string longer than {MAX_LENGTH} characters")
    header, *sections = gpp_string.strip().split("~")
    ids = _header(header)
    if len(ids) != len(sections):
        raise GppError(f"the header names {len(ids)} section(s) but {len(sections)} follow")
    tcf: TCString | None = None
    us: list[UsOptOuts] = []
    unread: list[int] = []
    for section_id, text in zip(ids, sections, strict=True):
        try:
            if section_id == TCFEUV2:
                tcf = decode_tc_string(text)
            elif section_id == USPV1:
                us.append(_uspv1(text))
            elif section_id in US_SECTIONS:
                us.append(_us_section(US_SECTIONS[section_id], text))
            else:
                unread.append(section_id)
        except TCStringError as exc:
            raise GppError(f"section {section_id}: {exc}") from None
    return GppString(ids, tcf, tuple(us), tuple(unread))
