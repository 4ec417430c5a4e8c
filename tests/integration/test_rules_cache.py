"""decide's rules cache: a request never waits for a refresh, and unchanged rules are not
compiled again."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from earnest.errors import Unavailable
from earnest_aws.experiences_store import Rules
from earnest_aws.rules_cache import RulesCache
from earnest_aws.settings import Settings
from tests.builders.experiences import experience


class Table:
    """What the experiences table holds; a load can be made to hang until released."""

    def __init__(self, *docs: dict[str, Any]) -> None:
        self.docs = list(docs)
        self.loads = 0
        self.hang = threading.Event()
        self.hang.set()
        self.fail = False
        self.delay = 0.0  # seconds a load takes (DynamoDB's round trip)

    def load(self) -> Rules:
        self.loads += 1
        assert self.hang.wait(10)
        time.sleep(self.delay)
        if self.fail:
            raise Unavailable("experiences table unreadable")
        return Rules([dict(d) for d in self.docs], {})


def cache(
    table: Table, clock: list[float], events: list[str] | None = None, background: bool = True
) -> RulesCache:
    def note(name: str, _fields: dict[str, Any]) -> None:
        if events is not None:
            events.append(name)

    def inline(job: Callable[[], None]) -> None:
        job()

    return RulesCache(
        Settings(),
        None,
        load=table.load,
        clock=lambda: clock[0],
        on_event=note,
        **({} if background else {"spawn": inline}),
    )


def ids(rules: RulesCache) -> list[str]:
    engine = rules.engine()
    assert engine is not None
    return [e.id for e in engine.experiences]


def wait_for(rules: RulesCache, count: int) -> list[str]:
    for _ in range(1000):  # the background refresh lands
        engine = rules.engine()
        if engine is not None and len(engine.experiences) == count:
            break
        time.sleep(0.01)  # (a timed Event.wait never returns under libfaketime)
    return sorted(ids(rules))


TTL = Settings().rules_ttl_seconds


def test_under_traffic_the_refresh_lands_before_the_ttl_and_no_request_waits() -> None:
    table, clock = Table(experience(id="first")), [0.0]
    rules = cache(table, clock)
    assert ids(rules) == ["first"]  # a cold start loads before it can serve
    table.hang.clear()  # DynamoDB now hangs
    table.docs.append(experience(id="second", placement="pdp-recs"))
    clock[0] = TTL - 1  # within the refresh-ahead window, before the TTL
    assert ids(rules) == ["first"]  # answered at once, by the engine it has
    assert ids(rules) == ["first"] and table.loads == 2  # one refresh in flight, not one each
    table.hang.set()
    assert wait_for(rules, 2) == ["first", "second"] and clock[0] < TTL


def test_an_idle_instance_answers_its_first_request_with_rules_read_after_the_pause() -> None:
    """Issue 18: after 20 s idle the first decide still served a paused variant."""
    table, clock = Table(experience(id="paused-later")), [0.0]
    rules = cache(table, clock)
    assert ids(rules) == ["paused-later"]
    table.docs, table.delay = [], 0.02  # paused: no longer live; a load takes 20 ms
    clock[0] = 10 * TTL  # idle: no request, no refresh
    assert ids(rules) == []  # the first request waits for the refresh it starts


def test_past_the_bound_a_hung_table_answers_the_defaults_never_the_old_rules() -> None:
    table, clock, events = Table(experience(id="old")), [0.0], list[str]()
    rules = cache(table, clock, events)
    assert ids(rules) == ["old"]
    table.hang.clear()
    clock[0] = TTL  # at the TTL, with the refresh hung
    assert rules.engine() is None  # after at most RULES_WAIT_SECONDS: rules_unavailable
    assert rules.engine() is None and table.loads == 2  # later requests do not wait again
    table.hang.set()
    assert wait_for(rules, 1) == ["old"] and "rules_refreshed" in events


@given(
    st.lists(
        st.tuples(st.floats(0, 2 * TTL), st.floats(0, 1.5 * TTL), st.booleans()),
        min_size=1,
        max_size=30,
    )
)
def test_no_answer_uses_rules_read_longer_ago_than_the_ttl(
    steps: list[tuple[float, float, bool]],
) -> None:
    """Requests after any gaps (idle or busy), loads of any duration that may fail: every
    engine answered with was read (its load started) less than the TTL before the answer."""
    clock, read_at, load_takes, fails = [0.0], list[float](), [0.0], [False]

    def load() -> Rules:
        read_at.append(clock[0])
        clock[0] += load_takes[0]
        if fails[0]:
            raise Unavailable("experiences table unreadable")
        return Rules([experience(id=f"load-{len(read_at) - 1}")], {})

    rules = RulesCache(Settings(), None, load=load, clock=lambda: clock[0], spawn=lambda j: j())
    for gap, load_takes[0], fails[0] in steps:
        clock[0] += gap
        engine = rules.engine()
        if engine is not None:
            (served,) = [int(e.id.split("-")[1]) for e in engine.experiences]
            assert clock[0] - read_at[served] < TTL


def test_rules_that_did_not_change_are_not_compiled_again() -> None:
    table, clock, events = Table(experience(id="same")), [0.0], list[str]()
    rules = cache(table, clock, events, background=False)
    first = rules.engine()
    clock[0] += Settings().rules_ttl_seconds
    assert rules.engine() is first and table.loads == 2  # read again, compiled once
    assert events == ["rules_refreshed"]
    table.docs[0] = experience(id="same", holdout=0.2)
    clock[0] += Settings().rules_ttl_seconds
    assert rules.engine() is not first and events == ["rules_refreshed"] * 2


def test_a_failed_refresh_keeps_the_last_rules_until_the_ttl_and_backs_off() -> None:
    table, clock, events = Table(experience(id="kept")), [0.0], list[str]()
    rules = cache(table, clock, events, background=False)
    assert ids(rules) == ["kept"]
    table.fail = True
    clock[0] = TTL - 1  # a refresh is due
    assert ids(rules) == ["kept"] and events[-1] == "rules_refresh_failed"
    assert ids(rules) == ["kept"] and table.loads == 2  # backing off: no load per request
    clock[0] = TTL  # past the TTL, still failing: the defaults
    assert rules.engine() is None
