"""The program across its history: per month the experiences launched, kept, paused and
retired (from their audit trails), and the global holdout's lift night by night (from the
stored reports, carried forward)."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from earnest.program import history, timeline
from tests.builders.audit import authored, pause_experience, pause_variant, retire, stored
from tests.builders.experiences import experience

TODAY = date(2026, 12, 7)


def program_report(day: str, relative: float, personalized: float) -> dict[str, Any]:
    lift = {"relative": relative, "relative_low": relative - 0.05, "relative_high": relative + 0.05}
    return {
        "date": day,
        "program": {
            "global_holdout": {
                "arms": [{"arm": "global_holdout", "units": 50}, {"arm": "program", "units": 950}],
                "lift": {"conversion_rate": lift},
                "verdicts": {"conversion_rate": "inconclusive"},
            },
            "coverage": {
                "exposures": 100,
                "reasons": [
                    {"reason": "personalized", "exposures": 0, "share": personalized},
                    {"reason": "no_consent", "exposures": 0, "share": 1 - personalized},
                ],
            },
        },
    }


def test_the_series_is_every_stored_night_oldest_first_with_the_carried_ones_before_them() -> None:
    newest = program_report("2026-12-06", 0.04, 0.6)
    carried = [history.point(program_report(d, 0.01, 0.5)) for d in ("2026-09-01", "2026-10-15")]
    newest["program"]["history"] = {
        "lift": [*carried, history.point(program_report("2026-12-06", 9, 0))]
    }
    older = program_report("2026-12-05", 0.03, 0.55)
    series = history.lift_series([newest])
    assert [p["date"] for p in series] == ["2026-09-01", "2026-10-15", "2026-12-06"]
    assert series[-1]["lift"]["conversion_rate"]["relative"] == 0.04  # its own point wins
    assert series[-1]["coverage"]["personalized"] == 0.6
    assert series[-1]["units"] == {"global_holdout": 50, "program": 950}
    # without carried points, each report read gives its own
    assert [
        p["date"] for p in history.lift_series([older, program_report("2026-08-01", 0, 0)])
    ] == [
        "2026-08-01",
        "2026-12-05",
    ]


def test_a_month_counts_each_experience_that_served_in_it_by_where_it_stood_at_its_end() -> None:
    kept = experience(id="kept")
    paused = experience(id="paused", variants=[{"id": "a", "weight": 1}])
    gone = experience(id="gone")
    trails = {
        "kept": [authored(1, "2026-10-03T09:00:00.000Z", kept, "create")],
        "paused": [
            authored(1, "2026-10-10T09:00:00.000Z", paused, "create"),
            pause_variant(2, "2026-11-02T02:15:00.000Z", "a"),
            pause_experience(3, "2026-11-02T02:15:00.000Z"),  # its only variant: nothing serves
        ],
        "gone": [
            authored(1, "2026-11-05T09:00:00.000Z", gone, "create"),
            retire(2, "2026-11-20T02:15:00.000Z"),
        ],
    }
    exps = [timeline.Experience(stored(experience(id=k), v), v) for k, v in trails.items()]
    months = {m["month"]: m for m in history.month_counts(exps, TODAY)}
    assert list(months) == ["2026-10", "2026-11", "2026-12"]
    assert (months["2026-10"]["launched"], months["2026-10"]["kept"]) == (2, 2)
    nov = months["2026-11"]
    assert (nov["launched"], nov["active"], nov["kept"], nov["paused"], nov["retired"]) == (
        1,
        3,
        1,
        1,
        1,
    )
    assert nov["variants_paused"] == 1
    dec = months["2026-12"]  # the retired one served no more; the paused one is still in
    assert (dec["active"], dec["kept"], dec["paused"], dec["retired"]) == (2, 1, 1, 0)


STATUSES = st.sampled_from(["draft", "live", "paused", "retired"])
LIVES = st.lists(
    st.lists(st.tuples(st.integers(0, 400), STATUSES), min_size=1, max_size=8), max_size=8
)


def trail(changes: list[tuple[int, str]]) -> list[dict[str, Any]]:
    """Pushes of the same experience at the given day offsets (from 2026-01-01) and statuses."""
    out = []
    for version, (offset, status) in enumerate(sorted(changes, key=lambda c: c[0]), start=1):
        day = date.fromordinal(date(2026, 1, 1).toordinal() + offset)
        out.append(authored(version, f"{day.isoformat()}T09:00:00.000Z", experience(status=status)))
    return out


@given(LIVES)
def test_the_counts_of_every_month_add_up(lives: list[list[tuple[int, str]]]) -> None:
    exps = [timeline.Experience(stored(experience(), t), t) for t in map(trail, lives)]
    months = history.month_counts(exps, date(2027, 3, 1))
    for m in months:
        assert m["kept"] + m["paused"] + m["retired"] + m["withdrawn"] == m["active"]
        assert 0 <= m["launched"] <= m["active"] <= len(exps)
    ever_live = sum(1 for t in lives if any(s == "live" for _, s in t))
    assert sum(m["launched"] for m in months) == ever_live
    if months:  # consecutive months, none skipped
        assert [m["month"] for m in months] == timeline.months(
            months[0]["month"] + "-01", date(2027, 3, 1)
        )


def test_the_months_beside_their_last_nightly_point() -> None:
    counts = [{"month": "2026-11", "active": 1, "variants_paused": 0, "launched": 1, "kept": 1}]
    series = history.lift_series(
        [program_report("2026-11-30", 0.05, 0.7), program_report("2026-11-02", 0.01, 0.2)]
    )
    (row,) = history.months(counts, series)
    assert row["report_date"] == "2026-11-30"
    assert row["personalized_share"] == 0.7 and row["lift"]["relative"] == 0.05
    assert row["retired"] == 0  # every count present
