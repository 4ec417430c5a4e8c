"""Coming from GrowthBook: flat attribute names are warned about, and experiment rules
import as drafts in the request's shape."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from earnest.conditions.compile import matches
from earnest.experiences.validation import shape_warnings, validate_experience
from earnest_cli.growthbook import convert
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
    drafts, skipped = convert(json.loads(FEATURES.read_text()))
    assert skipped == ["checkout-button rule 0: a force rule, not an experiment"]
    (button, notes), (hero, hero_notes) = drafts
    assert button["id"] == "checkout-button-colour" and button["placement"] == "checkout-button"
    assert button["status"] == "draft" and button["holdout"] == 0.5
    assert button["default"] == {"label": "Buy now", "color": "blue"}
    assert button["variants"] == [
        {"id": "green", "weight": 0.5, "content": {"label": "Buy now", "color": "green"}}
    ]
    assert button["audience"] == {
        "context.country": {"$in": ["US", "CA"]},
        "context.browser": "chrome",
    }
    assert any("coverage 0.5" in n for n in notes)
    # the same visitor matches in both shapes
    gb_visitor = {"country": "CA", "browser": "chrome"}
    request = {"visitor": {"anonymous_id": "a"}, "context": gb_visitor}
    assert matches({"country": {"$in": ["US", "CA"]}, "browser": "chrome"}, gb_visitor)
    assert matches(button["audience"], request)
    assert hero["audience"] == {
        "$or": [{"attributes.loggedIn": True}, {"attributes.ltv": {"$gte": 100}}],
        "context.device": "mobile",
    }
    assert [v["id"] for v in hero["variants"]] == ["bold", "minimal"]
    assert any("'userId'" in n for n in hero_notes) and any("namespace" in n for n in hero_notes)
    # drafts, not launchable: validate names what GrowthBook did not have
    fields = {p.field for p in validate_experience(button, "b.yaml")}
    assert {"owner", "measurement_plan", "review_every_days", "last_reviewed"} <= fields
    assert shape_warnings(button, "b.yaml") == []


def test_the_import_command_writes_one_file_per_experiment(tmp_path: Path, capsys: object) -> None:
    assert main(["import", "growthbook", str(FEATURES), "--out", str(tmp_path)]) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["checkout-button-colour.yaml", "hero-copy-test.yaml"]
    text = (tmp_path / "hero-copy-test.yaml").read_text()
    assert text.startswith("# draft imported from GrowthBook")
    assert yaml.safe_load(text)["status"] == "draft"


def test_the_migration_guide_shows_what_the_import_writes(tmp_path: Path) -> None:
    guide = (ROOT / "docs" / "migrating-from-growthbook.md").read_text()
    assert main(["import", "growthbook", str(FEATURES), "--out", str(tmp_path)]) == 0
    shown = guide.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert shown == (tmp_path / "checkout-button-colour.yaml").read_text()
