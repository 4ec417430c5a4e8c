"""Coming from GrowthBook: flat attribute names are warned about, and experiment rules
import as drafts in the request's shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from earnest.conditions.compile import matches
from earnest.experiences.validation import shape_warnings, validate_experience
from earnest_cli.growthbook import bucket_shares, convert
from earnest_cli.main import main
from tests.builders.experiences import experience
from tests.conftest import ROOT

FEATURES = ROOT / "tests" / "data" / "growthbook-features.json"


def test_a_growthbook_style_path_is_warned_about_with_a_suggestion() -> None:
    doc = experience(audience={"country": {"$in": ["US", "CA"]}, "$or": [{"loggedIn": True}]})
    warnings = [str(w) for w in shape_warnings(doc, "x.yaml")]
    assert warnings == [
        "x.yaml: hero-test: audience.country: [request_shape] reads 'country', which no "
        "decide request has (paths start with visitor., context. or attributes.): "
        "'context.country'?",
        "x.yaml: hero-test: audience.loggedIn: [request_shape] reads 'loggedIn', which no "
        "decide request has (paths start with visitor., context. or attributes.): "
        "'attributes.loggedIn'?",
    ]
    assert shape_warnings(experience(), "x.yaml") == []


def test_experiment_rules_become_drafts_that_match_what_growthbook_matched() -> None:
    converted = convert(json.loads(FEATURES.read_text()))
    assert converted.skipped == [("checkout-button rule 0", "a force rule, not an experiment")]
    assert [where for where, _ in converted.refused] == ["pricing-page rule 0"]  # a namespace
    assert "namespace ['pricing', 0, 0.5]" in converted.refused[0][1]
    by_id = {d.doc["id"]: d for d in converted.drafts}
    button, hero = by_id["checkout-button-colour"], by_id["hero-copy-test"]
    doc = button.doc
    assert doc["id"] == "checkout-button-colour" and doc["placement"] == "checkout-button"
    # 50 % coverage of a 50/50 test: a quarter sees green, the rest the default (holdout)
    assert doc["status"] == "draft" and doc["holdout"] == 0.75
    assert doc["default"] == {"label": "Buy now", "color": "blue"}
    assert doc["variants"] == [
        {"id": "green", "weight": 0.25, "content": {"label": "Buy now", "color": "green"}}
    ]
    assert doc["audience"] == {
        "context.country": {"$in": ["US", "CA"]},
        "context.browser": "chrome",
    }
    assert any("leaves 0.5 of the audience out" in n for n in button.notes)
    # the same visitor matches in both shapes
    gb_visitor = {"country": "CA", "browser": "chrome"}
    request = {"visitor": {"anonymous_id": "a"}, "context": gb_visitor}
    assert matches({"country": {"$in": ["US", "CA"]}, "browser": "chrome"}, gb_visitor)
    assert matches(doc["audience"], request)
    assert hero.doc["audience"] == {
        "$or": [{"attributes.loggedIn": True}, {"attributes.ltv": {"$gte": 100}}],
        "context.device": "mobile",
    }
    assert [v["id"] for v in hero.doc["variants"]] == ["bold", "minimal"]
    assert any("'userId'" in n for n in hero.notes)
    # drafts, not launchable: validate names what GrowthBook did not have
    fields = {p.field for p in validate_experience(doc, "b.yaml")}
    assert {"owner", "measurement_plan", "review_every_days", "last_reviewed"} <= fields
    assert shape_warnings(doc, "b.yaml") == []


def test_two_rules_with_one_key_ranges_saved_groups_and_a_weight_0_variation() -> None:
    converted = convert(json.loads(FEATURES.read_text()))
    by_id = {d.doc["id"]: d for d in converted.drafts}
    vip = by_id["vip-shipping"]
    assert [v["id"] for v in vip.doc["variants"]] == ["banner"] and vip.doc["holdout"] == 0.5
    assert any('variation 2 ("bar") dropped' in n for n in vip.notes)
    assert vip.doc["audience"] == {"visitor.anonymous_id": {"$inGroup": "grp_vip"}}
    assert converted.groups == {"grp_vip": ["u-1007", "u-2001"]}
    again = by_id["checkout-button-colour-free-shipping-banner"]  # the same key, renamed
    assert any("key 'checkout-button-colour' is used by another rule too" in n for n in again.notes)
    assert again.doc["holdout"] == 0.99 and again.doc["variants"][0]["weight"] == 0.01  # ranges


def test_the_import_command_writes_one_file_per_experiment(tmp_path: Path, capsys: object) -> None:
    assert main(["import", "growthbook", str(FEATURES), "--out", str(tmp_path)]) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == [
        "checkout-button-colour-free-shipping-banner.yaml",
        "checkout-button-colour.yaml",
        "hero-copy-test.yaml",
        "saved-groups.yaml",
        "vip-shipping.yaml",
    ]
    text = (tmp_path / "hero-copy-test.yaml").read_text()
    assert text.startswith("# from home-hero rule 0\n# draft imported from GrowthBook")
    assert yaml.safe_load(text)["status"] == "draft"


def test_the_migration_guide_shows_what_the_import_writes(tmp_path: Path) -> None:
    guide = (ROOT / "docs" / "migrating-from-growthbook.md").read_text()
    assert main(["import", "growthbook", str(FEATURES), "--out", str(tmp_path)]) == 0
    shown = guide.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert shown == (tmp_path / "checkout-button-colour.yaml").read_text()


# -- GrowthBook's own SDK cases (tests/data/growthbook-cases.json, MIT) ------------------

CASES = json.loads((ROOT / "tests" / "data" / "growthbook-cases.json").read_text())
# Why a rule may be refused: each names the GrowthBook field Earnest cannot carry.
REFUSALS = (
    *("namespace", "filters", "passthrough", "parentConditions", "active", "force", "ranges"),
    *("weights", "coverage", "saved group", "a control and at least one"),
)


def _growthbook_rules() -> list[tuple[str, dict[str, Any], str, int]]:
    """(case name, a features payload, the feature, the rule's index) for every experiment
    rule in the `feature` and `run` sections: each run case's experiment as the one rule of
    a feature whose default is its control."""
    out = []
    for name, context, _feature, _expected in CASES["feature"]:
        payload = {"features": context.get("features") or {}}
        if "savedGroups" in context:
            payload["savedGroups"] = context["savedGroups"]
        for feature, spec in payload["features"].items():
            for i, rule in enumerate(spec.get("rules") or []):
                if "variations" in rule:
                    out.append((f"feature: {name}", payload, feature, i))
    for name, context, exp, *_ in CASES["run"]:
        spec = {"defaultValue": exp["variations"][0] if exp["variations"] else None}
        payload = {"features": {exp["key"]: {**spec, "rules": [exp]}}}
        if "savedGroups" in context:
            payload["savedGroups"] = context["savedGroups"]
        out.append((f"run: {name}", payload, exp["key"], 0))
    return out


def _served(doc: dict[str, Any]) -> list[float]:
    """Each arm's share of the audience as Earnest serves it: the holdout (the default),
    then each variant's share of the rest, by weight."""
    total = sum(v["weight"] for v in doc["variants"])
    rest = 1 - doc["holdout"]
    return [doc["holdout"]] + [rest * v["weight"] / total for v in doc["variants"]]


def test_bucket_shares_are_growthbooks_bucket_ranges() -> None:
    """The importer reads weights and coverage as GrowthBook's getBucketRanges does,
    invalid ones included (GrowthBook's own `getBucketRange` cases)."""
    for name, (count, coverage, weights), ranges in CASES["getBucketRange"]:
        rule = {"coverage": coverage, "weights": weights}
        shares, _ = bucket_shares(rule, count)
        assert shares == pytest.approx([end - start for start, end in ranges], abs=1e-9), name


@pytest.mark.parametrize(
    ("case", "payload", "feature", "index"),
    _growthbook_rules(),
    ids=[f"{c[0]}/{c[2]}/{c[3]}" for c in _growthbook_rules()],
)
def test_every_growthbook_experiment_rule_imports_as_served_or_is_named(
    case: str, payload: dict[str, Any], feature: str, index: int
) -> None:
    rule = payload["features"][feature]["rules"][index]
    converted = convert(payload)
    where = f"{feature} rule {index}"
    drafts = [d for d in converted.drafts if d.where == where]
    refused = [why for w, why in converted.refused if w == where]
    assert len(drafts) + len(refused) == 1, (case, converted)
    if refused:
        assert any(field in refused[0] for field in REFUSALS), refused[0]
        return
    (draft,) = drafts
    shares = (
        [e - s for s, e in rule["ranges"]]
        if rule.get("ranges")
        else bucket_shares(rule, len(rule["variations"]))[0]
    )
    served = [i for i in range(1, len(shares)) if shares[i] > 0]
    expected = [1 - sum(shares[i] for i in served)] + [shares[i] for i in served]
    assert _served(draft.doc) == pytest.approx(expected, abs=1e-5), case
    assert [v["content"] for v in draft.doc["variants"]] == [rule["variations"][i] for i in served]
    assert draft.doc["default"] == rule["variations"][0]
    if len(served) < len(shares) - 1:
        assert any("dropped" in n for n in draft.notes)
    if sum(shares) < 1 - 1e-9:
        assert any("out of the experiment" in n for n in draft.notes)


def test_no_rule_is_lost_and_every_id_is_distinct() -> None:
    """All the cases' experiment rules in one payload: one draft or one refusal each, the
    drafts' ids distinct, each id that is not its key explained."""
    features: dict[str, Any] = {}
    for n, (_case, payload, feature, index) in enumerate(_growthbook_rules()):
        spec = payload["features"][feature]
        features[f"{feature}-{n}"] = {**spec, "rules": [spec["rules"][index]]}
    converted = convert({"features": features})
    assert len(converted.drafts) + len(converted.refused) == len(features)
    ids = [d.doc["id"] for d in converted.drafts]
    assert len(set(ids)) == len(ids)
    for draft in converted.drafts:
        feature = draft.where.rsplit(" rule ", 1)[0]
        key = features[feature]["rules"][0].get("key") or feature  # GrowthBook's default key
        if draft.doc["id"] != key:
            assert any(n.startswith(f"id {draft.doc['id']}") for n in draft.notes), draft


def test_saved_groups_are_imported_and_numeric_ones_refused_with_their_rules() -> None:
    payload = {
        "features": {
            "banner": {
                "defaultValue": "a",
                "rules": [
                    {
                        "key": "vip",
                        "variations": ["a", "b"],
                        "condition": {"id": {"$inGroup": "Grp VIP"}},
                    },
                    {
                        "key": "num",
                        "variations": ["a", "b"],
                        "condition": {"n": {"$inGroup": "nums"}},
                    },
                ],
            }
        },
        "savedGroups": {"Grp VIP": ["u-1", "u-2"], "nums": [123, 456]},
    }
    converted = convert(payload)
    assert converted.groups == {"grp-vip": ["u-1", "u-2"]}
    assert any("'Grp VIP'" in n for n in converted.group_notes)
    assert any("'nums' not imported" in n for n in converted.group_notes)
    (draft,) = converted.drafts
    assert draft.doc["audience"] == {"visitor.anonymous_id": {"$inGroup": "grp-vip"}}
    assert converted.refused == [
        ("banner rule 1", "condition reads saved group(s) not imported: nums")
    ]


def test_an_encrypted_payload_says_to_fetch_it_decrypted(tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "f.json").write_text(json.dumps({"encryptedFeatures": "abc.def"}))
    assert main(["import", "growthbook", str(tmp_path / "f.json")]) == 1
    err = capsys.readouterr().err
    assert "encrypted" in err and "decrypted" in err and len(err.splitlines()) == 1
