"""decide's rules cache: a request never waits for a refresh, and unchanged rules are not
compiled again."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

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

    def load(self) -> Rules:
        self.loads += 1
        assert self.hang.wait(10)
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


def test_past_the_ttl_a_hung_table_holds_no_request_and_the_last_rules_serve() -> None:
    table, clock = Table(experience(id="first")), [0.0]
    rules = cache(table, clock)
    assert ids(rules) == ["first"]  # a cold start loads before it can serve
    table.hang.clear()  # DynamoDB now hangs
    table.docs.append(experience(id="second", placement="pdp-recs"))
    clock[0] += Settings().rules_ttl_seconds
    assert ids(rules) == ["first"]  # answered at once, by the engine it has
    assert ids(rules) == ["first"] and table.loads == 2  # one refresh in flight, not one each
    table.hang.set()
    for _ in range(1000):  # the background refresh lands
        if len(ids(rules)) == 2:
            break
        time.sleep(0.01)  # (a timed Event.wait never returns under libfaketime)
    assert sorted(ids(rules)) == ["first", "second"]


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


def test_a_failed_refresh_keeps_the_last_rules_and_backs_off() -> None:
    table, clock, events = Table(experience(id="kept")), [0.0], list[str]()
    rules = cache(table, clock, events, background=False)
    assert ids(rules) == ["kept"]
    table.fail = True
    clock[0] += Settings().rules_ttl_seconds
    assert ids(rules) == ["kept"] and events[-1] == "rules_refresh_failed"
    assert ids(rules) == ["kept"] and table.loads == 2  # backing off: no load per request
