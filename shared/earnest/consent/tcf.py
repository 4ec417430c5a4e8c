"""A small decoder for IAB TCF v2 TC strings (v2.0 to v2.2: the bit layout is the same).

No maintained Python decoder exists, and Earnest only needs to read one, never to write
one: this module turns a TC string into the fields the IAB's "Consent string and vendor
list formats" specification defines. What those fields mean for Earnest's purposes is
decided elsewhere (earnest.consent.cmp.mappings). Pure stdlib; it must not import boto3.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

# Segment types of the optional segments after the core string.
DISCLOSED_VENDORS, ALLOWED_VENDORS, PUBLISHER_TC = 1, 2, 3
_ALPHABET = {
    c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
}
MAX_LENGTH = 64 * 1024  # a real TC string is a few kB at most; refuse to spend more


class TCStringError(ValueError):
    """The text is not a TC string this decoder can read (malformed, truncated, v1, ...)."""


@dataclass(frozen=True, slots=True)
class PublisherRestriction:
    purpose_id: int
    restriction_type: int  # 0 not allowed, 1 require consent, 2 require legitimate interest
    vendor_ids: frozenset[int]


@dataclass(frozen=True, slots=True)
class PublisherTC:
    purposes_consent: frozenset[int]
    purposes_li_transparency: frozenset[int]
    custom_purposes_consent: frozenset[int]
    custom_purposes_li_transparency: frozenset[int]


@dataclass(frozen=True, slots=True)
class TCString:
    version: int
    created: datetime
    last_updated: datetime
    cmp_id: int
    cmp_version: int
    consent_screen: int
    consent_language: str
    vendor_list_version: int
    policy_version: int
    is_service_specific: bool
    use_non_standard_texts: bool
    special_feature_opt_ins: frozenset[int]
    purposes_consent: frozenset[int]
    purposes_li_transparency: frozenset[int]
    purpose_one_treatment: bool
    publisher_cc: str
    vendor_consents: frozenset[int]
    vendor_li: frozenset[int]
    publisher_restrictions: tuple[PublisherRestriction, ...]
    disclosed_vendors: frozenset[int] | None = None
    allowed_vendors: frozenset[int] | None = None
    publisher_tc: PublisherTC | None = None


_SIX_BITS = {char: format(index, "06b") for char, index in _ALPHABET.items()}


class BitReader:
    """Reads big-endian bit fields from one base64url segment.

    The segment becomes a text of '0' and '1' once, and each field is parsed from its own
    slice, so decoding costs time linear in the segment's length (issue 12: building one
    big integer and shifting it per field was quadratic). Six bits per character, so
    segments that do not end on a byte boundary (GPP's often do not) read the same as
    those that do; '=' padding is tolerated unless `padded=False` (GPP allows none).
    """

    def __init__(self, segment: str, padded: bool = True) -> None:
        text = segment.rstrip("=") if padded else segment
        if not text:
            raise TCStringError("a segment is empty")
        try:
            self._bits = "".join([_SIX_BITS[char] for char in text])
        except KeyError:
            raise TCStringError("a segment is not base64url") from None
        self.pos = 0

    @property
    def size(self) -> int:
        return len(self._bits)

    def _take(self, bits: int) -> str:
        end = self.pos + bits
        if end > len(self._bits):
            raise TCStringError(f"truncated: needed {bits} bits at bit {self.pos}")
        chunk = self._bits[self.pos : end]
        self.pos = end
        return chunk

    def uint(self, bits: int) -> int:
        return int(self._take(bits), 2) if bits else 0

    def flag(self) -> bool:
        return self.uint(1) == 1

    def bitfield(self, bits: int) -> frozenset[int]:
        """A fixed bitfield as the set of 1-based positions that are set."""
        return frozenset(i + 1 for i, bit in enumerate(self._take(bits)) if bit == "1")

    def date(self) -> datetime:
        return datetime.fromtimestamp(self.uint(36) / 10, UTC)  # deciseconds since epoch

    def letters(self) -> str:
        return chr(ord("A") + self.uint(6)) + chr(ord("A") + self.uint(6))

    def ranges(self, max_id: int | None = None) -> frozenset[int]:
        """NumEntries, then ranges or single ids; merged first so a hostile string of
        overlapping ranges costs no more than the ids it can name."""
        spans: list[tuple[int, int]] = []
        for _ in range(self.uint(12)):
            is_range = self.flag()
            start = self.uint(16)
            end = self.uint(16) if is_range else start
            if start < 1 or end < start:
                raise TCStringError(f"bad vendor range {start}-{end}")
            if max_id is not None and end > max_id:
                raise TCStringError(f"vendor {end} exceeds MaxVendorId {max_id}")
            spans.append((start, end))
        ids: set[int] = set()
        last = 0
        for start, end in sorted(spans):
            start = max(start, last + 1)
            if start <= end:
                ids.update(range(start, end + 1))
                last = end
        return frozenset(ids)

    def vendors(self) -> frozenset[int]:
        max_id = self.uint(16)
        if self.flag():
            return self.ranges(max_id)
        return self.bitfield(max_id)


def decode(tc_string: str) -> TCString:
    """Decode a TC string, with any disclosed-vendors, allowed-vendors or publisher segment."""
    if not isinstance(tc_string, str) or not tc_string.strip():
        raise TCStringError("empty TC string")
    if len(tc_string) > MAX_LENGTH:
        raise TCStringError("TC string too long")
    core, *others = tc_string.strip().split(".")
    tc = _core(BitReader(core))
    disclosed = allowed = None
    publisher = None
    for segment in others:
        if not segment:
            continue
        reader = BitReader(segment)
        kind = reader.uint(3)
        if kind == DISCLOSED_VENDORS:
            disclosed = reader.vendors()
        elif kind == ALLOWED_VENDORS:
            allowed = reader.vendors()
        elif kind == PUBLISHER_TC:
            publisher = _publisher(reader)
        # Other segment types are reserved: skip them, as the specification asks.
    return _with_segments(tc, disclosed, allowed, publisher)


def _core(r: BitReader) -> TCString:
    version = r.uint(6)
    if version != 2:
        raise TCStringError(f"unsupported TC string version {version} (only v2 is read)")
    created, last_updated = r.date(), r.date()
    cmp_id, cmp_version, consent_screen = r.uint(12), r.uint(12), r.uint(6)
    language = r.letters()
    vendor_list_version, policy_version = r.uint(12), r.uint(6)
    is_service_specific, non_standard = r.flag(), r.flag()
    special_features = r.bitfield(12)
    purposes_consent, purposes_li = r.bitfield(24), r.bitfield(24)
    purpose_one_treatment = r.flag()
    publisher_cc = r.letters()
    vendor_consents = r.vendors()
    vendor_li = r.vendors()
    restrictions = []
    for _ in range(r.uint(12)):
        purpose_id, restriction_type = r.uint(6), r.uint(2)
        restrictions.append(PublisherRestriction(purpose_id, restriction_type, r.ranges()))
    return TCString(
        version=version,
        created=created,
        last_updated=last_updated,
        cmp_id=cmp_id,
        cmp_version=cmp_version,
        consent_screen=consent_screen,
        consent_language=language,
        vendor_list_version=vendor_list_version,
        policy_version=policy_version,
        is_service_specific=is_service_specific,
        use_non_standard_texts=non_standard,
        special_feature_opt_ins=special_features,
        purposes_consent=purposes_consent,
        purposes_li_transparency=purposes_li,
        purpose_one_treatment=purpose_one_treatment,
        publisher_cc=publisher_cc,
        vendor_consents=vendor_consents,
        vendor_li=vendor_li,
        publisher_restrictions=tuple(restrictions),
    )


def _publisher(r: BitReader) -> PublisherTC:
    consent, li = r.bitfield(24), r.bitfield(24)
    custom = r.uint(6)
    return PublisherTC(consent, li, r.bitfield(custom), r.bitfield(custom))


def _with_segments(
    tc: TCString,
    disclosed: frozenset[int] | None,
    allowed: frozenset[int] | None,
    publisher: PublisherTC | None,
) -> TCString:
    from dataclasses import replace

    return replace(tc, disclosed_vendors=disclosed, allowed_vendors=allowed, publisher_tc=publisher)
