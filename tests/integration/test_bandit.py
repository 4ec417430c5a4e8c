"""A bandit experience through the nightly run against moto: re-weighted as audited
operational state, shown by `history`, `list` and `explain`, kept by a push, served by
decide with the new weights; the holdout and a guardrail's pause untouched."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from earnest.decide.engine import Engine
from earnest_aws.clients import client
from earnest_aws.experiences_store import ExperiencesStore
from earnest_aws.nightly_report import run
from earnest_cli.main import main
from tests.builders.experiences import allocated, experience
from tests.builders.report_events import put_s3, simulate

DAY = date(2026, 11, 20)
PUSHED = "2026-11-17T00:00:00.000Z"  # three days before the report's end: exploration over
BANDIT = experience(
    id="recs-bandit",
    placement="pdp-recs",
    audience={},
    variants=[
        {"id": "popular", "weight": 1, "content": {"v": "p"}},
        {"id": "similar", "weight": 1, "content": {"v": "s"}},
        {"id": "bundles", "weight": 1, "content": {"v": "b"}},
    ],
    allocation={"mode": "bandit", "exploration_days": 3, "min_units_per_variant": 100},
    last_reviewed="2026-11-10",
)
RATES = {"recs-bandit": {None: 0.05, "popular": 0.12, "similar": 0.05, "bundles": 0.05}}


@pytest.fixture
def settings(aws: Any) -> Any:
    return dataclasses.replace(aws, global_holdout=0.0)


@pytest.fixture
def cli(aws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Any:
    monkeypatch.chdir(tmp_path)

    def call(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return call


def _reweighted(settings: Any) -> ExperiencesStore:
    store = ExperiencesStore(settings.experiences_table)
    store.save(BANDIT, None, actor="alice", action="create", ops=allocated(BANDIT, PUSHED))
    records = simulate([BANDIT], 6000, RATES, DAY, prefix="bandit", days=3)
    put_s3(client("s3"), settings.events_bucket, records, "")
    run(DAY, settings)
    return store


def test_the_nightly_run_moves_weight_to_the_best_and_audits_it(settings: Any, cli: Any) -> None:
    # Given a bandit whose popular truly converts best, past its exploration window
    store = _reweighted(settings)
    # Then the served weights favour popular, with the report's evidence in the audit
    stored = store.get("recs-bandit")
    assert stored is not None
    weights = {v["id"]: v["weight"] for v in stored.effective["variants"]}
    assert weights["popular"] > 0.6 and min(weights.values()) >= 0.01
    assert stored.authored["variants"][0]["weight"] == 1  # the file is untouched
    entry = next(e for e in store.audit("recs-bandit") if e["action"] == "reweight")
    assert entry["kind"] == "operational" and entry["actor"] == "nightly-report"
    (action,) = entry["evidence"]["actions"]
    assert action["evidence"]["p_best"]["popular"] > 0.9
    # and `earnest history` says it in words
    code, out, _ = cli("history", "recs-bandit")
    assert code == 0
    p = action["evidence"]["p_best"]["popular"]
    assert f"popular 0.33 → {weights['popular']:.2f} (report of 2026-11-20, P(best) {p:.2f})" in out
    # and `earnest list` and `explain` show the weights served
    code, out, _ = cli("list")
    assert f"weights popular {weights['popular']:.2f}" in out and "report of 2026-11-20" in out
    code, out, _ = cli("explain", "--placement", "pdp-recs")
    assert code == 0 and f"weights popular {weights['popular']:.2f}" in out


def test_decide_serves_the_new_weights_and_the_holdout_stays_the_files(settings: Any) -> None:
    store = _reweighted(settings)
    engine = Engine(store.load_rules().experiences, global_holdout=0.0)
    seen: dict[str | None, int] = {}
    for i in range(20_000):
        d = engine.decide({"visitor": {"anonymous_id": f"v{i}"}, "placements": ["pdp-recs"]}, None)
        variant = d["decisions"]["pdp-recs"]["variant"]
        seen[variant] = seen.get(variant, 0) + 1
    assert abs(seen[None] / 20_000 - BANDIT["holdout"]) < 0.01  # the holdout's share: the file's
    treated = 20_000 - seen[None]
    stored = store.get("recs-bandit")
    assert stored is not None
    weight = next(v["weight"] for v in stored.effective["variants"] if v["id"] == "popular")
    assert abs(seen["popular"] / treated - weight) < 0.02


def test_a_push_never_undoes_the_weights_and_a_fixed_mode_does(
    settings: Any, cli: Any, tmp_path: Path
) -> None:
    store = _reweighted(settings)
    stored = store.get("recs-bandit")
    assert stored is not None
    file = tmp_path / "recs.yaml"
    reworded = {
        **BANDIT,
        "version": stored.version,
        "measurement_plan": {**BANDIT["measurement_plan"], "hypothesis": "Reworded, same idea."},
    }
    file.write_text(yaml.safe_dump(reworded, sort_keys=False))
    assert cli("push", str(file))[0] == 0
    after = store.get("recs-bandit")
    assert after is not None
    assert [v["weight"] for v in after.effective["variants"]] == [
        v["weight"] for v in stored.effective["variants"]
    ]
    # the owner who wants the file's split back says so in the file
    fixed = {**reworded, "version": after.version, "allocation": {"mode": "fixed"}}
    file.write_text(yaml.safe_dump(fixed, sort_keys=False))
    assert cli("push", str(file))[0] == 0
    back = store.get("recs-bandit")
    assert back is not None and [v["weight"] for v in back.effective["variants"]] == [1, 1, 1]


def test_plan_says_what_a_bandit_will_do(settings: Any, cli: Any) -> None:
    store = ExperiencesStore(settings.experiences_table)
    store.save(BANDIT, None, actor="alice", action="create", ops=allocated(BANDIT, PUSHED))
    code, out, _ = cli("plan", "recs-bandit", "--daily-units", "60", "--base-rate", "0.05")
    assert code == 0
    # 60 a day, 10 % held out, three variants: 18 units a variant a day, 100 by night 6
    assert "bandit: the file's split for 3 days, then re-weighted nightly" in out
    assert "from night 6: 100 units per variant" in out and "the holdout stays 10%" in out


def test_plan_says_what_a_segmented_bandit_will_do(settings: Any, cli: Any) -> None:
    doc = {**BANDIT, "allocation": {**BANDIT["allocation"], "segments": ["context.device"]}}
    store = ExperiencesStore(settings.experiences_table)
    store.save(doc, None, actor="alice", action="create", ops=allocated(doc, PUSHED))
    code, out, _ = cli("plan", "recs-bandit", "--daily-units", "60", "--base-rate", "0.05")
    assert code == 0
    assert "each value of context.device (at most 16) its own weights once every variant" in out
