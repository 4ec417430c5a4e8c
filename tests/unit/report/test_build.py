"""The report as data and as files (earnest.report.build, earnest.report.render), no AWS."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace
from datetime import date
from typing import Any

import orjson
import pytest

from earnest.report import build as report_build
from earnest.report import render as report_render
from earnest.report.cuped import Covariate
from earnest.report.stats import benjamini_hochberg
from earnest.report.totals import ArmTotals, ExperienceTotals, Totals
from earnest.report.window import Window
from tests.builders.experiences import experience

DAY = date(2026, 11, 20)
WINDOW = Window(DAY, 28)


def arm(units: int, rate: float, value: float = 20.0) -> ArmTotals:
    conversions = round(units * rate)
    return ArmTotals(units, units, conversions, conversions * value, conversions * value * value)


def totals(
    arms: dict[str | None, ArmTotals],
    exp: str = "hero-test",
    program: dict[str, ArmTotals] | None = None,
) -> Totals:
    return Totals(
        {exp: ExperienceTotals(arms, {"personalized": 10, "holdout": 5})},
        {"personalized": 60, "holdout": 30, "global_holdout": 10},
        program or {"global_holdout": arm(600, 0.08), "program": arm(11400, 0.10)},
        {"records": 100},
    )


def build(
    doc: dict[str, Any], arms: dict[str | None, ArmTotals], previous: dict[str, Any] | None = None
) -> dict[str, Any]:
    return report_build.build(WINDOW, [doc], totals(arms), previous, global_holdout=0.05)


ONE_VARIANT = experience(variants=[{"id": "b", "weight": 1, "content": {}}], holdout=0.5)


def variant(report: dict[str, Any], name: str = "b") -> dict[str, Any]:
    return next(v for v in report["experiences"][0]["variants"] if v["variant"] == name)


def test_a_clear_winner_beats_its_default() -> None:
    report = build(ONE_VARIANT, {None: arm(5000, 0.08), "b": arm(5000, 0.12)})
    b = variant(report)
    assert b["verdict"] == "beats_default"
    lift = b["lift"]["conversion_rate"]
    assert lift["absolute"] == pytest.approx(0.04)
    assert lift["relative"] == pytest.approx(0.5)
    assert lift["absolute_low"] < 0.04 < lift["absolute_high"]
    assert lift["sequential_low"] > 0 and lift["p_value"] < 1e-6
    assert report["guardrails"] == []


def test_a_clear_loser_is_paused_in_the_report() -> None:
    report = build(ONE_VARIANT, {None: arm(5000, 0.12), "b": arm(5000, 0.08)})
    assert variant(report)["verdict"] == "loses_to_default"
    assert [(g["action"], g["variant"]) for g in report["guardrails"]] == [
        ("pause_variant", "b"),
        ("pause_experience", None),
    ]
    evidence = report["guardrails"][0]["evidence"]
    assert evidence["holdout"]["units"] == 5000 and evidence["verdict"] == "loses_to_default"


def test_below_the_plans_minimum_it_needs_more_data() -> None:
    report = build(ONE_VARIANT, {None: arm(900, 0.05), "b": arm(900, 0.20)})
    assert variant(report)["verdict"] == "needs_more_data"
    assert report["guardrails"] == []


def test_a_sample_ratio_mismatch_withholds_every_verdict_and_every_pause() -> None:
    # configured 50/50, observed 4000/6000: chi-square p far below 0.001
    report = build(ONE_VARIANT, {None: arm(4000, 0.12), "b": arm(6000, 0.06)})
    exp = report["experiences"][0]
    assert exp["srm"]["flagged"] and exp["srm"]["p_value"] < 0.001
    assert variant(report)["verdict"] is None
    assert report["guardrails"] == []
    assert [a["kind"] for a in report["alerts"]] == ["srm"]


def test_srm_shares_follow_holdout_and_active_weights() -> None:
    doc = experience(
        variants=[{"id": "a", "weight": 1, "content": {}}, {"id": "b", "weight": 3, "content": {}}],
        holdout=0.2,
    )
    report = build(doc, {None: arm(2000, 0.1), "a": arm(2000, 0.1), "b": arm(6000, 0.1)})
    test = report["experiences"][0]["srm"]["tests"][0]
    assert test["test"] == "arms"
    assert test["expected_shares"] == pytest.approx([0.2, 0.2, 0.6])
    assert not report["experiences"][0]["srm"]["flagged"]


def test_after_a_pause_the_srm_check_splits_in_two_that_a_pause_leaves_unchanged() -> None:
    doc = experience(
        variants=[
            {"id": "a", "weight": 1, "content": {}, "paused": True, "paused_reason": "x"},
            {"id": "b", "weight": 1, "content": {}},
            {"id": "c", "weight": 1, "content": {}},
        ],
        holdout=0.1,
    )
    # a was paused mid-window: it stopped growing while b and c went on
    report = build(
        doc, {None: arm(1000, 0.1), "a": arm(1500, 0.1), "b": arm(3750, 0.1), "c": arm(3750, 0.1)}
    )
    srm = report["experiences"][0]["srm"]
    assert [t["test"] for t in srm["tests"]] == ["holdout_split", "variant_split"]
    assert not srm["flagged"]


def test_one_nights_dip_of_a_winner_pauses_nothing() -> None:
    # Given last night's winner, inconclusive tonight with the plan's 5 % still in reach
    previous = build(ONE_VARIANT, {None: arm(5000, 0.08), "b": arm(5000, 0.12)})
    tonight = build(ONE_VARIANT, {None: arm(6000, 0.10), "b": arm(6000, 0.10)}, previous)
    assert variant(tonight)["previous_verdict"] == "beats_default"
    assert variant(tonight)["verdict"] == "inconclusive"
    # Then it keeps serving
    assert not variant(tonight)["cannot_reach_mde"]
    assert tonight["guardrails"] == []


def test_a_tie_that_cannot_reach_the_plans_effect_is_paused_as_stopped_beating() -> None:
    # Given a variant equal to its holdout on 200 000 units each: the always-valid interval
    # of the relative lift ends below the plan's minimum detectable effect of 5 %
    tonight = build(ONE_VARIANT, {None: arm(200_000, 0.10), "b": arm(200_000, 0.10)})
    b = variant(tonight)
    assert b["verdict"] == "inconclusive" and b["cannot_reach_mde"]
    assert b["lift"]["conversion_rate"]["sequential_ratio_high"] < 0.05
    # Then the guardrails pause it for having stopped beating its default
    pause, only_default_left = tonight["guardrails"]
    assert (pause["rule"], pause["variant"]) == ("stopped_beating_default", "b")
    assert only_default_left["action"] == "pause_experience"
    assert pause["evidence"]["minimum_detectable_effect"] == 0.05


def test_no_verdict_while_an_arm_has_few_conversions() -> None:
    # Given 5 000 units per arm but 3 conversions in the holdout and 20 in the variant
    report = build(ONE_VARIANT, {None: arm(5000, 0.0006), "b": arm(5000, 0.004)})
    b = variant(report)
    assert b["lift"]["conversion_rate"]["sequential_low"] > 0  # the interval alone says win
    # Then the small-counts gate holds the verdict back
    assert b["verdict"] == "needs_more_data" and not b["enough_units"]


def test_revenue_plans_are_judged_on_capped_revenue_per_unit() -> None:
    doc = experience(variants=[{"id": "b", "weight": 1, "content": {}}], holdout=0.5)
    doc["measurement_plan"]["primary_metric"] = "revenue"
    report = build(doc, {None: arm(5000, 0.10, 20.0), "b": arm(5000, 0.10, 30.0)})
    assert report["experiences"][0]["metric"] == "revenue_per_unit_capped"
    assert variant(report)["verdict"] == "beats_default"


def test_paused_experiences_are_reported_only_with_units_in_the_window() -> None:
    paused = experience(status="paused")
    with_units = report_build.build(
        WINDOW, [paused], totals({None: arm(10, 0.1)}), None, global_holdout=0.05
    )
    without = report_build.build(
        WINDOW, [paused], totals({}, exp="other"), None, global_holdout=0.05
    )
    assert len(with_units["experiences"]) == 1 and without["experiences"] == []


def test_program_lift_and_coverage() -> None:
    report = build(ONE_VARIANT, {None: arm(5000, 0.08), "b": arm(5000, 0.12)})
    program = report["program"]
    assert [r["reason"] for r in program["coverage"]["reasons"]] == [
        "personalized",
        "holdout",
        "global_holdout",
    ]
    assert sum(r["share"] for r in program["coverage"]["reasons"]) == pytest.approx(1.0)
    lift = program["global_holdout"]["lift"]["conversion_rate"]
    assert lift["holdout"] == pytest.approx(0.08) and lift["variant"] == pytest.approx(0.10)
    assert program["global_holdout"]["srm"]["flagged"] is False


def test_an_arm_without_units_reports_null_intervals_not_infinity() -> None:
    report = build(ONE_VARIANT, {})
    blob = report_render.to_json(report)
    assert b"Infinity" not in blob and b"NaN" not in blob
    assert variant(orjson.loads(blob))["verdict"] == "needs_more_data"


def test_the_same_inputs_give_byte_identical_files() -> None:
    arms = {None: arm(5000, 0.08), "b": arm(5000, 0.12)}
    first = report_render.render(build(ONE_VARIANT, arms))
    second = report_render.render(build(ONE_VARIANT, dict(reversed(list(arms.items())))))
    assert first == second


def test_the_csv_has_one_row_per_arm() -> None:
    doc = experience(holdout=0.2)
    report = build(doc, {None: arm(2000, 0.1), "a": arm(4000, 0.1), "b": arm(4000, 0.05)})
    rows = list(csv.DictReader(io.StringIO(report_render.to_csv(report).decode())))
    assert [r["arm"] for r in rows] == ["holdout", "a", "b"]
    assert rows[0]["lift_absolute"] == "" and rows[2]["verdict"] == "loses_to_default"
    assert rows[2]["action"] == "pause_variant" and rows[1]["units"] == "4000"


def test_the_html_is_self_contained_with_a_forest_row_per_variant() -> None:
    doc = experience(holdout=0.2)
    report = build(doc, {None: arm(2000, 0.1), "a": arm(4000, 0.1), "b": arm(4000, 0.05)})
    html = report_render.to_html(report).decode()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<script" not in html and "@import" not in html
    assert html.count('class="forest-row"') == 2
    assert html.count('class="interval-ci"') == 2 + 2  # the forest's and each trend's night
    assert html.count('class="chart trend"') == 2 and html.count('class="trend-night"') == 2
    assert html.count('class="coverage-bar"') == 3
    assert "loses_to_default: variant b" in html


def test_a_variant_that_harms_a_guardrail_metric_is_paused_whatever_its_primary_says() -> None:
    # Given a plan judged on conversion with revenue as a guardrail metric, and a variant
    # that converts better (a winner) but whose orders are worth a third less
    doc = experience(variants=[{"id": "b", "weight": 1, "content": {}}], holdout=0.5)
    doc["measurement_plan"]["guardrail_metrics"] = ["revenue", "newsletter_signup"]
    report = build(doc, {None: arm(20_000, 0.10, 30.0), "b": arm(20_000, 0.11, 20.0)})
    b = variant(report)
    assert b["verdict"] == "beats_default"
    # Then revenue's always-valid interval lies below -2 %: the variant is paused for harm
    assert b["guardrail_harm"] == ["revenue"]
    pause = report["guardrails"][0]
    assert (pause["rule"], pause["variant"]) == ("guardrail_harm", "b")
    assert "(revenue)" in pause["reason"]
    # And the named event is measured too (no unit had one here: no verdict on it)
    signup = next(g for g in b["guardrails"] if g["name"] == "newsletter_signup")
    assert (signup["metric"], signup["enough_data"], signup["harm"]) == ("event_rate", False, False)


def test_a_guardrail_metric_within_its_margin_pauses_nothing() -> None:
    # Given the same plan and a variant whose revenue per unit is 1 % lower (within 2 %)
    doc = experience(variants=[{"id": "b", "weight": 1, "content": {}}], holdout=0.5)
    doc["measurement_plan"]["guardrail_metrics"] = ["revenue"]
    report = build(doc, {None: arm(20_000, 0.10, 30.0), "b": arm(20_000, 0.10, 29.7)})
    assert variant(report)["guardrail_harm"] == []
    assert report["guardrails"] == []


def test_each_experience_says_how_many_days_a_verdict_takes_at_current_traffic() -> None:
    # Given 28 days of 1 000 units a day split 50 : 50 at a 10 % base rate, plan +5 %
    report = build(ONE_VARIANT, {None: arm(14_000, 0.10), "b": arm(14_000, 0.10)})
    said = report["experiences"][0]["at_current_traffic"]
    # Then the forecast uses that traffic and rate, and says the effect needs longer than
    # the 30-day review cadence
    assert said["daily_units"] == 1_000 and said["base_rate"] == pytest.approx(0.10)
    assert said["days_to_min_units"] == 2
    assert said["days_to_detect"] is None or said["days_to_detect"] > 30
    assert said["within_review"] is False


def test_the_trend_carries_each_nights_lift_from_report_to_report() -> None:
    # Given three nights of reports, each built with the one before
    previous = None
    for night, units in enumerate((2_000, 4_000, 6_000)):
        window = Window(date(2026, 11, 18 + night))
        previous = report_build.build(
            window,
            [ONE_VARIANT],
            totals({None: arm(units, 0.08), "b": arm(units, 0.10)}),
            previous,
            global_holdout=0.05,
        )
    assert previous is not None
    trend = variant(previous)["trend"]
    # Then the last one holds all three nights, oldest first, and the interval closes in
    assert [p["date"] for p in trend] == ["2026-11-18", "2026-11-19", "2026-11-20"]
    widths = [p["sequential_high"] - p["sequential_low"] for p in trend]
    assert widths[0] > widths[1] > widths[2]
    # And the page draws a point per night
    html = report_render.to_html(previous).decode()
    assert html.count('class="trend-night"') == 3


def test_the_summary_says_in_plain_words_what_to_do() -> None:
    doc = experience(holdout=0.2)
    report = build(doc, {None: arm(2000, 0.1), "a": arm(4000, 0.13), "b": arm(4000, 0.05)})
    words = report["summary"]["in_words"]
    assert words[0].startswith("hero-test: keep a, it beats the default (+30.0 %")
    assert words[1].startswith("hero-test: b was paused on 2026-11-20 because it loses to the")
    assert "What to do" in report_render.to_html(report).decode()


def test_benjamini_hochberg_across_the_program_is_an_option() -> None:
    # Given a program of twelve experiences, one a marginal winner and eleven ties
    docs = [
        experience(id=f"e{i:02d}", variants=[{"id": "b", "weight": 1, "content": {}}], holdout=0.5)
        for i in range(12)
    ]
    experiences = {
        d["id"]: ExperienceTotals(
            {None: arm(5000, 0.10), "b": arm(5000, 0.12 if d["id"] == "e00" else 0.10)}, {}
        )
        for d in docs
    }
    program = Totals(experiences, {}, {}, {})

    def verdict_of(report: dict[str, Any]) -> str:
        return str(report["experiences"][0]["variants"][0]["verdict"])

    # Then by default each experience is its own decision: the winner is called
    plain = report_build.build(WINDOW, docs, program, None, global_holdout=0.0)
    assert verdict_of(plain) == "beats_default"
    # And every question that can give a verdict or a pause is in the program's family:
    # each variant's verdict and its futility (the plan names an effect), 24 p-values
    b = plain["experiences"][0]["variants"][0]
    lift = b["lift"]["conversion_rate"]
    assert set(b["p_values"]) == {"verdict", "futility"}
    assert b["p_values"]["verdict"] == lift["sequential_ratio_p_value"]
    pooled = [
        p for e in plain["experiences"] for v in e["variants"] for p in v["p_values"].values()
    ]
    assert len(pooled) == 24
    assert lift["sequential_p_value_bh"] == pytest.approx(benjamini_hochberg(pooled)[0])
    # And with the false discovery rate controlled across the program it is not (yet)
    fdr = report_build.build(
        WINDOW, docs, program, None, global_holdout=0.0, false_discovery_rate=True
    )
    assert verdict_of(fdr) == "inconclusive"


def test_benjamini_hochberg_covers_pauses_too() -> None:
    # Given twelve experiences guarding unsubscribes, eleven ties and one whose variant has
    # 290 unsubscribes against its holdout's 200 among 20 000 units each: a harm that
    # clears its share of the experience's budget (alpha / 1 guardrail) but not the
    # program's false discovery rate over 36 questions
    docs = [
        experience(id=f"e{i:02d}", variants=[{"id": "b", "weight": 1, "content": {}}], holdout=0.5)
        for i in range(12)
    ]
    for d in docs:
        d["measurement_plan"]["guardrail_metrics"] = [
            {"name": "unsubscribe", "direction": "lower_is_better"}
        ]

    def unsubscribed(units: int, count: int) -> ArmTotals:
        return replace(arm(units, 0.10), events={"unsubscribe": count})

    program = Totals(
        {
            d["id"]: ExperienceTotals(
                {
                    None: unsubscribed(20_000, 200),
                    "b": unsubscribed(20_000, 290 if d["id"] == "e00" else 200),
                },
                {},
            )
            for d in docs
        },
        {},
        {},
        {},
    )
    plain = report_build.build(WINDOW, docs, program, None, global_holdout=0.0)
    fdr = report_build.build(
        WINDOW, docs, program, None, global_holdout=0.0, false_discovery_rate=True
    )
    # Then by default the harm pauses the variant
    assert [g["rule"] for g in plain["guardrails"]][:1] == ["guardrail_harm"]
    b = plain["experiences"][0]["variants"][0]
    assert (
        b["p_values"]["guardrail:unsubscribe"] < 0.05 <= b["p_values_bh"]["guardrail:unsubscribe"]
    )
    # And with the false discovery rate controlled across the program the pause is held
    # back like a verdict would be: nothing is paused, and the report says no harm
    assert fdr["guardrails"] == []
    assert fdr["experiences"][0]["variants"][0]["guardrail_harm"] == []


def test_a_plan_without_an_effect_has_futility_off_and_says_so() -> None:
    # Given the case: 8 021 and 7 979 units, 438 and 358 conversions, where the
    # delta method's relative interval ended below 0 while the verdict's contained it
    doc = experience(variants=[{"id": "b", "weight": 1, "content": {}}], holdout=0.5)
    del doc["measurement_plan"]["minimum_detectable_effect"]
    arms = {None: ArmTotals(8021, 8021, 438), "b": ArmTotals(7979, 7979, 358)}
    report = build(doc, arms)
    b = variant(report)
    # Then the verdict is read from the ratio interval, which contains 0: inconclusive
    lift = b["lift"]["conversion_rate"]
    assert lift["sequential_ratio_low"] < 0 < lift["sequential_ratio_high"]
    assert b["verdict"] == "inconclusive"
    # And futility is off, said in the report, and nothing is paused
    assert report["experiences"][0]["futility"] == {
        "on": False,
        "why": "the plan has no minimum_detectable_effect",
    }
    assert not b["cannot_reach_mde"] and "futility" not in b["p_values"]
    assert report["guardrails"] == []
    assert "never paused as futile" in report["summary"]["in_words"][0]


def test_an_experiences_analysis_spans_its_allocation_bounded_by_400_days_and_ends_at() -> None:
    def span(**changes: Any) -> dict[str, Any]:
        return WINDOW.span(experience(**changes)).as_dict()

    # from the allocation's start to the end of the day
    assert span(allocation_started_at="2026-11-01T09:00:00.000Z") == {
        "allocation_started_at": "2026-11-01T09:00:00.000Z",
        "events_from": "2026-11-01T09:00:00.000Z",
        "events_before": "2026-11-21T00:00:00.000Z",
        "days": 19.625,
    }
    # at most 400 days back, however old the allocation
    assert span(allocation_started_at="2024-01-01T00:00:00.000Z")["events_from"] == (
        "2025-10-17T00:00:00.000Z"
    )
    # no later than ends_at; and an experience without an allocation: the 28-day lookback
    ended = span(allocation_started_at="2026-11-01T00:00:00Z", ends_at="2026-11-10T12:00:00Z")
    assert ended["events_before"] == "2026-11-10T12:00:00.000Z" and ended["days"] == 9.5
    assert span() == {
        "allocation_started_at": None,
        "events_from": "2026-10-24T00:00:00.000Z",
        "events_before": "2026-11-21T00:00:00.000Z",
        "days": 28.0,
    }


def test_a_night_reads_from_the_earliest_start_it_needs_to_the_late_partitions() -> None:
    docs = [
        experience(id="old", allocation_started_at="2026-08-01T00:02:00.000Z"),
        experience(id="new", allocation_started_at="2026-11-19T00:00:00.000Z"),
        experience(id="draft", status="draft", allocation_started_at="2025-01-01T00:00:00Z"),
    ]
    window = Window(DAY, 28, late_days=3, early_seconds=300).reading(docs)
    days = window.days()
    # the earliest live allocation less 300 s (a draft is not read for), to D + 3, once each
    assert days[0] == date(2026, 7, 31) and days[-1] == date(2026, 11, 23)
    assert len(days) == len(set(days)) == 116


def test_the_report_shows_since_when_each_experience_is_analysed() -> None:
    doc = experience(id="hero-test", allocation_started_at="2026-11-01T09:00:00.000Z")
    arms = {None: arm(2000, 0.05), "a": arm(2000, 0.05), "b": arm(2000, 0.05)}
    report = report_build.build(WINDOW, [doc], totals(arms), None, global_holdout=0.05)
    assert report["experiences"][0]["analysis"]["allocation_started_at"] == (
        "2026-11-01T09:00:00.000Z"
    )
    html = report_render.render(report)["index.html"][0].decode()
    assert "allocation started 2026-11-01T09:00:00.000Z; units first exposed since" in html


def test_a_lower_is_better_event_that_rises_pauses_a_winner_under_its_own_rule() -> None:
    # Given a winner on conversion whose units unsubscribe at 3 % against the holdout's 2 %,
    # under a plan guarding `unsubscribe` as lower-is-better with a 10 % margin
    doc = experience(variants=[{"id": "b", "weight": 1, "content": {}}], holdout=0.5)
    doc["measurement_plan"]["guardrail_metrics"] = [
        {"name": "unsubscribe", "direction": "lower_is_better", "margin": 0.1}
    ]
    holdout = replace(arm(20_000, 0.10), events={"unsubscribe": 400})
    winner = replace(arm(20_000, 0.12), events={"unsubscribe": 600})
    report = build(doc, {None: holdout, "b": winner})
    b = variant(report)
    assert b["verdict"] == "beats_default"
    # Then the rise is a significant harm beyond the margin, and it pauses the variant
    [test] = b["guardrails"]
    assert (test["name"], test["direction"], test["margin"]) == (
        "unsubscribe",
        "lower_is_better",
        0.1,
    )
    assert test["harm"] and test["lift"]["sequential_relative_low"] > 0.1
    pause = report["guardrails"][0]
    assert (pause["rule"], pause["variant"]) == ("guardrail_harm", "b")
    assert "(unsubscribe)" in pause["reason"]
    assert (
        "harms a guardrail metric beyond its margin: unsubscribe"
        in (report["summary"]["in_words"][0])
    )
    # And every arm shows the event's units and rate
    arms = report["experiences"][0]["arms"]
    assert [a["events"]["unsubscribe"]["rate"] for a in arms] == [0.02, 0.03]


def test_a_lower_is_better_event_within_its_margin_pauses_nothing() -> None:
    doc = experience(variants=[{"id": "b", "weight": 1, "content": {}}], holdout=0.5)
    doc["measurement_plan"]["guardrail_metrics"] = [
        {"name": "unsubscribe", "direction": "lower_is_better", "margin": 0.5}
    ]
    holdout = replace(arm(20_000, 0.10), events={"unsubscribe": 400})
    report = build(
        doc, {None: holdout, "b": replace(arm(20_000, 0.12), events={"unsubscribe": 440})}
    )
    assert variant(report)["guardrail_harm"] == [] and report["guardrails"] == []


def test_revenue_verdicts_read_the_capped_metric_and_the_report_shows_both() -> None:
    # Given a revenue plan where the holdout's 200 buyers include one whale (a 100 000 order)
    # and the variant's 320 buyers spend 20 each, and the report's cap is 50
    doc = experience(variants=[{"id": "b", "weight": 1, "content": {}}], holdout=0.5)
    doc["measurement_plan"]["primary_metric"] = "revenue"
    whale = ArmTotals(
        5000, 5000, 200, 199 * 20 + 100_000, 199 * 400 + 1e10, 0, 199 * 20 + 50, 199 * 400 + 2500
    )
    buyers = ArmTotals(5000, 5000, 320, 320 * 20, 320 * 400, 0, 320 * 20, 320 * 400)
    report = report_build.build(
        WINDOW,
        [doc],
        Totals({"hero-test": ExperienceTotals({None: whale, "b": buyers}, {}, 50.0)}, {}, {}, {}),
        None,
        global_holdout=0.05,
    )
    b = variant(report)
    # Then raw revenue says nothing (the whale's variance swamps it) and the capped metric,
    # which the verdict reads, says the variant wins
    raw = b["lift"]["revenue_per_unit"]
    assert raw["sequential_low"] < 0 < raw["sequential_high"]
    assert b["lift"]["revenue_per_unit_capped"]["sequential_low"] > 0
    assert b["verdict"] == "beats_default"
    section = report["experiences"][0]
    assert section["revenue_cap"] == {"percentile": 0.99, "value": 50.0}
    assert section["arms"][0]["revenue_per_unit"] > section["arms"][0]["revenue_per_unit_capped"]
    # And the HTML report shows both, the capped row marked as the one the verdict read
    html = report_render.to_html(report).decode()
    assert "revenue / unit, capped" in html and "capped at the 99th percentile" in html
    assert "revenue_per_unit_capped (verdict)" in html


def test_with_a_covariate_the_verdict_reads_the_cuped_adjusted_lift() -> None:
    # Given arms whose units' conversions before exposure predict those after it
    def with_history(units: int, converted: int, before: int, both: int) -> ArmTotals:
        return replace(
            arm(units, converted / units),
            pre_exposure={"conversion_rate": Covariate(before, before, both)},
        )

    holdout, b_arm = with_history(4000, 400, 800, 300), with_history(4000, 460, 800, 330)
    report = build(ONE_VARIANT, {None: holdout, "b": b_arm})
    b = variant(report)
    raw, adjusted = b["lift"]["conversion_rate"], b["lift_adjusted"]["conversion_rate"]
    # Then the adjusted interval is narrower than the raw one, and it is what the verdict read
    assert adjusted["sequential_high"] - adjusted["sequential_low"] < (
        raw["sequential_high"] - raw["sequential_low"]
    )
    assert adjusted["holdout"] == raw["holdout"] == pytest.approx(0.10)  # unadjusted means
    assert b["trend"][-1]["sequential_low"] == adjusted["sequential_low"]
    assert "p_value_holm" in adjusted and "p_value_holm" not in raw
    # And without a covariate (no pre-exposure days read) there is no adjusted lift
    assert (
        variant(build(ONE_VARIANT, {None: arm(4000, 0.1), "b": arm(4000, 0.115)}))["lift_adjusted"]
        == {}
    )
