"""GPP strings published with their decoded values (IAB Tech Lab's iabgpp-java tests) and
what their US opt-outs mean for Earnest's purposes."""

from __future__ import annotations

import pytest

from earnest.consent.cmp.mappings import SignalError, consent_string_purposes, gpp_purposes
from earnest.consent.gpp import GppError, decode

TCF_SECTION = "CPSG_8APSG_8ANwAAAENAwCAAAAAAAAAAAAAAAAAAAAA.QAAA.IAAA"


def test_a_us_privacy_section_decodes() -> None:
    gpp = decode("DBABTA~1YNN")
    assert gpp.section_ids == (6,)
    assert gpp.us[0].sale == 2  # N: did not opt out


def test_a_tcf_eu_section_is_a_tc_string() -> None:
    gpp = decode("DBABMA~" + TCF_SECTION)
    assert gpp.section_ids == (2,)
    assert gpp.tcfeuv2 is not None
    assert (gpp.tcfeuv2.cmp_id, gpp.tcfeuv2.vendor_list_version) == (880, 48)


def test_section_ids_in_fibonacci_ranges_decode() -> None:
    assert decode("DBACNYA~" + TCF_SECTION + "~1YNN").section_ids == (2, 6)
    canada = "BPSG_8APSG_8AAyACAENGdCgf_gfgAfgfgBgABABAAABAB4AACACAAA.fHHHA4444ao"
    assert decode(f"DBACOeA~{TCF_SECTION}~{canada}~1YNN").section_ids == (2, 5, 6)


def test_usnat_opt_outs_and_the_gpc_subsection_are_read() -> None:
    opted_out = decode("DBABL~BVVVkkkklWA.YA").us[0]  # iabgpp-java: every opt-out = 1, GPC
    assert (opted_out.sale, opted_out.sharing, opted_out.targeted_advertising) == (1, 1, 1)
    assert opted_out.gpc
    untouched = decode("DBABL~BAAAAAAAAQA.QA").us[0]  # the library's default: not applicable
    assert not untouched.any_opt_out()


@pytest.mark.parametrize(
    ("text", "personalization", "regulation"),
    [
        ("DBABL~BVVVkkkklWA.YA", "denied", "us"),
        ("DBABL~BAAAAAAAAQA.QA", "granted", "us"),
        ("DBABTA~1YNN", "granted", "cpra"),
        ("1YYN", "denied", "cpra"),  # a bare US Privacy string: opted out of sale
    ],
)
def test_a_us_opt_out_of_sale_sharing_or_targeting_denies_personalization(
    text: str, personalization: str, regulation: str
) -> None:
    purposes, implied = consent_string_purposes(text)
    assert purposes == {"personalization": personalization, "measurement": "granted"}
    assert implied == regulation


def test_with_a_tcf_and_a_us_section_the_most_restrictive_wins() -> None:
    gpp = decode("DBACNYA~" + TCF_SECTION + "~1YNN")  # TCF section grants no purpose
    assert gpp_purposes(gpp) == {"personalization": "denied", "measurement": "denied"}


@pytest.mark.parametrize("text", ["DBABTA", "DBACNYA~1YNN", "XXXX~1YNN", "DBABTA~2YNN"])
def test_malformed_gpp_strings_raise(text: str) -> None:
    with pytest.raises(GppError):
        decode(text)


# Strings below were encoded with the IAB's @iabgpp/cmpapi 3.2.0 (tests/iab pins it).


def test_a_state_section_beside_a_national_one_is_read_and_its_opt_out_denies() -> None:
    # Given usnat with no opt-out and Connecticut's usct opting out of sale (issue 12: usct
    # was never read, so this granted personalization)
    decoded = decode("DBACLDA~CAAqAAAAAABA.QA~BAQAAAEA.QA")
    assert [u.section for u in decoded.us] == ["usnat", "usct"]
    assert decoded.us[1].sale == 1
    assert gpp_purposes(decoded) == {"personalization": "denied", "measurement": "granted"}


def test_a_state_section_alone_grants_measurement_and_reads_its_own_opt_outs() -> None:
    opted_out = decode("DBABRg~BAkAABA")  # usva: targeted advertising opted out
    assert (opted_out.us[0].section, opted_out.us[0].targeted_advertising) == ("usva", 1)
    assert gpp_purposes(opted_out) == {"personalization": "denied", "measurement": "granted"}
    untouched = decode("DBABRg~BAoAABA")  # usva: did not opt out of either
    assert gpp_purposes(untouched) == {"personalization": "granted", "measurement": "granted"}


def test_a_state_sections_gpc_segment_is_read() -> None:
    (colorado,) = decode("DBABJg~BAgAAEA.YA").us
    assert (colorado.section, colorado.sale, colorado.gpc) == ("usco", 2, True)
    assert consent_string_purposes("DBABJg~BAgAAEA.YA")[0]["personalization"] == "denied"


def test_a_section_earnest_does_not_read_denies_personalization_only() -> None:
    canada = "BPSG_8APSG_8AAyACAENGdCgf_gfgAfgfgBgABABAAABAB4AACACAAA.fHHHA4444ao"
    decoded = decode(f"DBACOeA~{TCF_SECTION}~{canada}~1YNN")
    assert decoded.unread == (5,)
    assert gpp_purposes(decoded)["personalization"] == "denied"


def test_canadas_section_alone_fails_closed_for_personalization_and_leaves_measurement_be() -> None:
    # "DBABD": a header naming section 5 (tcfcav1) alone; @iabgpp/cmpapi reads it as such.
    canada = "BPSG_8APSG_8AAyACAENGdCgf_gfgAfgfgBgABABAAABAB4AACACAAA.fHHHA4444ao"
    decoded = decode(f"DBABD~{canada}")
    assert (decoded.section_ids, decoded.unread) == ((5,), (5,))
    # not read, so it cannot grant; and it does not deny measurement by omission
    assert gpp_purposes(decoded) == {"personalization": "denied"}


@pytest.mark.parametrize(
    "text",
    [
        "DBABRg~BAkAABA=",  # padding: GPP has none
        "DBABRg~BAkAA",  # usva cut short of its 40 bits
        "DBABRg~",  # a blank section
        "DBABRg~BAkAABA~1YNN",  # more sections than the header names
        "DBABRg~BAk!ABA",  # not base64url
    ],
)
def test_malformed_gpp_strings_the_iab_library_rejects_are_rejected(text: str) -> None:
    with pytest.raises(GppError):
        decode(text)


def test_a_megabyte_consent_string_is_refused_before_it_is_decoded() -> None:
    with pytest.raises(GppError, match="longer than"):
        decode("DBABRg~" + "A" * 1_000_000)
    with pytest.raises(SignalError, match="at most"):
        consent_string_purposes("C" * 1_000_000)
