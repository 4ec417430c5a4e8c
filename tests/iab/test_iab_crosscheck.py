"""Earnest's TCF and GPP decoders read every string as the IAB Tech Lab's own libraries do.

`crosscheck.mjs` (Node 20, `@iabtechlabtcf/core` and `@iabgpp/cmpapi` pinned by
package-lock.json here) encodes a fixed-seed corpus with the IAB's encoders, small
corruptions of it, and prints what the IAB's decoders read. Each string is decoded again by
Earnest and compared field by field; the strings the IAB rejects must be rejected too.
Skips only where `node` is missing (CI has it; `make test` installs the packages).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from earnest.consent import gpp, tcf
from earnest.consent.cmp.mappings import gpp_purposes, tcf_purposes

HERE = Path(__file__).parent
SEED, COUNT = 20261201, 400
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


@cache
def corpus() -> dict[str, Any]:
    if not (HERE / "node_modules" / "@iabgpp" / "cmpapi").is_dir():
        pytest.fail("the IAB libraries are missing: npm ci --prefix tests/iab")
    assert NODE is not None
    out = subprocess.run(
        [NODE, str(HERE / "crosscheck.mjs"), str(SEED), str(COUNT)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    data: dict[str, Any] = json.loads(out.stdout)
    return data


def _sorted(ids: frozenset[int] | None) -> list[int] | None:
    return None if ids is None else sorted(ids)


def _earnest_tc_fields(tc: tcf.TCString) -> dict[str, Any]:
    return {
        "version": tc.version,
        "created": round(tc.created.timestamp() * 10),
        "last_updated": round(tc.last_updated.timestamp() * 10),
        "cmp_id": tc.cmp_id,
        "cmp_version": tc.cmp_version,
        "consent_screen": tc.consent_screen,
        "consent_language": tc.consent_language,
        "vendor_list_version": tc.vendor_list_version,
        "policy_version": tc.policy_version,
        "is_service_specific": tc.is_service_specific,
        "use_non_standard_texts": tc.use_non_standard_texts,
        "special_feature_opt_ins": _sorted(tc.special_feature_opt_ins),
        "purposes_consent": _sorted(tc.purposes_consent),
        "purposes_li_transparency": _sorted(tc.purposes_li_transparency),
        "purpose_one_treatment": tc.purpose_one_treatment,
        "publisher_cc": tc.publisher_cc,
        "vendor_consents": _sorted(tc.vendor_consents),
        "vendor_li": _sorted(tc.vendor_li),
        "publisher_restrictions": sorted(
            [r.purpose_id, r.restriction_type, sorted(r.vendor_ids)]
            for r in tc.publisher_restrictions
            if r.vendor_ids
        ),
        "disclosed_vendors": _sorted(tc.disclosed_vendors),
        "publisher_tc": None
        if tc.publisher_tc is None
        else [
            sorted(tc.publisher_tc.purposes_consent),
            sorted(tc.publisher_tc.purposes_li_transparency),
            sorted(tc.publisher_tc.custom_purposes_consent),
            sorted(tc.publisher_tc.custom_purposes_li_transparency),
        ],
    }


def test_every_tc_string_decodes_field_by_field_as_the_iab_library_reads_it() -> None:
    strings = corpus()["tcf"]
    assert len(strings) == COUNT
    mismatches = [
        s["string"] for s in strings if _earnest_tc_fields(tcf.decode(s["string"])) != s["fields"]
    ]
    assert mismatches == []
    # the corpus exercises what it claims to: restrictions, both vendor encodings, segments
    assert sum(bool(s["fields"]["publisher_restrictions"]) for s in strings) > COUNT // 4
    assert sum(s["fields"]["publisher_tc"] is not None for s in strings) > COUNT // 4
    assert sum(s["fields"]["disclosed_vendors"] is not None for s in strings) > COUNT // 10


def _iab_opt_outs(sections: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    out = {}
    for name, fields in sections.items():
        if name == "uspv1":
            out[name] = ({"Y": 1, "N": 2, "-": 0}[fields["OptOutSale"]], None, None, False)
        elif name.startswith("us"):
            out[name] = (
                fields["SaleOptOut"],
                fields.get("SharingOptOut"),
                fields.get("TargetedAdvertisingOptOut"),
                bool(fields.get("Gpc", False)),
            )
    return out


def _earnest_opt_outs(decoded: gpp.GppString) -> dict[str, tuple[Any, ...]]:
    return {u.section: (u.sale, u.sharing, u.targeted_advertising, u.gpc) for u in decoded.us}


def _iab_personalization(sections: dict[str, Any]) -> str:
    """What the IAB's reading means under docs/consent.md's table, computed independently."""
    denied = any(1 in values[:3] or values[3] for values in _iab_opt_outs(sections).values())
    if "tcfeuv2" in sections:
        consents = sections["tcfeuv2"]["PurposeConsents"]
        denied = denied or not all(consents[p - 1] for p in (1, 5, 6))
    return "denied" if denied else "granted"


def test_every_gpp_string_reads_each_us_section_as_the_iab_library_does() -> None:
    strings = corpus()["gpp"]
    assert all(s["ok"] for s in strings)
    read_sections = {name for s in strings for name in s["sections"]}
    assert {"usnat", "usca", "usva", "usco", "usut", "usct", "usri"} <= read_sections
    mismatches = []
    for s in strings:
        decoded = gpp.decode(s["string"])
        purposes = gpp_purposes(decoded)
        if _earnest_opt_outs(decoded) != _iab_opt_outs(s["sections"]) or (
            purposes["personalization"] != _iab_personalization(s["sections"])
        ):
            mismatches.append(s["string"])
        if decoded.us:  # US sections never deny measurement by omission
            assert purposes["measurement"] == "granted" or decoded.tcfeuv2 is not None
    assert mismatches == []


def test_a_gpp_string_the_iab_library_rejects_is_rejected_and_one_it_reads_is_read_alike() -> None:
    strings = corpus()["malformed"]
    rejected = [s for s in strings if not s["ok"]]
    assert len(rejected) > len(strings) // 4  # the corruptions are mostly fatal
    accepted_by_earnest = []
    for s in rejected:
        try:
            gpp.decode(s["string"])
        except gpp.GppError:
            continue
        accepted_by_earnest.append(s["string"])
    assert accepted_by_earnest == []
    # Where the IAB library reads a corrupted string, Earnest reads it alike, or is stricter
    # in the two places it means to be: a US Privacy string with letters other than Y, N
    # and -, and a TC string's optional segment cut short (the IAB skips both unread).
    stricter = ("not a US Privacy string", "section 2: truncated")
    disagreements = []
    for s in strings:
        if not s["ok"]:
            continue
        try:
            decoded = gpp.decode(s["string"])
        except gpp.GppError as exc:
            if not str(exc).startswith(stricter):
                disagreements.append((s["string"], str(exc)))
            continue
        if _earnest_opt_outs(decoded) != _iab_opt_outs(s["sections"]):
            disagreements.append((s["string"], "opt-outs differ"))
    assert disagreements == []


def test_tcf_purposes_follow_the_iab_reading() -> None:
    for s in corpus()["tcf"][:100]:
        fields = s["fields"]
        expected = {
            "personalization": "granted"
            if {1, 5, 6} <= set(fields["purposes_consent"])
            else "denied",
            "measurement": "granted"
            if 8 in fields["purposes_consent"] or 8 in fields["purposes_li_transparency"]
            else "denied",
        }
        assert tcf_purposes(tcf.decode(s["string"])) == expected
