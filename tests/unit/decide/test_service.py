"""The decide service with in-memory consent: every id the visitor carries is read, an
unreadable store fails closed, and Sec-GPC denies personalization (and nothing else)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from earnest.consent.purposes import most_restrictive
from earnest.decide.engine import Engine
from earnest.decide.service import decide
from earnest.errors import InvalidRequest, Unavailable
from tests.builders.experiences import experience, request

GRANTED = {"personalization": "granted", "measurement": "granted"}
PERSONAL = experience(audience={"context.country": "DE"}, requires_consent=["personalization"])


class Consent:
    """Stored purposes by subject, combined as the store does; can fail like a hung table."""

    def __init__(self, stored: Mapping[str, Mapping[str, str]], fail: bool = False) -> None:
        self.stored, self.fail = dict(stored), fail
        self.reads: list[list[str]] = []

    def purposes_for(self, subject_ids: Sequence[str]) -> Mapping[str, str] | None:
        self.reads.append(list(subject_ids))
        if self.fail:
            raise Unavailable("the consent store cannot be read (ReadTimeoutError)")
        found = [self.stored[s] for s in subject_ids if s in self.stored]
        return most_restrictive(*found) if found else None


def engine() -> Engine:
    return Engine([PERSONAL], global_holdout=0.0)


def reason(body: dict[str, object], consent: Consent, gpc: bool = False) -> str:
    answer = decide(body, engine(), consent, max_placements=20, request_id="r-1", gpc=gpc)
    assert answer["request_id"] == "r-1"
    return str(answer["decisions"]["home-hero"]["reason"])


def de_visitor(unit: str = "a-2", **visitor: object) -> dict[str, object]:
    body = request(unit)
    body["visitor"].update(visitor)
    return body


def test_a_granted_visitor_is_personalized_and_both_of_their_ids_are_read() -> None:
    consent = Consent({"a-2": GRANTED, "u-2": GRANTED})
    body = de_visitor(user_id="u-2")
    assert reason(body, consent) in ("personalized", "holdout")
    assert consent.reads == [["a-2", "u-2"]]


def test_a_denial_stored_under_the_user_id_wins_over_the_anonymous_grant() -> None:
    consent = Consent({"a-2": GRANTED, "u-2": {"personalization": "denied"}})
    assert reason(de_visitor(user_id="u-2"), consent) == "no_consent"


def test_an_unreadable_consent_store_fails_closed_and_says_so() -> None:
    told: list[bool] = []
    answer = decide(
        de_visitor(),
        engine(),
        Consent({"a-2": GRANTED}, fail=True),
        max_placements=20,
        request_id="r-1",
        on_fail_closed=lambda: told.append(True),
    )
    assert answer["decisions"]["home-hero"]["reason"] == "no_consent"
    assert answer["decisions"]["home-hero"]["content"] == PERSONAL["default"]
    assert told == [True]


def test_sec_gpc_denies_personalization_whatever_is_stored() -> None:
    assert reason(de_visitor(), Consent({"a-2": GRANTED}), gpc=True) == "no_consent"


def test_sec_gpc_leaves_an_experience_that_needs_no_consent_served() -> None:
    contextual = experience(audience={"context.country": "DE"}, requires_consent=[])
    answer = decide(
        de_visitor(),
        Engine([contextual], global_holdout=0.0),
        Consent({}),
        max_placements=20,
        request_id="r-1",
        gpc=True,
    )
    assert answer["decisions"]["home-hero"]["reason"] in ("personalized", "holdout")


def test_without_rules_every_placement_is_unavailable_and_no_consent_is_read() -> None:
    consent = Consent({"a-2": GRANTED})
    answer = decide(de_visitor(), None, consent, max_placements=20, request_id="r-1")
    assert answer["decisions"]["home-hero"]["reason"] == "rules_unavailable"
    assert consent.reads == []


def test_a_bad_request_is_refused_naming_the_field_before_consent_is_read() -> None:
    consent = Consent({})
    with pytest.raises(InvalidRequest) as refused:
        decide({"visitor": {}}, engine(), consent, max_placements=20, request_id="r-1")
    assert refused.value.field == "visitor.anonymous_id"
    assert consent.reads == []
