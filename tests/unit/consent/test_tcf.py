"""The TC string decoder against strings published with their decoded values.

Sources: the IAB Tech Lab's reference decoder tests (iabtcf-java, TCStringV2Test), Ketch's
Android SDK (TCFTest) and Usercentrics' "Consent Webhook" documentation.
"""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from earnest.consent.cmp.mappings import tcf_purposes
from earnest.consent.tcf import TCStringError, decode
from tests.builders.tc_strings import encode

IAB_CORE = "COtybn4PA_zT4KjACBENAPCIAEBAAECAAIAAAAAAAAAA"
IAB_VENDORS = "COrEAV4OrXx94ACABBENAHCIAD-AAAAAAACAAxAAAAgAIAwgAgAAAAEAgQAAAAAEAYQAQAAAACAAAABAAA"
IAB_SEGMENTS = IAB_VENDORS + ".IBAgAAAgAIAwgAgAAAAEAAAACA.QAagAQAgAIAwgA.cAAAAAAAITg="
GVL = (
    ".IFoEUQQgAIQwgIwQABAEAAAAOIAACAIAAAAQAIAgEAACEAAAAAgAQBAAAAAAAGBAAgAAAAAAAFAAECAAAgAAQA"
    "RAEQAAAAAJAAIAAgAAAYQEAAAQmAgBC3ZAYzUw"
)
IAB_TWO_RANGES = "COwBOpCOwBOpCLqAAAENAPCAAAAAAAAAAAAAFfwAYFfAV-BVkAGBVYFWAAA" + GVL
IAB_ONE_RANGE = "COwBOpCOwBOpCLqAAAENAPCAAAAAAAAAAAAAFfwAQFfgUbABAUaAAA" + GVL
KETCH = "CPhBZtcPhBZtcACABAENCACgAIAAAAAAAAAAH2QAYH0AfYB9kAGB9YH2AAAA.YAAAAAAAAAAA"
USERCENTRICS = (
    "CQP6E8AQP6E8AAFADAENBlFkAHJAAEBAAIYgF5wBAABAAGAXeAvMFfYAYC7wF5gV9ADHQAYAAgr6FAAwABBX0kABg"
    "ACCvoAA.YAAAAAAAAAAA"
)


def test_the_iab_core_string_decodes_field_by_field() -> None:
    tc = decode(IAB_CORE)
    assert tc.version == 2
    assert tc.created == datetime(2020, 1, 26, 17, 1, tzinfo=UTC)
    assert tc.last_updated == datetime(2021, 2, 2, 17, 1, tzinfo=UTC)
    assert (tc.cmp_id, tc.cmp_version, tc.consent_screen) == (675, 2, 1)
    assert (tc.vendor_list_version, tc.policy_version) == (15, 2)
    assert (tc.consent_language, tc.publisher_cc) == ("EN", "AA")
    assert not tc.is_service_specific and not tc.use_non_standard_texts
    assert tc.purpose_one_treatment
    assert tc.special_feature_opt_ins == {1}
    assert tc.purposes_consent == {2, 10}
    assert tc.purposes_li_transparency == {2, 9}


def test_the_iab_bitfield_vendors_and_every_optional_segment_decode() -> None:
    tc = decode(IAB_SEGMENTS)
    assert tc.purposes_consent == {3, 4, 5, 6, 7, 8, 9}
    assert tc.vendor_consents == {23, 37, 47, 48, 53, 65, 98}
    assert tc.vendor_li == {37, 47, 48, 53, 65, 98, 129}
    assert tc.allowed_vendors == {12, 23, 37, 47, 48, 53}
    assert tc.disclosed_vendors == {23, 37, 47, 48, 53, 65, 98, 129}
    assert tc.publisher_tc is not None and tc.publisher_tc.purposes_consent == {1}


def test_the_iab_range_encoded_vendors_decode() -> None:
    assert decode(IAB_TWO_RANGES).vendor_consents == {702, 703}
    assert decode(IAB_ONE_RANGE).vendor_consents == {703}


def test_ketchs_published_string_decodes_as_its_sdk_says() -> None:
    tc = decode(KETCH)
    assert tc.created == datetime(2022, 10, 17, 13, 44, 54, tzinfo=UTC)
    assert (tc.cmp_id, tc.cmp_version, tc.vendor_list_version) == (2, 1, 128)
    assert tc.is_service_specific and tc.purposes_consent == {1}
    assert tc.vendor_consents == {1000, 1001, 1002, 1003, 1004}
    assert tc.vendor_li == {1003, 1004}
    assert tc.publisher_tc is not None and tc.publisher_tc.purposes_consent == frozenset()


def test_usercentrics_webhook_sample_string_is_a_usercentrics_tcf_string() -> None:
    tc = decode(USERCENTRICS)
    assert tc.cmp_id == 5  # Usercentrics' registered CMP id
    assert tc.created.date().isoformat() == "2025-04-15"  # the sample's timestamp, 1744721495920
    assert tc.purposes_consent == {2, 3, 4, 7, 10}
    # No purpose 1, 5, 6 or 8: nothing Earnest maps is granted.
    assert tcf_purposes(tc) == {"personalization": "denied", "measurement": "denied"}


@pytest.mark.parametrize(
    ("consent", "li", "expected"),
    [
        ({1, 5, 6, 8}, set(), {"personalization": "granted", "measurement": "granted"}),
        ({1, 5}, {8}, {"personalization": "denied", "measurement": "granted"}),
        ({5, 6, 8}, set(), {"personalization": "denied", "measurement": "granted"}),
        ({1, 5, 6}, {5, 6}, {"personalization": "granted", "measurement": "denied"}),
    ],
)
def test_personalization_needs_purposes_1_5_and_6_and_measurement_purpose_8(
    consent: set[int], li: set[int], expected: dict[str, str]
) -> None:
    assert tcf_purposes(decode(encode(consent, li))) == expected


def test_a_tcf_v1_consent_string_is_refused_not_misread() -> None:
    with pytest.raises(TCStringError, match="version 1"):
        decode("BOVeoB_OVeoFxC-AHAFRBtAAAAAhGAEAD4AXAA2YCEQ")


@pytest.mark.parametrize("text", ["", "not a tc string!", IAB_CORE[:12], "C" * 5])
def test_malformed_or_truncated_strings_raise_tc_string_error(text: str) -> None:
    with pytest.raises(TCStringError):
        decode(text)


def test_a_hostile_string_of_overlapping_ranges_decodes_quickly() -> None:
    text = encode({1}, vendor_ranges=[(1, 65535)] * 4095, max_vendor=65535)
    started = time.perf_counter()
    assert len(decode(text).vendor_consents) == 65535
    assert time.perf_counter() - started < 2


@given(
    st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=", max_size=120
    )
)
def test_any_text_decodes_or_raises_tc_string_error_never_anything_else(text: str) -> None:
    with contextlib.suppress(TCStringError):
        decode("C" + text)
