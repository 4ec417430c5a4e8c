"""Recency in audiences: `$withinDays` and `$olderThanDays` against the request's time.

The cases in tests/data/recency_conditions.json are run here and by the edge's JS engine
(clients/edge-worker/test/engine.test.js), each at the file's fixed request time, given
to the engine (never the wall clock), so both decide them alike on any date.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from earnest.audience import compile_condition, matches
from earnest.conditions.checks import check_condition
from earnest.conditions.recency import DAY_MS, at_time, reads_time, time_ms
from tests.conftest import ROOT

RECENCY = json.loads((ROOT / "tests" / "data" / "recency_conditions.json").read_text())
NOW_MS: int = RECENCY["now_ms"]


@pytest.mark.parametrize("case", RECENCY["cases"], ids=[c[0] for c in RECENCY["cases"]])
def test_recency_case(case: list[Any]) -> None:
    name, condition, attributes, expected = case
    with at_time(NOW_MS):
        assert matches(condition, attributes) is expected, name


def test_the_request_time_is_the_one_given_not_the_wall_clock() -> None:
    """The same predicate answers by the time it is given: the clock moves, the answer too."""
    bought = {"attributes": {"last_purchase_at": "2025-12-22T00:00:00Z"}}
    recent = compile_condition({"attributes.last_purchase_at": {"$withinDays": 30}})
    with at_time(NOW_MS):
        assert recent(bought)
    with at_time(NOW_MS + 21 * DAY_MS):
        assert not recent(bought)


def test_outside_a_decision_the_wall_clock_is_the_request_time() -> None:
    a_minute_ago = int(time.time() * 1000) - 60_000
    assert matches({"t": {"$withinDays": 1}}, {"t": a_minute_ago})
    assert not matches({"t": {"$olderThanDays": 1}}, {"t": a_minute_ago})


@given(
    age_ms=st.integers(-(10**11), 10**12),
    days=st.integers(0, 3650) | st.floats(0, 3650, allow_nan=False),
)
def test_the_two_operators_split_every_past_time(age_ms: int, days: float) -> None:
    """For any time not ahead of now: exactly one of within and older holds."""
    doc = {"t": NOW_MS - age_ms}
    with at_time(NOW_MS):
        within = matches({"t": {"$withinDays": days}}, doc)
        older = matches({"t": {"$olderThanDays": days}}, doc)
    if age_ms < -300_000:
        assert not within and not older
    else:
        assert within != older


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.integers(-(23 * 60 + 59), 23 * 60 + 59),
)
def test_iso_text_reads_as_datetime_reads_the_same_instant(naive: datetime, minutes: int) -> None:
    """The strict reader agrees with datetime on every zoned ISO text datetime writes."""
    moment = naive.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    text = moment.isoformat(timespec="milliseconds")
    assert time_ms(text) == (moment - EPOCH) // timedelta(milliseconds=1)


def test_validate_names_a_bad_number_of_days() -> None:
    for bad in ("30", -1, True, 36_501, None):
        problems = check_condition({"attributes.seen_at": {"$withinDays": bad}})
        assert [(p.path, p.message) for p in problems] == [
            ("attributes.seen_at.$withinDays", "$withinDays takes a number of days from 0 to 36500")
        ]
    assert check_condition({"attributes.seen_at": {"$olderThanDays": 7, "$withinDays": 0.5}}) == []


def test_decide_sets_the_time_only_for_rules_that_read_it() -> None:
    assert reads_time({"$or": [{"a": 1}, {"b": {"$not": {"$withinDays": 3}}}]})
    assert not reads_time({"a": {"$gte": 3}, "withinDays": 3})
