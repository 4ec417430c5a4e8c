"""A unit's memory: exposures counted per experience per UTC day, dismissals with their
time, each event once, and bounded whatever a visitor does."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from earnest.memory import (
    DAY_MS,
    EMPTY,
    MAX_COUNT,
    MAX_EXPERIENCES,
    MAX_SEEN,
    MAX_WINDOW_DAYS,
    Memory,
    Remembered,
    from_json,
    remember,
    to_json,
)

NOW = 20_454 * DAY_MS + 10 * 3_600_000  # 10:00 UTC on day 20454; given, never the clock


def shown(n: int, experience: str = "banner", at: int = NOW, prefix: str = "e") -> list[Remembered]:
    return [Remembered(f"{prefix}-{i}", experience, at) for i in range(n)]


def test_exposures_count_on_the_days_of_the_window_today_included() -> None:
    memory = remember(EMPTY, shown(2) + shown(3, at=NOW - 6 * DAY_MS, prefix="old"), [], NOW)
    assert memory is not None
    assert memory.exposures_within("banner", NOW, 7) == 5
    assert memory.exposures_within("banner", NOW, 6) == 2  # six days ago is outside 6 days
    assert memory.exposures_within("banner", NOW + DAY_MS, 7) == 2  # a day later
    assert memory.exposures_within("other", NOW, 7) == 0


def test_an_event_counted_once_is_never_counted_again() -> None:
    first = remember(EMPTY, shown(3), [], NOW)
    assert first is not None
    assert remember(first, shown(3), [], NOW) is None  # the retry of the same request
    again = remember(first, shown(4), [], NOW)
    assert again is not None and again.exposures_within("banner", NOW, 1) == 4


def test_a_dismissal_lasts_exactly_its_days() -> None:
    memory = remember(EMPTY, [], [Remembered("d-1", "banner", NOW)], NOW)
    assert memory is not None
    assert memory.dismissed_within("banner", NOW + 30 * DAY_MS - 1, 30)
    assert not memory.dismissed_within("banner", NOW + 30 * DAY_MS, 30)
    assert not memory.dismissed_within("other", NOW, 30)


def test_days_and_dismissals_past_the_longest_window_are_dropped() -> None:
    old = NOW - (MAX_WINDOW_DAYS + 1) * DAY_MS
    memory = remember(EMPTY, shown(2, at=old), [Remembered("d", "gone", old)], NOW)
    assert memory is not None and memory.exposures == {} and memory.dismissed == {}


def test_at_most_so_many_experiences_the_least_recently_seen_go_first() -> None:
    extra = 5
    events = [
        Remembered(f"e-{i}", f"exp-{i:02d}", NOW - (MAX_EXPERIENCES + extra - i) * DAY_MS)
        for i in range(MAX_EXPERIENCES + extra)
    ]
    memory = remember(EMPTY, events, [], NOW)
    assert memory is not None
    assert sorted(memory.exposures) == [
        f"exp-{i:02d}" for i in range(extra, MAX_EXPERIENCES + extra)
    ]


@given(st.integers(1, 3 * MAX_COUNT // 1000))
def test_a_days_count_saturates_and_the_digests_are_bounded(batches: int) -> None:
    memory: Memory = EMPTY
    for b in range(batches):
        changed = remember(memory, shown(1000, prefix=f"b{b}"), [], NOW)
        assert changed is not None
        memory = changed
    assert memory.exposures["banner"][NOW // DAY_MS] == min(MAX_COUNT, batches * 1000)
    assert len(memory.seen) == MAX_SEEN


def test_memory_round_trips_through_its_stored_text_and_bad_text_reads_empty() -> None:
    memory = remember(EMPTY, shown(2), [Remembered("d-1", "hero", NOW)], NOW)
    assert memory is not None and from_json(to_json(memory)) == memory
    for bad in ("", "[]", '{"x": 1}', '{"x": {}, "d": {"a": "soon"}, "s": []}'):
        assert from_json(bad) == EMPTY


def test_the_stored_text_stays_small_at_every_bound() -> None:
    events = [
        Remembered(f"e-{e}-{d}", f"experience-number-{e:03d}", NOW - d * DAY_MS)
        for e in range(MAX_EXPERIENCES)
        for d in range(MAX_WINDOW_DAYS)
    ]
    memory = remember(EMPTY, events, shown(MAX_EXPERIENCES, prefix="d"), NOW)
    assert memory is not None
    assert len(to_json(memory)) < 150_000  # DynamoDB's item limit is 400 KB
