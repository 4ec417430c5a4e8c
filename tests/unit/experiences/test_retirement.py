"""Review and retirement (earnest.experiences.retirement): when an experience must stop
serving, and what validate and push say before a night retires one for its review.

Every date is relative to a `today` the test picks: nothing depends on the wall clock."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from earnest.experiences import retirement
from tests.builders.experiences import experience

TODAY = date(2031, 3, 9)


def reviewed(days_ago: int, every: int = 30, **changes: object) -> dict[str, object]:
    last = (TODAY - timedelta(days=days_ago)).isoformat()
    return experience(last_reviewed=last, review_every_days=every, **changes)


@pytest.mark.parametrize(
    ("days_ago", "said"),
    [
        (31, "review overdue since 2031-03-08: the next nightly report retires it"),
        (30, "review due 2031-03-09 (today)"),
        (23, "review due 2031-03-16 (in 7 day(s))"),
    ],
)
def test_a_review_overdue_or_due_within_a_week_is_noticed_with_its_remedy(
    days_ago: int, said: str
) -> None:
    [notice] = retirement.notices(reviewed(days_ago), TODAY)
    assert notice.startswith(f"hero-test: {said}")
    assert "`earnest review hero-test` records one today" in notice


def test_nothing_is_said_a_week_ahead_of_time_nor_for_what_does_not_serve() -> None:
    assert retirement.notices(reviewed(22), TODAY) == []
    assert retirement.notices(reviewed(90, status="draft"), TODAY) == []
    assert retirement.notices(reviewed(90, status="retired"), TODAY) == []
    assert retirement.notices(reviewed(90, status="paused"), TODAY) != []


def test_the_notice_comes_the_day_before_the_night_that_would_retire() -> None:
    # due today: not retired tonight; overdue: the report of today retires it
    assert retirement.reasons(reviewed(30), TODAY) == []
    assert [rule for rule, _ in retirement.reasons(reviewed(31), TODAY)] == ["review_overdue"]
    assert all(retirement.notices(reviewed(n), TODAY) for n in (30, 31))


def test_each_retirement_rule_has_its_remedy() -> None:
    assert {rule: retirement.remedy(rule, "x") for rule in retirement.RULES} == {
        "unowned": 'name an owner: earnest revive x --owner EMAIL --reason "…"',
        "review_overdue": "record a review: earnest review x",
        "ended": "push a later ends_at",
    }
