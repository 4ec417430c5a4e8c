"""The nightly report against moto: events in S3 with a known true effect, experiences in
DynamoDB, erased subjects in the consent table; outputs, guardrails and their audit."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from typing import Any

import orjson
import pytest

from earnest.decide.engine import Engine
from earnest.errors import GuardrailsPending, Throttled, Unavailable
from earnest.report import nightly
from earnest.report.cuped import Covariate
from earnest.report.nightly import report_date
from earnest.report.sources import Streamed
from earnest.report.window import Window
from earnest_aws.clients import client
from earnest_aws.experiences_store import ExperiencesStore
from earnest_aws.nightly_report import ReportOptions, run, stores_from_settings
from earnest_aws.reports_store import ReportsStore
from tests.builders.experiences import allocated, one_variant, two_variants
from tests.builders.faults import Clock
from tests.builders.report_events import at, conversion, exposure, iso, put_s3, simulate
from tests.builders.throttling import CancelledForCapacity

DAY = date(2026, 11, 20)
PUSHED = "2026-11-01T09:00:00.000Z"  # the allocation's start, before every event here


WINNER = one_variant("winner", "home-hero")
MIXED = two_variants("mixed", "pdp-recs")
RATES = {
    "winner": {None: 0.08, "b": 0.12},  # beats its default
    "mixed": {None: 0.10, "a": 0.10, "b": 0.04},  # a: no effect; b: loses
    "loser": {None: 0.12, "b": 0.06},  # its one variant loses
}


@pytest.fixture
def settings(aws: Any) -> Any:
    return dataclasses.replace(aws, global_holdout=0.0)


def push(settings: Any, *docs: dict[str, Any]) -> ExperiencesStore:
    store = ExperiencesStore(settings.experiences_table)
    for doc in docs:
        store.save(doc, None, actor="alice", action="create", ops=allocated(doc, PUSHED))
    return store


def events(docs: list[dict[str, Any]], units: int, **kwargs: Any) -> list[dict[str, Any]]:
    """Each experience its own units, so one experience's conversions never leak into another's."""
    out: list[dict[str, Any]] = []
    for doc in docs:
        out += simulate([doc], units, RATES, DAY, prefix=doc["id"], days=3, **kwargs)
    return out


def upload(settings: Any, records: list[dict[str, Any]], tag: str = "") -> None:
    put_s3(client("s3"), settings.events_bucket, records, tag)


def s3_bytes(settings: Any, key: str) -> bytes:
    return bytes(client("s3").get_object(Bucket=settings.events_bucket, Key=key)["Body"].read())


def by_id(report: dict[str, Any], exp_id: str) -> dict[str, Any]:
    return next(e for e in report["experiences"] if e["id"] == exp_id)


def verdicts(report: dict[str, Any], exp_id: str) -> dict[str, str | None]:
    return {v["variant"]: v["verdict"] for v in by_id(report, exp_id)["variants"]}


def units(report: dict[str, Any], exp_id: str) -> dict[str, int]:
    return {a["arm"]: a["units"] for a in by_id(report, exp_id)["arms"]}


def test_known_effects_give_known_verdicts_and_the_loser_is_paused_with_an_audit_entry(
    settings: Any,
) -> None:
    # Given a winner (12 % vs 8 %) and an experience whose variant b loses (4 % vs 10 %)
    store = push(settings, WINNER, MIXED)
    upload(settings, events([WINNER, MIXED], 12_000))
    # When the report runs for the day
    result = run(DAY, settings)
    report = result.report
    # Then the verdicts are the true effects
    assert verdicts(report, "winner") == {"b": "beats_default"}
    assert verdicts(report, "mixed")["b"] == "loses_to_default"
    assert verdicts(report, "mixed")["a"] in ("inconclusive", "needs_more_data")
    lift = by_id(report, "winner")["variants"][0]["lift"]["conversion_rate"]
    assert 0.02 < lift["absolute"] < 0.06 and lift["relative_low"] > 0
    # and b is paused in the table, with an audit entry carrying the numbers
    stored = store.get("mixed")
    assert stored is not None
    b = next(v for v in stored.effective["variants"] if v["id"] == "b")
    assert b["paused"] is True and "loses_to_default" in b["paused_reason"]
    assert stored.effective["status"] == "live"  # a is still serving
    audit = [e for e in store.audit("mixed") if e["actor"] == "nightly-report"]
    assert len(audit) == 1
    assert audit[0]["action"] == "pause_variant"
    assert audit[0]["evidence"]["report_date"] == "2026-11-20"
    assert audit[0]["evidence"]["actions"][0]["evidence"]["variant"]["units"] > 3000
    assert set(audit[0]["changes"]) == {"variants", "allocation"}
    # and the pause restarts the allocation at the end of the reported day
    assert stored.effective["allocation_started_at"] == "2026-11-21T00:00:00.000Z"
    # and decide serves the default or a from its next refresh: b is gone
    rules = store.load_rules()
    mixed = next(e for e in Engine(rules.experiences).experiences if e.id == "mixed")
    assert mixed.variant_ids == ("a",)
    # and the outputs are in S3, mirrored to latest/
    for prefix in ("reports/dt=2026-11-20/", "reports/latest/"):
        for name in ("report.json", "report.csv", "index.html"):
            assert s3_bytes(settings, prefix + name) == result.files[name][0]


def test_a_rerun_gives_a_byte_identical_report_and_changes_nothing_twice(settings: Any) -> None:
    store = push(settings, WINNER, MIXED)
    upload(settings, events([WINNER, MIXED], 12_000))
    first = run(DAY, settings)
    assert [a["experience"] for a in first.applied] == ["mixed"]
    second = run(DAY, settings)
    assert second.files == first.files
    assert second.applied == [] and [a["experience"] for a in second.already] == ["mixed"]
    assert s3_bytes(settings, "reports/dt=2026-11-20/report.json") == first.files["report.json"][0]
    assert len([e for e in store.audit("mixed") if e["actor"] == "nightly-report"]) == 1


def test_a_run_that_crashed_after_acting_gives_the_same_report_when_run_again(
    settings: Any,
) -> None:
    push(settings, WINNER, MIXED)
    upload(settings, events([WINNER, MIXED], 12_000))
    # the crash: guardrails written, outputs not
    crashed = run(DAY, settings, ReportOptions(write=False))
    assert crashed.applied and crashed.keys == []
    again = run(DAY, settings)
    assert again.files["report.json"] == crashed.files["report.json"]
    assert again.applied == []


def guardrail_status(report: dict[str, Any]) -> dict[str, str]:
    return {f"{a['experience']}/{a['variant']}": a["status"] for a in report["guardrails"]}


def run_until(settings: Any, deadline: float, clock: Clock) -> nightly.RunResult:
    """The core's run with `deadline` for its guardrails and a store that retries a throttled
    write for 5 s, on a clock that moves only when the store waits."""
    store = ExperiencesStore(
        settings.experiences_table, throttle_seconds=5.0, sleep=clock.sleep, clock=clock
    )
    stores = dataclasses.replace(stores_from_settings(settings), experiences=store)
    return nightly.run(
        DAY, stores, ReportOptions(), global_holdout=0.0, deadline=deadline, clock=clock
    )


def test_a_throttled_guardrail_write_is_retried_until_it_is_applied(settings: Any) -> None:
    # Given a loser to pause, and a table that throttles the first two writes
    store = push(settings, WINNER, MIXED)
    upload(settings, events([WINNER, MIXED], 12_000))
    throttled = CancelledForCapacity(client("dynamodb"), failures=2)
    # When the report runs, with time to retry
    clock = Clock()
    result = run_until(settings, 30.0, clock)
    # Then the store's third attempt, after two growing waits, wrote the pause once, and the
    # report says it is applied
    assert throttled.attempts == 3 and len(clock.sleeps) == 2
    assert clock.sleeps[1] > clock.sleeps[0] > 0
    assert [a["experience"] for a in result.applied] == ["mixed"] and result.pending == []
    assert guardrail_status(result.report) == {"mixed/b": "applied"}
    stored = store.get("mixed")
    assert stored is not None
    assert next(v for v in stored.effective["variants"] if v["id"] == "b")["paused"] is True
    assert len([e for e in store.audit("mixed") if e["actor"] == "nightly-report"]) == 1


def served_variants(store: ExperiencesStore, exp_id: str) -> tuple[str, ...]:
    return next(
        e for e in Engine(store.load_rules().experiences).experiences if e.id == exp_id
    ).variant_ids


def test_a_guardrail_still_throttled_fails_the_run_and_is_applied_once_on_rerun(
    settings: Any,
) -> None:
    # Given a loser to pause, and a table that throttles every write
    store = push(settings, WINNER, MIXED)
    upload(settings, events([WINNER, MIXED], 12_000))
    throttled = CancelledForCapacity(client("dynamodb"))
    # When the run has ten seconds left for its guardrails
    clock = Clock()
    with pytest.raises(GuardrailsPending, match="mixed") as failed:
        run_until(settings, 10.0, clock)
    # Then the store retried with backoff for its 5 s and the run failed loudly, an
    # Unavailable caused by the throttling (Lambda retries it, then the DLQ alarms)
    assert isinstance(failed.value, Unavailable) and isinstance(failed.value.__cause__, Throttled)
    assert clock.now == pytest.approx(5.0) and throttled.attempts == len(clock.sleeps) + 1 > 3
    assert failed.value.pending == [{"experience": "mixed", "actions": ["pause_variant"]}]
    # and the report it wrote says the pause is pending, and b is still served
    written = orjson.loads(s3_bytes(settings, "reports/dt=2026-11-20/report.json"))
    assert guardrail_status(written) == {"mixed/b": "pending"}
    assert any("b is to be paused" in s and "pending" in s for s in written["summary"]["in_words"])
    assert "pending" in s3_bytes(settings, "reports/dt=2026-11-20/index.html").decode()
    assert "b" in served_variants(store, "mixed")
    assert [e for e in store.audit("mixed") if e["actor"] == "nightly-report"] == []
    # When the table recovers and the run is retried
    throttled.heal()
    again = run(DAY, settings)
    # Then the pause is applied once, and the report says so
    assert [a["experience"] for a in again.applied] == ["mixed"]
    assert guardrail_status(again.report) == {"mixed/b": "applied"}
    assert len([e for e in store.audit("mixed") if e["actor"] == "nightly-report"]) == 1
    assert run(DAY, settings).files == again.files  # and a third run changes nothing


def test_no_guardrail_write_is_begun_past_the_runs_deadline(settings: Any) -> None:
    # Given two experiences to act on, and a table that throttles the first write twice
    loser = one_variant("loser", "home-hero")
    store = push(settings, loser, MIXED)
    upload(settings, events([loser, MIXED], 12_000))
    throttled = CancelledForCapacity(client("dynamodb"), failures=2)
    # When the run's deadline passes while the store retries the first experience's write
    clock = Clock()
    with pytest.raises(GuardrailsPending, match="deadline") as failed:
        run_until(settings, 0.01, clock)
    # Then the first is applied, the second is not begun: pending, and the run fails loudly
    assert throttled.attempts == 3
    assert [a["experience"] for a in failed.value.applied] == ["loser"]
    assert failed.value.pending == [{"experience": "mixed", "actions": ["pause_variant"]}]
    written = orjson.loads(s3_bytes(settings, "reports/dt=2026-11-20/report.json"))
    assert guardrail_status(written) == {
        "loser/b": "applied",
        "loser/None": "applied",  # every variant losing: the experience is paused too
        "mixed/b": "pending",
    }
    assert "b" in served_variants(store, "mixed")
    # and the re-run applies it, once
    assert [a["experience"] for a in run(DAY, settings).applied] == ["mixed"]
    assert "b" not in served_variants(store, "mixed")


def test_every_variant_losing_pauses_the_experience(settings: Any) -> None:
    loser = one_variant("loser", "home-hero")
    store = push(settings, loser)
    upload(settings, events([loser], 10_000))
    report = run(DAY, settings).report
    assert [g["action"] for g in report["guardrails"]] == ["pause_variant", "pause_experience"]
    stored = store.get("loser")
    assert stored is not None and stored.effective["status"] == "paused"
    assert store.audit("loser")[-1]["action"] == "pause_experience"


def test_sample_ratio_mismatch_is_reported_and_alerted_but_nothing_is_paused(
    settings: Any,
) -> None:
    store = push(settings, MIXED)
    records = events([MIXED], 12_000)
    # a logging fault: a third of the holdout's exposures never arrive
    holdout_units = sorted({r["unit_id"] for r in records if r.get("reason") == "holdout"})
    lost = set(holdout_units[::3])
    upload(settings, [r for r in records if r["unit_id"] not in lost])
    report = run(DAY, settings).report
    exp = by_id(report, "mixed")
    assert exp["srm"]["flagged"]
    assert set(verdicts(report, "mixed").values()) == {None}
    assert report["guardrails"] == []
    assert report["alerts"][0]["experience"] == "mixed"
    stored = store.get("mixed")
    assert stored is not None and not any(v.get("paused") for v in stored.effective["variants"])


def test_needs_more_data_below_the_minimum_units(settings: Any) -> None:
    push(settings, WINNER)
    upload(settings, events([WINNER], 1_200))  # ~600 per arm, the plan asks 1000
    report = run(DAY, settings).report
    assert verdicts(report, "winner") == {"b": "needs_more_data"}
    assert report["guardrails"] == []


def test_duplicates_conversions_before_exposure_and_erased_subjects_do_not_count(
    settings: Any,
) -> None:
    push(settings, WINNER)
    records = events([WINNER], 1_000)
    upload(settings, records)
    clean = run(DAY, settings, ReportOptions(apply_guardrails=False, write=False)).report
    # every object stored twice (a retried request), one early conversion, one erased unit
    upload(settings, records, tag="retry")
    exposed = next(r for r in records if r.get("reason") == "holdout")
    early = conversion(exposed["unit_id"], at(DAY - timedelta(days=5)), 99.0)
    upload(settings, [early], tag="early")
    erased = next(r for r in records if r.get("reason") == "personalized")["unit_id"]
    client("dynamodb").put_item(
        TableName=settings.consent_table,
        Item={
            "subject_id": {"S": erased},
            "record": {"S": "state"},
            "erased_at": {"S": "2026-11-20T12:00:00.000Z"},
            "erased_marker": {"S": "1"},
        },
    )
    report = run(DAY, settings, ReportOptions(apply_guardrails=False, write=False)).report
    # every copy dropped (the erased unit's own events are dropped before they are compared)
    assert report["events"]["duplicates_dropped"] >= len(records) - 4
    assert report["events"]["erased_dropped"] >= 2
    assert report["events"]["erased_subjects"] == 1
    assert units(report, "winner")["holdout"] == units(clean, "winner")["holdout"]
    assert units(report, "winner")["b"] == units(clean, "winner")["b"] - 1
    holdout = by_id(report, "winner")["arms"][0]
    assert holdout["conversions"] == by_id(clean, "winner")["arms"][0]["conversions"]


def test_a_variant_that_cannot_reach_the_plans_effect_is_paused(settings: Any) -> None:
    # Given a variant that converts as its holdout does, a plan that hoped for +50 %, and
    # last night's report calling it a winner (one night's dip is not what pauses it)
    plan = {**WINNER["measurement_plan"], "minimum_detectable_effect": 0.5}
    store = push(settings, {**WINNER, "measurement_plan": plan})
    RATES["flat"] = {None: 0.10, "b": 0.10}
    flat = simulate([WINNER], 12_000, {"winner": RATES["flat"]}, DAY, prefix="flat", days=3)
    upload(settings, flat)
    yesterday = {
        "date": "2026-11-19",
        "experiences": [
            {"id": "winner", "variants": [{"variant": "b", "verdict": "beats_default"}]}
        ],
    }
    client("s3").put_object(
        Bucket=settings.events_bucket,
        Key="reports/dt=2026-11-19/report.json",
        Body=orjson.dumps(yesterday),
    )
    report = run(DAY, settings).report
    # Then its always-valid interval ends below +50 %: it has stopped beating the default
    assert verdicts(report, "winner") == {"b": "inconclusive"}
    assert next((g["action"], g["rule"]) for g in report["guardrails"]) == (
        "pause_variant",
        "stopped_beating_default",
    )
    stored = store.get("winner")
    assert stored is not None and stored.effective["status"] == "paused"


def test_unowned_overdue_and_ended_experiences_are_retired(settings: Any) -> None:
    store = push(
        settings,
        one_variant("unowned", "a", owner=""),
        one_variant("overdue", "b", last_reviewed="2026-09-01", review_every_days=30),
        one_variant("ended", "c", ends_at="2026-11-19T00:00:00Z"),
        one_variant("fine", "d"),
    )
    report = run(DAY, settings).report
    assert {(g["experience"], g["rule"]) for g in report["guardrails"]} == {
        ("unowned", "unowned"),
        ("overdue", "review_overdue"),
        ("ended", "ended"),
    }
    statuses = {s.id: s.effective["status"] for s in store.load_all()}
    assert statuses == {
        "unowned": "retired",
        "overdue": "retired",
        "ended": "retired",
        "fine": "live",
    }
    # a re-run still reports them (as they stood before tonight) and retires nothing twice
    again = run(DAY, settings)
    assert again.report == report and again.applied == []


def test_backfilling_an_older_date_leaves_latest_on_the_newest(settings: Any) -> None:
    push(settings, WINNER)
    upload(settings, events([WINNER], 500))
    run(DAY, settings)
    run(DAY - timedelta(days=1), settings)
    latest = ReportsStore(settings.events_bucket).read_report("latest")
    assert latest is not None and latest["date"] == "2026-11-20"
    assert ReportsStore(settings.events_bucket).read_report("2026-11-19") is not None


def received(record: dict[str, Any], late: timedelta) -> dict[str, Any]:
    """`record` as if it reached /events `late` after its event time."""
    arrival = datetime.fromisoformat(record["event_time"]) + late
    return {**record, "receive_time": iso(arrival)}


def test_a_night_counts_events_by_their_time_and_reads_the_late_partitions(
    settings: Any,
) -> None:
    # Given an exposure from before the allocation, one on the day that arrived two days
    # late (filed under 2026-11-22), and one stamped the day after
    push(settings, WINNER)
    old = exposure("old", "winner", "b", "personalized", at(DAY - timedelta(days=40)))
    new = received(exposure("new", "winner", "b", "personalized", at(DAY)), timedelta(days=2))
    later = exposure("later", "winner", "b", "personalized", at(DAY + timedelta(days=1)))
    upload(settings, [old, new, later])
    # When the night is reported (today, or as a backfill long after)
    report = run(DAY, settings, ReportOptions(lookback_days=28, write=False)).report
    # Then only the day's own event counts, read from the partitions up to 3 days later
    assert units(report, "winner")["b"] == 1
    assert report["events"]["after_day_dropped"] == 1
    assert report["window"] == {
        "start": "2026-10-24",
        "end": "2026-11-20",
        "lookback_days": 28,
        "late_days": 3,
        "events_before": "2026-11-21T00:00:00.000Z",
        "last_partition": "2026-11-23",
        "partitions": "events/dt=2026-10-24/ .. events/dt=2026-11-23/",
    }
    assert by_id(report, "winner")["analysis"] == {
        "allocation_started_at": PUSHED,
        "events_from": PUSHED,
        "events_before": "2026-11-21T00:00:00.000Z",
        "days": 19.625,
    }


def test_an_allocation_older_than_the_lookback_is_read_from_its_start(settings: Any) -> None:
    # Given an experience whose allocation started 60 days before the night
    doc = one_variant("long", "long-slot")
    store = ExperiencesStore(settings.experiences_table)
    store.save(
        doc, None, actor="alice", action="create", ops=allocated(doc, "2026-09-21T00:00:00Z")
    )
    first = exposure("first", "long", "b", "personalized", at(DAY - timedelta(days=59)))
    upload(settings, [first, exposure("last", "long", "b", "personalized", at(DAY))])
    # When the night is reported
    report = run(DAY, settings, ReportOptions(write=False)).report
    # Then both units count, read once from the allocation's first partition
    assert units(report, "long")["b"] == 2
    assert report["window"]["start"] == "2026-09-20"  # its start less the early margin


def test_the_scheduled_event_reports_the_day_before_it_fired() -> None:
    assert report_date({"time": "2026-11-21T02:15:00Z"}) == DAY
    assert report_date({"date": "2026-11-03"}) == date(2026, 11, 3)


def test_the_function_runs_on_its_scheduled_event(settings: Any, monkeypatch: Any) -> None:
    from earnest_cli.local_stack import LambdaContext, load_handler

    push(settings, WINNER)
    upload(settings, events([WINNER], 500))
    handler = load_handler("nightly_report")
    assert handler is not None
    summary = handler(
        {"source": "aws.events", "detail-type": "Scheduled Event", "time": "2026-11-21T02:15:00Z"},
        LambdaContext("nightly-report", "req-1"),
    )
    assert summary["date"] == "2026-11-20" and summary["experiences"] == 1
    assert "reports/dt=2026-11-20/report.json" in summary["keys"]


def test_a_rise_in_a_lower_is_better_event_pauses_a_winner_with_its_own_audit_entry(
    settings: Any,
) -> None:
    # Given a winner whose plan guards `unsubscribe` (lower is better, 10 % margin), and
    # whose variant's units unsubscribe five times as often as the holdout's
    plan = {
        **WINNER["measurement_plan"],
        "guardrail_metrics": [
            {"name": "unsubscribe", "direction": "lower_is_better", "margin": 0.1}
        ],
    }
    doc = {**WINNER, "measurement_plan": plan}
    store = push(settings, doc)
    records = events([doc], 12_000)
    exposed = [r for r in records if r["type"] == "exposure" and r["reason"] != "global_holdout"]
    for i, r in enumerate(exposed):
        if i % (10 if r["variant"] else 50) == 0:
            when = datetime.fromisoformat(r["event_time"]) + timedelta(hours=1)
            records.append(conversion(r["unit_id"], when, None, name="unsubscribe"))
    upload(settings, records)
    # When the report runs
    report = run(DAY, settings).report
    # Then the variant still beats its default, but the guardrail finds harm and pauses it
    [b] = by_id(report, "winner")["variants"]
    assert b["verdict"] == "beats_default" and b["guardrail_harm"] == ["unsubscribe"]
    stored = store.get("winner")
    assert stored is not None
    assert stored.effective["variants"][0]["paused"] is True
    [entry] = [e for e in store.audit("winner") if e["actor"] == "nightly-report"]
    [action, _] = entry["evidence"]["actions"]  # the pause, then the experience's pause
    assert action["rule"] == "guardrail_harm" and "(unsubscribe)" in action["reason"]
    assert action["evidence"]["guardrail_harm"] == ["unsubscribe"]
    [test] = action["evidence"]["guardrail_tests"]  # the numbers the harm was read from
    assert test["lift"]["sequential_relative_low"] > 0.1


def test_the_days_before_the_window_give_cupeds_covariate_and_nothing_else(
    settings: Any,
) -> None:
    # Given an allocation started two days before the night, five pre-exposure days, and a
    # unit that bought three days before its first exposure (inside them) and one that
    # bought six days before (outside)
    start = DAY - timedelta(days=2)
    since = iso(datetime.combine(start, datetime.min.time()))
    ExperiencesStore(settings.experiences_table).save(
        WINNER, None, actor="alice", action="create", ops=allocated(WINNER, since)
    )
    upload(
        settings,
        [
            exposure("early", "winner", "b", "personalized", at(start - timedelta(days=2))),
            conversion("u1", at(start - timedelta(days=3)), 20.0),
            conversion("u2", at(start - timedelta(days=6)), 20.0),
            exposure("u1", "winner", "b", "personalized", at(start)),
            exposure("u2", "winner", "b", "personalized", at(start)),
            conversion("u2", at(start, 12), 30.0),
        ],
    )
    options = ReportOptions(lookback_days=2, pre_exposure_days=5, write=False)
    report = run(DAY, settings, options).report
    # Then only the window's exposures are analysed, and the exposure before it is counted
    assert units(report, "winner")["b"] == 2
    assert report["events"]["exposures_before_window"] == 1
    assert report["pre_exposure_days"] == 5
    # And u1's purchase before its exposure is its covariate, not an outcome
    b = by_id(report, "winner")["arms"][1]
    assert (b["conversions"], b["revenue"]) == (1, 30.0)
    totals = Streamed(ReportsStore(settings.events_bucket)).totals(
        Window(DAY, 3), [WINNER], set(), 7, pre_exposure_days=5
    )
    pre = totals.experiences["winner"].arms["b"].pre_exposure
    assert pre is not None and pre["conversion_rate"] == Covariate(1, 1, 0)  # before, not after
