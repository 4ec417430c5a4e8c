"""Just enough of IAB's Global Privacy Platform (GPP) string to read US opt-outs.

A GPP string is a header (which sections follow) and `~`-separated sections. Earnest reads
the sections that carry what it maps (docs/consent.md): the US national section (usnat,
id 7), California (usca, id 8), the legacy US Privacy string (uspv1, id 6) and the EU TCF
section (tcfeuv2, id 2, which is a TC string). Other sections are listed but not read.
Pure stdlib; it must not import boto3.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from earnest.consent.tcf import BitReader, TCString, TCStringError
from earnest.consent.tcf import decode as decode_tc_string

TCFEUV2, USPV1, USNAT, USCA = 2, 6, 7, 8
MAX_SECTIONS = 64

# 0 = not applicable, 1 = opted out, 2 = did not opt out (GPP's US sections).
OPTED_OUT = 1


class GppError(ValueError):
    """Not a GPP string this decoder can read."""


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


def _gpc_subsection(parts: list[str]) -> bool:
    for part in parts[1:]:
        r = BitReader(part)
        if r.uint(2) == 1:  # subsection type 1: GPC
            return r.flag()
    return False


def _usnat(text: str) -> UsOptOuts:
    parts = text.split(".")
    r = BitReader(parts[0])
    r.uint(6)  # version: 1 and 2 share the fields Earnest reads
    r.uint(12)  # six notices
    sale, sharing, targeted = r.uint(2), r.uint(2), r.uint(2)
    return UsOptOuts("usnat", sale, sharing, targeted, _gpc_subsection(parts))


def _usca(text: str) -> UsOptOuts:
    parts = text.split(".")
    r = BitReader(parts[0])
    r.uint(6)  # version
    r.uint(6)  # three notices
    sale, sharing = r.uint(2), r.uint(2)
    return UsOptOuts("usca", sale, sharing, None, _gpc_subsection(parts))


def _uspv1(text: str) -> UsOptOuts:
    """The legacy US Privacy string, e.g. `1YNN`: version, notice, opt-out of sale, LSPA."""
    if len(text) != 4 or text[0] != "1" or any(c not in "YN-" for c in text[1:]):
        raise GppError("not a US Privacy string (expected e.g. 1YNN)")
    sale = {"Y": 1, "N": 2, "-": 0}[text[2].upper()]
    return UsOptOuts("uspv1", sale, None, None)


def decode_us_privacy(text: str) -> UsOptOuts:
    return _uspv1(text.strip().upper())


def decode(gpp_string: str) -> GppString:
    if not isinstance(gpp_string, str) or not gpp_string.strip():
        raise GppError("empty GPP string")
    header, *sections = gpp_string.strip().split("~")
    try:
        r = BitReader(header)
        if r.uint(6) != 3:
            raise GppError("not a GPP string (header type is not 3)")
        if r.uint(6) != 1:
            raise GppError("unsupported GPP version")
        ids = _section_ids(r)
    except TCStringError as exc:
        raise GppError(f"bad GPP header: {exc}") from None
    if len(ids) != len(sections):
        raise GppError(f"the header names {len(ids)} section(s) but {len(sections)} follow")
    tcf: TCString | None = None
    us: list[UsOptOuts] = []
    for section_id, text in zip(ids, sections, strict=True):
        try:
            if section_id == TCFEUV2:
                tcf = decode_tc_string(text)
            elif section_id == USNAT:
                us.append(_usnat(text))
            elif section_id == USCA:
                us.append(_usca(text))
            elif section_id == USPV1:
                us.append(_uspv1(text))
        except TCStringError as exc:
            raise GppError(f"section {section_id}: {exc}") from None
    return GppString(ids, tcf, tuple(us))
