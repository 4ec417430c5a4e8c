"""Lift by segment against a known truth: a variant that helps mobile by 30 % and does
nothing on desktop is flagged; in A/A the flag stays below its 5 % budget; the adjusted
p-values are scipy's; a segment's lift never moves a verdict or a pause."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pytest
from scipy.stats import false_discovery_control

from earnest.report import build
from earnest.report.plan import Plan
from earnest.report.segment_lift import segment_section
from earnest.report.totals import ArmTotals, ExperienceTotals, Totals
from earnest.report.window import Window
from tests.builders.experiences import one_variant, two_variants

BASE = 0.10
UNITS = 20_000  # per arm and device


def segmented(doc: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    return {**doc, "measurement_plan": {**doc["measurement_plan"], "segments": paths}}


DOC = segmented(one_variant("recs", "pdp-recs"), ["context.device"])


def simulate(
    rng: np.random.Generator, rates: dict[str, dict[str | None, float]]
) -> ExperienceTotals:
    """Each device's arms with `UNITS` units converting at their true rate."""
    split = {
        device: {
            arm: ArmTotals(UNITS, UNITS, int(rng.binomial(UNITS, p))) for arm, p in arms.items()
        }
        for device, arms in rates.items()
    }
    whole = {
        arm: ArmTotals(
            sum(split[d][arm].units for d in split),
            sum(split[d][arm].units for d in split),
            sum(split[d][arm].conversions for d in split),
        )
        for arm in (None, "b")
    }
    return ExperienceTotals(whole, {}, None, {"context.device": split})


def test_a_variant_that_helps_mobile_and_does_nothing_on_desktop_is_flagged() -> None:
    # Given a true +30 % on mobile and nothing on desktop
    rng = np.random.default_rng(22)
    truth = {"mobile": {None: BASE, "b": BASE * 1.3}, "desktop": {None: BASE, "b": BASE}}
    section = segment_section(DOC, simulate(rng, truth), Plan.of(DOC))
    # Then the report finds the mobile lift, and says b helps mobile only
    assert section is not None
    by_value = {t["value"]: t for t in section["tests"]}
    assert by_value["mobile"]["effect"] == "helps"
    assert by_value["mobile"]["relative"] == pytest.approx(0.3, abs=0.08)
    assert by_value["desktop"]["effect"] == "flat"
    (flag,) = section["flags"]
    assert (flag["variant"], flag["kind"], flag["helps"], flag["flat"]) == (
        "b",
        "helps_one_only",
        ["mobile"],
        ["desktop"],
    )
    assert flag["message"].startswith("b helps context.device mobile (+")


def test_a_variant_that_helps_mobile_and_hurts_desktop_is_flagged_as_both() -> None:
    rng = np.random.default_rng(23)
    truth = {"mobile": {None: BASE, "b": BASE * 1.3}, "desktop": {None: BASE, "b": BASE * 0.7}}
    section = segment_section(DOC, simulate(rng, truth), Plan.of(DOC))
    assert section is not None
    (flag,) = section["flags"]
    assert (flag["kind"], flag["helps"], flag["harms"]) == (
        "helps_and_harms",
        ["mobile"],
        ["desktop"],
    )
    assert "hurts desktop" in flag["message"]


def test_in_200_a_a_replications_the_flag_and_any_segment_finding_stay_within_5_percent() -> None:
    # Given no true effect anywhere, three devices and two variants: 6 tests a night
    doc = segmented(two_variants("recs", "pdp-recs"), ["context.device"])
    rng = np.random.default_rng(2026)
    flagged = found = 0
    for _ in range(200):
        split = {
            device: {
                arm: ArmTotals(UNITS, UNITS, int(rng.binomial(UNITS, BASE)))
                for arm in (None, "a", "b")
            }
            for device in ("mobile", "desktop", "tablet")
        }
        totals = ExperienceTotals({}, {}, None, {"context.device": split})
        section = segment_section(doc, totals, Plan.of(doc))
        assert section is not None and len(section["tests"]) == 6
        flagged += bool(section["flags"])
        found += any(t["effect"] in ("helps", "harms") for t in section["tests"])
    # Then at most 5 % of the replications flag a variant or call any segment's lift
    assert flagged <= found <= 10


def test_the_adjusted_p_values_are_benjamini_hochbergs_as_scipy_computes_them() -> None:
    # Given weak, mixed effects over three devices and two variants (p-values across (0, 1))
    doc = segmented(two_variants("recs", "pdp-recs"), ["context.device"])
    rng = np.random.default_rng(5)
    split = {
        device: {
            arm: ArmTotals(6_000, 6_000, int(rng.binomial(6_000, BASE * lift)))
            for arm, lift in ((None, 1.0), ("a", 1.12 + 0.04 * k), ("b", 0.88 - 0.03 * k))
        }
        for k, device in enumerate(("mobile", "desktop", "tablet"))
    }
    section = segment_section(
        doc, ExperienceTotals({}, {}, None, {"context.device": split}), Plan.of(doc)
    )
    assert section is not None
    raw = [t["p_value"] for t in section["tests"]]
    assert len(set(raw)) > 3 and any(0 < p < 1 for p in raw)
    assert [t["p_value_bh"] for t in section["tests"]] == pytest.approx(
        list(false_discovery_control(raw, method="bh")), rel=1e-12
    )


def test_a_segments_lift_never_moves_a_verdict_or_a_pause() -> None:
    # Given the same events, the experience once without segments and once with them,
    # where the variant hurts desktop badly while it helps overall
    rng = np.random.default_rng(7)
    truth = {"mobile": {None: BASE, "b": BASE * 1.5}, "desktop": {None: BASE, "b": BASE * 0.6}}
    exp = simulate(rng, truth)
    plain = one_variant("recs", "pdp-recs")
    window = Window(date(2026, 11, 20), 7)

    def built(doc: dict[str, Any]) -> build.Built:
        totals = Totals({"recs": exp}, {}, {}, {})
        return build.assemble(window, [doc], totals, None, global_holdout=0.0)

    with_segments, without = built(DOC), built(plain)
    # Then the verdicts, the variant's entry and the actions are the same; only the segments
    # section (and its sentence) is added
    mine, theirs = with_segments.report["experiences"][0], without.report["experiences"][0]
    assert mine["variants"] == theirs["variants"]
    assert with_segments.actions == without.actions
    assert "segments" in mine and "segments" not in theirs
    assert mine["segments"]["flags"][0]["kind"] == "helps_and_harms"
    words = with_segments.report["summary"]["in_words"]
    assert any("helps context.device mobile" in w and "pauses nothing" in w for w in words)
