"""Ordering: whatever order updates arrive in, the newest (time, then event id) is kept."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from earnest.consent.cmp.mappings import complete, consent_mode_purposes, purposes_from_codes
from earnest.consent.records import DUPLICATE, FIRST, NEWER, STALE, order

Event = tuple[str, str]
events = st.lists(
    st.tuples(
        st.sampled_from(
            ["2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.001Z", "2026-02-01T00:00:00.000Z"]
        ),
        st.sampled_from(["a", "b", "c"]),
    ),
    min_size=1,
    max_size=8,
)


def replay(arrivals: list[Event]) -> Event | None:
    stored: Event | None = None
    for event in arrivals:
        if order(stored, event) in (FIRST, NEWER):
            stored = event
    return stored


@given(events, st.randoms())
def test_the_stored_event_is_the_newest_whatever_the_arrival_order(
    arrivals: list[Event], rnd: object
) -> None:
    shuffled = list(arrivals)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert replay(shuffled) == replay(arrivals) == max(arrivals)


def test_ties_on_time_go_to_the_greater_event_id_and_repeats_are_duplicates() -> None:
    t = "2026-01-01T00:00:00.000Z"
    assert order((t, "b"), (t, "c")) == NEWER
    assert order((t, "b"), (t, "a")) == STALE
    assert order((t, "b"), (t, "b")) == DUPLICATE
    assert order(None, (t, "a")) == FIRST


def test_a_purpose_no_signal_speaks_to_is_stored_as_denied() -> None:
    assert complete({"measurement": "granted"}) == {
        "personalization": "denied",
        "measurement": "granted",
    }
    assert complete(None) == {"personalization": "denied", "measurement": "denied"}


def test_consent_mode_any_personalization_category_denied_denies() -> None:
    assert consent_mode_purposes({"personalization_storage": "granted"}) == {
        "personalization": "granted"
    }
    both = {"personalization_storage": "granted", "ad_personalization": "denied"}
    assert consent_mode_purposes(both) == {"personalization": "denied"}
    assert consent_mode_purposes({"ad_storage": "granted"}) == {}


def test_cmp_codes_grant_only_when_every_reported_code_grants() -> None:
    table = {"p1": "personalization", "p2": "personalization", "m": "measurement"}
    assert purposes_from_codes({"p1": True, "p2": None, "m": False}, table) == {
        "personalization": "granted",
        "measurement": "denied",
    }
    assert purposes_from_codes({"p1": True, "p2": False}, table) == {"personalization": "denied"}
    assert purposes_from_codes({"other": True}, table) == {}
