"""Ordering: a withdrawal is never outranked by a grant it did not follow.

The model: several CMPs, each with its own clock (up to 10 minutes behind ours, up to 5
ahead, as far as /consent accepts), make updates at true times; each reaches Earnest
after a delay, some twice (a retry). The promises of docs/consent.md ("Ordering") are
checked against what `order` keeps, over every interleaving.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from earnest.consent.cmp.mappings import complete, consent_mode_purposes, purposes_from_codes
from earnest.consent.records import (
    DUPLICATE,
    FIRST,
    MAX_CLOCK_SKEW,
    NEWER,
    STALE,
    TIED,
    ConsentUpdate,
    Standing,
    order,
)
from earnest.timefmt import format_ms

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, in ms
SKEW_MS = int(MAX_CLOCK_SKEW.total_seconds() * 1000)
GRANTED, DENIED = "granted", "denied"


@dataclass(frozen=True)
class Sent:
    """One update as a CMP made it and as Earnest first received it."""

    cmp: int
    made: int  # true time, ms after T0
    stamp: int  # the CMP's clock at `made`
    receipt: int  # first receipt, ms after T0
    personalization: str
    measurement: str
    event_id: str

    def standing(self) -> Standing:
        update = ConsentUpdate(
            "s-1",
            self.event_id,
            format_ms(T0 + self.stamp),
            f"cmp-{self.cmp}",
            purposes={"personalization": self.personalization, "measurement": self.measurement},
        )
        return Standing.of(update, format_ms(T0 + self.receipt))


@st.composite
def histories(draw: st.DrawFn, cmps: int = 3, in_order: bool = False) -> list[Sent]:
    """Updates from up to `cmps` CMPs; times on a coarse grid, so ties are common."""
    skews = draw(st.lists(st.integers(-2 * SKEW_MS, SKEW_MS), min_size=1, max_size=cmps))
    grid = st.integers(0, 40).map(lambda n: n * 15_000)  # 0 to 10 minutes, 15 s steps
    sent: list[Sent] = []
    made_times = draw(st.lists(grid, min_size=1, max_size=8, unique=in_order))
    for n, made in enumerate(sorted(made_times) if in_order else made_times):
        cmp = draw(st.integers(0, len(skews) - 1))
        delay = n if in_order else draw(st.sampled_from([0, 1, 15_000, 60_000, 240_000]))
        stamp = made + skews[cmp]
        if stamp > made + delay + SKEW_MS:  # /consent refuses it: more than 5 min ahead
            continue
        sent.append(
            Sent(
                cmp,
                made,
                stamp,
                made + delay,
                draw(st.sampled_from([GRANTED, DENIED])),
                draw(st.sampled_from([GRANTED, DENIED])),
                draw(st.sampled_from(["a", "b", "c"])) + str(n),
            )
        )
    return sent


def replay(arrivals: list[Sent]) -> Standing | None:
    """What is stored once every update is applied, in this order (a retry included)."""
    stored: Standing | None = None
    for sent in arrivals:
        _, keep = order(stored, sent.standing())
        stored = keep or stored
    return stored


def received(sent: list[Sent], rnd: random.Random) -> list[Sent]:
    """In order of receipt, same-millisecond receipts in any order, and some retried."""
    arrivals = sorted(sent, key=lambda s: (s.receipt, rnd.random()))
    retried = [s for s in sent if rnd.random() < 0.3]
    return arrivals + retried


@given(histories(), st.randoms())
def test_the_stored_consent_is_the_same_in_whatever_order_the_updates_are_applied(
    sent: list[Sent], rnd: random.Random
) -> None:
    """Two functions may apply two receipts in either order: the outcome cannot depend on it."""
    shuffled = received(sent, rnd)
    rnd.shuffle(shuffled)
    once, again = replay(received(sent, rnd)), replay(shuffled)
    assert once is not None and again is not None
    assert (once.purposes, once.ordered_at) == (again.purposes, again.ordered_at)


@given(histories(), st.randoms())
def test_a_withdrawal_stamped_after_every_grant_arrived_is_kept_whatever_their_stamps(
    sent: list[Sent], rnd: random.Random
) -> None:
    """The issue-18 case and its kin: a grant stamped minutes ahead, a withdrawal made
    after it arrived. Each purpose a withdrawal denies stays denied unless a grant of it
    arrived after the withdrawal was stamped (the only grants that may have followed it)."""
    stored = replay(received(sent, rnd))
    assert stored is not None
    for purpose in ("personalization", "measurement"):
        for withdrawal in (s for s in sent if getattr(s, purpose) == DENIED):
            made_before = min(withdrawal.stamp, withdrawal.receipt)
            grants = [s for s in sent if getattr(s, purpose) == GRANTED]
            if all(g.receipt <= made_before for g in grants):
                assert stored.purposes[purpose] == DENIED


@given(histories(cmps=1, in_order=True), st.randoms())
def test_one_cmp_delivering_in_order_has_its_last_word_kept_whatever_its_clock(
    sent: list[Sent], rnd: random.Random
) -> None:
    stored = replay(received(sent, rnd))
    assert stored is not None and sent
    last = max(sent, key=lambda s: s.made)
    assert stored.purposes == {
        "personalization": last.personalization,
        "measurement": last.measurement,
    }


@given(histories(), st.randoms())
def test_updates_at_the_same_ordering_time_keep_every_denial_either_makes(
    sent: list[Sent], rnd: random.Random
) -> None:
    stored = replay(received(sent, rnd))
    assert stored is not None
    tied = [s for s in sent if s.standing().ordered_at == stored.ordered_at]
    for purpose in ("personalization", "measurement"):
        expected = DENIED if any(getattr(s, purpose) == DENIED for s in tied) else GRANTED
        assert stored.purposes[purpose] == expected


def _standing(at: str, event_id: str, personalization: str, received: str = "") -> Standing:
    update = ConsentUpdate(
        "s-1", event_id, at, "cmp", purposes={"personalization": personalization}
    )
    return Standing.of(update, received or at)


def test_a_future_stamped_grant_is_ordered_at_its_receipt() -> None:
    """Issue 18, as found: a grant stamped now+240 s, then a withdrawal stamped now+1 s."""
    now, later = "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:01.000Z"
    grant = _standing("2026-01-01T00:04:00.000Z", "g", GRANTED, received=now)
    assert grant.ordered_at == now
    reason, keep = order(grant, _standing(later, "w", DENIED))
    assert reason == NEWER and keep is not None and keep.purposes["personalization"] == DENIED


def test_a_tie_goes_to_the_denial_whatever_the_event_ids_and_repeats_are_duplicates() -> None:
    t = "2026-01-01T00:00:00.000Z"
    denial = _standing(t, "b", DENIED)
    for event_id in ("a", "c"):
        assert order(denial, _standing(t, event_id, GRANTED)) == (TIED, None)
        reason, keep = order(_standing(t, event_id, GRANTED), denial)
        assert reason == TIED and keep is not None and keep.purposes["personalization"] == DENIED
    assert order(denial, denial) == (DUPLICATE, None)
    assert order(denial, _standing("2025-12-31T23:59:59.999Z", "z", GRANTED)) == (STALE, None)
    assert order(None, denial) == (FIRST, denial)


def test_a_standing_stored_before_ordering_by_receipt_is_ordered_no_later_than_its_write() -> None:
    value = {"purposes": {}, "event_time": "2026-01-01T00:04:00.000Z", "event_id": "g"}
    assert Standing.stored(value, "2026-01-01T00:00:00.000Z").ordered_at == (
        "2026-01-01T00:00:00.000Z"
    )


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
