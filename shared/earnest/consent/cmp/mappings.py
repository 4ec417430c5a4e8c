"""Industry consent signals mapped onto Earnest's purposes; the table is docs/consent.md.

Every function returns only the purposes its signal speaks to. `complete` then fills the
rest: a purpose no signal speaks to is stored as denied, so a CMP payload can never grant
by omission.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from earnest.consent.gpp import GppString, UsOptOuts
from earnest.consent.purposes import DENIED, GRANTED, PURPOSES, VALUES, most_restrictive
from earnest.consent.records import MAX_CONSENT_STRING
from earnest.consent.tcf import TCString
from earnest.errors import InvalidRequest

# TCF v2.2 purposes: 1 store/access information on a device, 5 create profiles for
# personalised content, 6 use profiles to select personalised content, 8 measure content
# performance. Purposes 3-6 cannot rest on legitimate interest in v2.2, and Earnest does
# not read it for 1; purpose 8 may, so "legitimate interest established and not objected
# to" counts for measurement.
TCF_PERSONALIZATION = frozenset({1, 5, 6})
TCF_MEASUREMENT = 8

# Google Consent Mode v2 categories.
CONSENT_MODE_PERSONALIZATION = ("personalization_storage", "ad_personalization")
CONSENT_MODE_MEASUREMENT = ("analytics_storage",)


def _value(granted: bool) -> str:
    return GRANTED if granted else DENIED


def tcf_purposes(tc: TCString) -> dict[str, str]:
    """Personalization needs consent to purposes 1, 5 and 6; measurement purpose 8."""
    measurement = TCF_MEASUREMENT in tc.purposes_consent or (
        TCF_MEASUREMENT in tc.purposes_li_transparency
    )
    return {
        "personalization": _value(tc.purposes_consent >= TCF_PERSONALIZATION),
        "measurement": _value(measurement),
    }


def consent_mode_purposes(categories: Mapping[str, str]) -> dict[str, str]:
    """Google Consent Mode: any personalization category denied denies personalization."""
    out: dict[str, str] = {}
    for purpose, names in (
        ("personalization", CONSENT_MODE_PERSONALIZATION),
        ("measurement", CONSENT_MODE_MEASUREMENT),
    ):
        values = [categories[n] for n in names if n in categories]
        if values:
            out[purpose] = DENIED if DENIED in values else GRANTED
    return out


def us_opt_out_purposes(opt_outs: Iterable[UsOptOuts]) -> dict[str, str]:
    """An opt-out of sale, sharing or targeted advertising (or GPC) denies personalization.

    US state laws are opt-out laws and none of GPP's US sections carries a measurement
    opt-out, so first-party measurement stays granted under them (docs/consent.md).
    """
    sections = list(opt_outs)
    if not sections:
        return {}
    denied = any(section.any_opt_out() for section in sections)
    return {"personalization": _value(not denied), "measurement": GRANTED}


def gpp_purposes(gpp: GppString) -> dict[str, str]:
    """Every section Earnest reads, most restrictive first; a section it does not read
    denies personalization (fail closed) and says nothing of measurement."""
    maps: list[dict[str, str]] = []
    if gpp.tcfeuv2 is not None:
        maps.append(tcf_purposes(gpp.tcfeuv2))
    if gpp.us:
        maps.append(us_opt_out_purposes(gpp.us))
    if gpp.unread:
        maps.append({"personalization": DENIED})
    return most_restrictive(*maps)


def regulation_of_gpp(gpp: GppString) -> str | None:
    """The regulation a GPP string speaks for, when it speaks for one."""
    if gpp.tcfeuv2 is not None and not gpp.us:
        return "gdpr"
    names = {section.section for section in gpp.us}
    if names and names <= {"usca", "uspv1"}:
        return "cpra"
    if names:
        return "us"
    return None


def purposes_from_codes(
    choices: Mapping[str, bool | None], table: Mapping[str, str]
) -> dict[str, str]:
    """A CMP's own purpose codes (`code -> granted?`) through a configured table
    (`code -> earnest purpose`): an Earnest purpose is granted when every mapped code the
    CMP reports is granted, denied when any is denied; codes with no choice (None) are
    ignored, so it is unknown when none of its codes was reported."""
    seen: dict[str, list[bool]] = {}
    for code, purpose in table.items():
        choice = choices.get(code)
        if choice is not None:
            seen.setdefault(purpose, []).append(bool(choice))
    return {purpose: _value(all(values)) for purpose, values in seen.items()}


def complete(*maps: Mapping[str, str] | None) -> dict[str, str]:
    """Most restrictive of every map, then every purpose no map speaks to as denied."""
    combined = most_restrictive(*maps)
    return {p: combined[p] if combined.get(p) in VALUES else DENIED for p in PURPOSES}


def parse_table(raw: str, name: str) -> dict[str, str]:
    """`code:purpose,code:purpose` (configuration) -> {code: purpose}."""
    table: dict[str, str] = {}
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        code, sep, purpose = part.rpartition(":")
        if not sep or not code or purpose not in PURPOSES:
            raise ValueError(
                f"{name} entries must look like code:{'|'.join(PURPOSES)}, got {part!r}"
            )
        table[code] = purpose
    return table


class SignalError(ValueError):
    """A consent string that is neither a TC string, a GPP string nor a US Privacy string."""


def consent_string_purposes(text: str) -> tuple[dict[str, str], str | None]:
    """Any consent string a CMP sends, decoded and mapped: (purposes, regulation it implies).

    GPP strings start with `DB` (header type 3, version 1); US Privacy strings look like
    `1YNN`; anything else is read as a TC string.
    """
    from earnest.consent import gpp, tcf

    if len(text) > MAX_CONSENT_STRING:  # every path reaches this cap, whatever it decodes
        raise SignalError(f"a consent string is at most {MAX_CONSENT_STRING} characters")
    text = text.strip()
    try:
        if text.startswith("DB"):
            decoded = gpp.decode(text)
            return gpp_purposes(decoded), regulation_of_gpp(decoded)
        if len(text) == 4 and text[0] == "1":
            return us_opt_out_purposes([gpp.decode_us_privacy(text)]), "cpra"
        return tcf_purposes(tcf.decode(text)), "gdpr"
    except (gpp.GppError, tcf.TCStringError) as exc:
        raise SignalError(str(exc)) from None


def read_consent_string(value: Any, field: str) -> tuple[dict[str, str], str | None]:
    """A payload's consent string, decoded as `consent_string_purposes`; a bad one is a 400."""
    if not isinstance(value, str) or len(value) > MAX_CONSENT_STRING:
        raise InvalidRequest(
            f"consent_string must be a string of at most {MAX_CONSENT_STRING} characters",
            field=field,
        )
    try:
        return consent_string_purposes(value)
    except SignalError as exc:
        raise InvalidRequest(
            f"consent_string is not a TC, GPP or US Privacy string ({exc})", field=field
        ) from None
