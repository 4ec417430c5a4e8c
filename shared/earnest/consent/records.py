"""Consent updates as Earnest stores them: who, which regulation, what, when, from where.

Owns the rules every source shares: the regulation (one regulation never overwrites
another's consent), event-time normalisation (ISO 8601 UTC with milliseconds, so that
strings order like times), ordering (`order`: a withdrawal is never outranked by a grant it
did not follow; docs/consent.md, "Ordering") and the bounds on identifiers. Pure: no boto3.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from earnest.consent.purposes import PURPOSES, VALUES, most_restrictive
from earnest.errors import InvalidRequest
from earnest.ids import MAX_ID_LENGTH
from earnest.timefmt import format_time as format_time  # cmp/didomi reads it here

UPDATE, ERASE = "update", "erase"
ACTIONS = (UPDATE, ERASE)
DEFAULT_REGULATION = "default"
MAX_BATCH = 100
MAX_CONSENT_STRING = 16 * 1024
# A CMP's clock may run a little ahead of ours; anything further ahead is refused as
# garbage. Within it, a future stamp buys nothing: an update is ordered no later than
# its receipt (`ordered_at`).
MAX_CLOCK_SKEW = timedelta(minutes=5)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)

# Outcomes, as the response and the history name them.
FIRST = "first_for_regulation"
NEWER = "newer_than_stored"
STALE = "older_than_stored"
DUPLICATE = "duplicate"
TIED = "tied_with_stored"
ERASED = "subject_erased"
ERASURE = "erased"

# fmt: off
EU_EEA = frozenset({
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT",
    "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
    "EU", "EEA",
})
# fmt: on
COUNTRY_REGULATIONS = {"GB": "uk_gdpr", "UK": "uk_gdpr", "CH": "fadp", "BR": "lgpd", "CA": "pipeda"}
REGULATION_ALIASES = {
    "gdpr": "gdpr",
    "eugdpr": "gdpr",
    "gdpreu": "gdpr",
    "eu": "gdpr",
    "tcfeuv2": "gdpr",
    "uk_gdpr": "uk_gdpr",
    "ukgdpr": "uk_gdpr",
    "cpra": "cpra",
    "ccpa": "cpra",
    "ccpaca": "cpra",
    "cpraca": "cpra",
    "usca": "cpra",
    "us": "us",
    "usnat": "us",
    "vcdpa": "us",
    "cpa": "us",
    "ctdpa": "us",
    "ucpa": "us",
    "lgpd": "lgpd",
    "pipeda": "pipeda",
    "fadp": "fadp",
    "nfadp": "fadp",
    "default": DEFAULT_REGULATION,
    "none": DEFAULT_REGULATION,
}
_SLUG = re.compile(r"[a-z][a-z0-9_]{1,23}")
_ISO = re.compile(r"([A-Za-z]{2,3})(?:-([A-Za-z0-9]{1,3}))?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class ConsentUpdate:
    """One subject's consent under one regulation at one moment, as a CMP stated it."""

    subject_id: str
    event_id: str
    event_time: str  # ISO 8601 UTC, milliseconds: orders as a string
    source: str
    action: Literal["update", "erase"] = "update"
    regulation: str = DEFAULT_REGULATION
    purposes: Mapping[str, str] = field(default_factory=dict)
    consent_string: str | None = None
    jurisdiction: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one update; `applied` is False for stale, duplicate or erased."""

    update: ConsentUpdate
    applied: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.update.event_id,
            "action": self.update.action,
            "regulation": self.update.regulation,
            "applied": self.applied,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class ParsedPayload:
    """What a source's payload holds: updates, or per-item errors a batch reports."""

    items: list[ConsentUpdate | InvalidRequest]
    batch: bool = False
    ignored: str | None = None  # why a well-formed payload carries nothing to store


@dataclass(frozen=True, slots=True)
class Standing:
    """One regulation's consent as stored, with its place in the order (`ordered_at`)."""

    purposes: Mapping[str, str]
    event_time: str
    event_id: str
    ordered_at: str
    source: str = ""

    @classmethod
    def of(cls, update: ConsentUpdate, first_receipt: str) -> Standing:
        """An update as it would be stored, ordered by when it was first received."""
        return cls(
            update.purposes,
            update.event_time,
            update.event_id,
            ordered_at(update.event_time, first_receipt),
            update.source,
        )

    @classmethod
    def stored(cls, value: Mapping[str, Any], updated_at: str | None = None) -> Standing:
        """A stored `r_<regulation>` map. One written before `ordered_at` was kept is
        ordered no later than the item's last write, which is no earlier than its receipt."""
        event_time = str(value["event_time"])
        return cls(
            dict(value.get("purposes") or {}),
            event_time,
            str(value["event_id"]),
            str(value.get("ordered_at") or min(event_time, updated_at or event_time)),
            str(value.get("source") or ""),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "purposes": dict(self.purposes),
            "event_time": self.event_time,
            "event_id": self.event_id,
            "ordered_at": self.ordered_at,
            "source": self.source,
        }


def ordered_at(event_time: str, first_receipt: str) -> str:
    """Where an update sits in the order: its event time, or its first receipt when that
    is earlier. A clock running ahead cannot place a grant after a withdrawal made after
    the grant arrived. Both are Earnest's time format, so the earlier string is the
    earlier time."""
    return min(event_time, first_receipt)


def order(stored: Standing | None, new: Standing) -> tuple[str, Standing | None]:
    """The outcome of an update against the stored one, and what to store (None: keep).

    Later `ordered_at` wins. At the same `ordered_at` neither followed the other, so
    each purpose either denies stays denied (a withdrawal wins a tie, whatever the event
    ids) — the same answer in whichever order the two arrive.
    """
    if stored is None:
        return FIRST, new
    same = (new.event_time, new.event_id, dict(new.purposes))
    if same == (stored.event_time, stored.event_id, dict(stored.purposes)):
        return DUPLICATE, None  # a repeat; the same event saying otherwise is a tie
    if new.ordered_at != stored.ordered_at:
        return (NEWER, new) if new.ordered_at > stored.ordered_at else (STALE, None)
    merged = most_restrictive(stored.purposes, new.purposes)
    if merged == dict(stored.purposes):
        return TIED, None
    last = max((stored, new), key=lambda s: (s.event_time, s.event_id))
    return TIED, Standing(merged, last.event_time, last.event_id, last.ordered_at, last.source)


def parse_event_time(raw: Any, field_name: str = "event_time", now: datetime | None = None) -> str:
    """An ISO 8601 time with a zone, or epoch seconds/milliseconds, as a normalised string."""
    now = now or datetime.now(UTC)
    if isinstance(raw, bool) or raw is None:
        raise InvalidRequest(
            f"{field_name} is required: an ISO 8601 time with a zone", field=field_name
        )
    if isinstance(raw, int | float):
        seconds = raw / 1000 if raw > 1e11 else raw  # CMPs send either; 1e11 s is year 5138
        try:
            moment = datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise InvalidRequest(f"{field_name} is not a time", field=field_name) from None
    elif isinstance(raw, str):
        try:
            moment = datetime.fromisoformat(raw.strip().replace("z", "Z"))
        except ValueError:
            raise InvalidRequest(
                f"{field_name} must be ISO 8601 with a zone, e.g. 2026-03-01T12:00:00Z",
                field=field_name,
            ) from None
        if moment.tzinfo is None:
            raise InvalidRequest(f"{field_name} needs a time zone (e.g. Z)", field=field_name)
    else:
        raise InvalidRequest(f"{field_name} must be a string", field=field_name)
    if moment > now + MAX_CLOCK_SKEW:
        raise InvalidRequest(f"{field_name} is in the future", field=field_name)
    if moment < EARLIEST:
        raise InvalidRequest(f"{field_name} is before 2000", field=field_name)
    return format_time(moment)


def obj(raw: Any) -> Mapping[str, Any]:
    """A JSON object, or an empty one for anything else (optional nested parts)."""
    return raw if isinstance(raw, Mapping) else {}


def identifier(raw: Any, field_name: str, max_length: int = MAX_ID_LENGTH) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidRequest(f"{field_name} is required (a non-empty string)", field=field_name)
    if len(raw) > max_length:
        raise InvalidRequest(
            f"{field_name} is longer than {max_length} characters", field=field_name
        )
    if _CONTROL.search(raw):
        raise InvalidRequest(f"{field_name} contains control characters", field=field_name)
    return raw


def subject(raw: Any, field_name: str = "subject_id") -> str:
    value = identifier(raw, field_name)
    if value.startswith("__"):  # reserved for Earnest's own items (webhook ids)
        raise InvalidRequest(f"{field_name} may not start with '__'", field=field_name)
    return value


def regulation_of(raw: Any, field_name: str = "jurisdiction", strict: bool = True) -> str:
    """A jurisdiction or regulation name as the regulation its consent is stored under.

    ISO country or subdivision codes (DE, US-CA), regulation names (gdpr, ccpa) and their
    common CMP spellings are mapped; another lower-case slug is kept as its own regulation.
    Strict callers (Earnest's format) get a 400 for anything else, CMPs get `default`.
    """
    if raw is None:
        return DEFAULT_REGULATION
    if isinstance(raw, str):
        text = raw.strip()
        lowered = text.lower().replace("-", "_")
        if lowered in REGULATION_ALIASES:
            return REGULATION_ALIASES[lowered]
        iso = _ISO.fullmatch(text)
        if iso:
            return _of_country(iso.group(1).upper(), (iso.group(2) or "").upper())
        if _SLUG.fullmatch(lowered):
            return lowered
    if strict:
        raise InvalidRequest(
            f"{field_name} must be a country code (DE, US-CA) or a regulation (gdpr, cpra)",
            field=field_name,
        )
    return DEFAULT_REGULATION


def _of_country(country: str, region: str) -> str:
    if country in EU_EEA:
        return "gdpr"
    if country == "US":
        return "cpra" if region == "CA" else "us"
    return COUNTRY_REGULATIONS.get(country, DEFAULT_REGULATION)


def purposes(raw: Any, field_name: str = "purposes") -> dict[str, str]:
    """Earnest's own purposes object: both purposes, each granted or denied."""
    if not isinstance(raw, Mapping):
        raise InvalidRequest(
            f"{field_name} must be an object: {{personalization, measurement}}", field=field_name
        )
    for name, value in raw.items():
        if name not in PURPOSES:
            raise InvalidRequest(
                f"unknown purpose {name!r}; purposes are {', '.join(PURPOSES)}",
                field=f"{field_name}.{name}",
            )
        if value not in VALUES:
            raise InvalidRequest(
                f"{field_name}.{name} must be granted or denied", field=f"{field_name}.{name}"
            )
    for name in PURPOSES:
        if name not in raw:
            # A snapshot that omitted a purpose would silently drop a stored denial.
            raise InvalidRequest(f"{field_name}.{name} is required", field=f"{field_name}.{name}")
    return {name: str(raw[name]) for name in PURPOSES}
