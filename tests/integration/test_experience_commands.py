"""The experience commands in-process against moto: what an owner and an operator see.

Operational state (a guardrail's pause) survives every push; pushes say `unchanged` or are
refused when stale; pull, diff, history, rollback, pause and resume do what they say.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from earnest.experiences.operations import apply_guardrails
from earnest.report import guardrails
from earnest_aws.experiences_store import ExperiencesStore
from earnest_cli.main import main
from tests.builders.experiences import experience

TODAY = datetime.now(UTC).date()
RECS = experience(
    id="search-landing-recs",
    placement="pdp-recs",
    audience={},
    variants=[
        {"id": "bestsellers", "weight": 1, "content": {"v": "a"}},
        {"id": "bundles", "weight": 1, "content": {"v": "b"}},
    ],
    last_reviewed=TODAY.isoformat(),
)


@pytest.fixture
def cli(aws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Any:
    monkeypatch.chdir(tmp_path)  # the checkout's record (.earnest/) lives here

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture
def store(aws: Any) -> ExperiencesStore:
    return ExperiencesStore(aws.experiences_table)


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def pause_bundles_as_the_report_does(store: ExperiencesStore, day: date) -> None:
    action = guardrails.Action(
        "search-landing-recs",
        guardrails.PAUSE_VARIANT,
        guardrails.LOSES_TO_DEFAULT,
        "bundles",
        f"loses_to_default: variant bundles loses to the default in the report of {day}",
        {"report_date": day.isoformat(), "relative_lift": -0.62, "sequential_p_value": 0.0004},
    )
    applied, _ = apply_guardrails(store, day, [action])
    assert applied


def serving(store: ExperiencesStore) -> list[str]:
    doc = next(d for d in store.load_rules().experiences if d["id"] == "search-landing-recs")
    return [v["id"] for v in doc["variants"] if not v.get("paused")]


def retire_as_the_report_does(store: ExperiencesStore, doc: dict[str, Any]) -> None:
    """Tonight's report retires `doc` for the lifecycle rule it breaks."""
    ((rule, reason),) = guardrails.lifecycle(doc, TODAY)
    retire = guardrails.Action(
        doc["id"],
        guardrails.RETIRE,
        rule,
        None,
        reason,
        {"report_date": TODAY.isoformat(), "rules": [rule]},
    )
    apply_guardrails(store, TODAY, [retire])


def test_a_push_never_undoes_a_guardrail_and_says_what_it_kept(
    cli: Any, store: ExperiencesStore, tmp_path: Path
) -> None:
    # Given a pushed experience whose variant the nightly report paused
    file = write(tmp_path / "recs.yaml", RECS)
    assert cli("push", str(file))[0] == 0
    pause_bundles_as_the_report_does(store, TODAY)
    # When the owner rewords the hypothesis and pushes
    doc = {
        **RECS,
        "measurement_plan": {**RECS["measurement_plan"], "hypothesis": "Reworded, same idea."},
    }
    code, out, _ = cli("push", str(write(file, doc)))
    # Then the push lands, says bundles stays paused and why, and decide still skips it
    assert code == 0 and "updated -> version 3" in out
    assert (
        "bundles stays paused: loses_to_default in the report of "
        f"{TODAY} (lift -62 %, always-valid p 0.0004); "
        'earnest resume search-landing-recs/bundles --reason "…" to serve it again'
    ) in out
    assert serving(store) == ["bestsellers"]
    stored = store.get("search-landing-recs")
    assert stored is not None and "paused" not in str(stored.authored["variants"])
    # and pushing the unchanged file writes nothing
    code, out, _ = cli("push", str(file))
    assert code == 0 and "search-landing-recs: unchanged (version 3)" in out
    assert len(store.audit("search-landing-recs")) == 3


def test_resume_needs_a_reason_and_is_audited(
    cli: Any, store: ExperiencesStore, tmp_path: Path
) -> None:
    cli("push", str(write(tmp_path / "recs.yaml", RECS)))
    pause_bundles_as_the_report_does(store, TODAY)
    with pytest.raises(SystemExit):
        main(["resume", "search-landing-recs/bundles"])  # no --reason: argparse refuses
    code, out, _ = cli(
        "resume", "search-landing-recs/bundles", "--reason", "new bundle prices", "--actor", "lena"
    )
    assert code == 0 and "serving again" in out
    assert serving(store) == ["bestsellers", "bundles"]
    last = store.audit("search-landing-recs")[-1]
    assert (last["actor"], last["action"], last["reason"]) == (
        "lena",
        "resume",
        "new bundle prices",
    )
    assert last["evidence"]["lifted"]["rule"] == "loses_to_default"
    # and a manual pause of the whole experience sticks until resumed
    assert cli("pause", "search-landing-recs", "--reason", "pricing incident")[0] == 0
    assert next(d for d in store.load_rules().experiences)["status"] == "paused"
    code, _, err = cli("resume", "search-landing-recs/bundles", "--reason", "x")
    assert code == 1 and "not paused" in err


def test_a_push_from_a_checkout_that_missed_a_change_is_refused_naming_who(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, checkout_record: Path
) -> None:
    # Given lena's checkout pushed version 1, then marco (another checkout) changed the holdout
    mine = write(tmp_path / "recs.yaml", RECS)
    assert cli("push", str(mine), "--actor", "lena")[0] == 0
    other = tmp_path / "marco"
    other.mkdir()
    monkeypatch.setenv("EARNEST_STATE_DIR", str(other / ".earnest"))
    assert cli("pull", str(other))[0] == 0
    theirs = other / "search-landing-recs.yaml"
    assert yaml.safe_load(theirs.read_text()) == RECS  # pull writes the authored file back
    write(theirs, {**RECS, "holdout": 0.2})
    assert cli("push", str(theirs), "--actor", "marco")[0] == 0
    monkeypatch.setenv("EARNEST_STATE_DIR", str(checkout_record))  # lena's again
    # When lena pushes an edit of the old content
    code, _, err = cli("push", str(write(mine, {**RECS, "priority": 5})), "--actor", "lena")
    # Then it is refused, naming who changed what
    assert code == 1
    assert (
        "this checkout last pushed or pulled version 1 from this revision of the file; "
        "since then it was changed by marco"
    ) in err
    assert ": holdout (version 2)" in err
    # and the diff shows field by field what her push would change
    code, out, _ = cli("diff", str(mine))
    assert "~ holdout: 0.2 -> 0.1" in out and "~ priority: 0 -> 5" in out
    # A file equal to an older version is stale too, whoever's checkout it is
    monkeypatch.setenv("EARNEST_STATE_DIR", str(tmp_path / "fresh"))
    code, _, err = cli("push", str(write(mine, RECS)))
    assert code == 1 and "your file is the content of version 1" in err


def test_history_and_rollback_keep_operational_pauses(
    cli: Any, store: ExperiencesStore, tmp_path: Path
) -> None:
    file = write(tmp_path / "recs.yaml", RECS)
    cli("push", str(file), "--actor", "lena")
    cli("push", str(write(file, {**RECS, "holdout": 0.3})), "--actor", "lena")
    pause_bundles_as_the_report_does(store, TODAY)
    code, out, _ = cli("history", "search-landing-recs")
    assert code == 0
    assert "v2" in out and "holdout: 0.1 -> 0.3" in out and "nightly-report  pause_variant" in out
    code, out, _ = cli("rollback", "search-landing-recs", "--to", "1")
    assert code == 0 and "rolled back to the content of version 1 -> version 4" in out
    stored = store.get("search-landing-recs")
    assert stored is not None and stored.authored["holdout"] == 0.1
    assert serving(store) == ["bestsellers"]  # the pause stuck
    code, _, err = cli("rollback", "search-landing-recs", "--to", "3")
    assert code == 1 and "no authored version 3" in err


def test_a_review_revives_what_was_retired_for_an_overdue_review(
    cli: Any, store: ExperiencesStore, tmp_path: Path
) -> None:
    stale = {**RECS, "last_reviewed": "2025-01-01"}
    cli("push", str(write(tmp_path / "recs.yaml", stale)))
    retire_as_the_report_does(store, stale)  # the action its lifecycle rule gives
    assert next(d for d in store.load_rules().experiences)["status"] == "retired"
    code, _, err = cli("revive", "search-landing-recs", "--reason", "still useful")
    assert code == 1 and "earnest review search-landing-recs" in err
    code, out, _ = cli("review", "search-landing-recs", "--reason", "checked the numbers")
    assert code == 0 and "revived: review_overdue remedied" in out
    assert next(d for d in store.load_rules().experiences)["status"] == "live"


def test_list_shows_each_variant_serving_or_paused_and_why(
    cli: Any, store: ExperiencesStore, tmp_path: Path
) -> None:
    cli("push", str(write(tmp_path / "recs.yaml", RECS)))
    pause_bundles_as_the_report_does(store, TODAY)
    code, out, _ = cli("list")
    assert code == 0
    assert "  bestsellers: serving" in out
    assert "  bundles: paused: loses_to_default in the report of" in out


def test_explain_from_the_command_line_names_every_candidate(
    cli: Any, store: ExperiencesStore, tmp_path: Path
) -> None:
    cli(
        "push",
        str(write(tmp_path / "recs.yaml", {**RECS, "audience": {"context.referrer": "google"}})),
    )
    pause_bundles_as_the_report_does(store, TODAY)
    code, out, _ = cli("explain", "--placement", "pdp-recs", "--context", "referrer=bing")
    assert code == 0
    assert "pdp-recs: not_in_audience -> search-landing-recs" in out
    assert 'fails context.referrer: "google", visitor has "bing"' in out
    assert "variant bundles paused: loses_to_default" in out
    code, _, err = cli("explain", "--placement", "pdp-recs", "--context", "country")
    assert code == 1 and "--context takes KEY=VALUE" in err


def test_an_unreachable_stack_is_one_line_and_exit_2(
    aws: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from earnest_aws.clients import reset

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_CONNECT_TIMEOUT", "0.2")
    reset()
    code = main(["list"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(
        "earnest list: cannot reach http://127.0.0.1:9 (is `earnest serve` running?)"
    )
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_items_stored_before_operational_state_existed_stay_readable(
    cli: Any, store: ExperiencesStore, tmp_path: Path
) -> None:
    # Given an item as the previous layout wrote it: no ops, no kind, a pause inside doc
    import orjson

    from earnest_aws.clients import client

    old = {**RECS, "version": 1}
    old["variants"] = [RECS["variants"][0], {**RECS["variants"][1], "paused": True}]
    key = {"pk": {"S": "exp#search-landing-recs"}}
    client("dynamodb").put_item(
        TableName=store.table,
        Item={
            **key,
            "sk": {"S": "current"},
            "doc": {"S": orjson.dumps(old).decode()},
            "version": {"N": "1"},
            "updated_at": {"S": "2026-11-01T00:00:00Z"},
            "updated_by": {"S": "alice"},
        },
    )
    client("dynamodb").put_item(
        TableName=store.table,
        Item={
            **key,
            "sk": {"S": "audit#2026-11-01T00:00:00Z#00000001"},
            "actor": {"S": "alice"},
            "action": {"S": "create"},
            "reason": {"S": ""},
            "changes": {"S": "{}"},
            "evidence": {"S": "{}"},
            "version": {"N": "1"},
            "at": {"S": "2026-11-01T00:00:00Z"},
        },
    )
    # Then decide, list and history read it, and a push of the file replaces the old pause
    assert serving(store) == ["bestsellers"]
    assert store.audit("search-landing-recs")[0]["kind"] == "authored"
    code, out, _ = cli("list")
    assert code == 0 and "bundles: paused in the file" in out
    code, out, _ = cli("push", str(write(tmp_path / "recs.yaml", RECS)), "--force")
    assert code == 0 and "updated -> version 2" in out
    assert serving(store) == ["bestsellers", "bundles"]


def test_a_push_with_a_new_last_reviewed_revives_an_overdue_retirement(
    cli: Any, store: ExperiencesStore, tmp_path: Path
) -> None:
    stale = {**RECS, "last_reviewed": "2025-01-01"}
    file = write(tmp_path / "recs.yaml", stale)
    cli("push", str(file))
    retire_as_the_report_does(store, stale)
    # the unchanged file keeps it retired, and says how to serve it again
    code, out, _ = cli("push", str(file))
    assert code == 0 and "search-landing-recs stays retired: review_overdue in the report" in out
    # a file that records a new review revives it, audited
    code, out, _ = cli("push", str(write(file, RECS)))
    assert code == 0 and "revived: review_overdue remedied (pushed from" in out
    assert next(d for d in store.load_rules().experiences)["status"] == "live"
    assert store.audit("search-landing-recs")[-1]["action"] == "revive"


def allocation_since(store: ExperiencesStore) -> str | None:
    stored = store.get("search-landing-recs")
    assert stored is not None
    return stored.effective.get("allocation_started_at")


def test_the_allocation_restarts_only_when_who_gets_what_changes(
    cli: Any, store: ExperiencesStore, tmp_path: Path
) -> None:
    # Given a first push: its allocation starts then, and list shows since when
    file = write(tmp_path / "recs.yaml", RECS)
    cli("push", str(file))
    first = allocation_since(store)
    assert first is not None
    code, out, _ = cli("list")
    assert code == 0 and "ALLOCATION SINCE" in out and f"{first[:10]} {first[11:16]}Z" in out
    # When the same weights are pushed again, or only the content changes: it is kept
    cli("push", str(file))
    recoloured = [{**v, "content": {"v": "new"}} for v in RECS["variants"]]
    cli("push", str(write(file, {**RECS, "variants": recoloured})))
    assert allocation_since(store) == first
    # When tonight's report pauses bundles, the allocation restarts (now: before the end of
    # the reported day), and a backfilled night cannot move it before the allocation it ends
    pause_bundles_as_the_report_does(store, TODAY)
    paused = allocation_since(store)
    assert paused is not None and paused > first
    # and an operator's resume restarts it now, audited with the restart
    code, _, _ = cli("resume", "search-landing-recs/bundles", "--reason", "fixed the feed")
    assert code == 0
    resumed = allocation_since(store)
    assert resumed is not None and resumed > paused
    assert store.audit("search-landing-recs")[-1]["changes"]["allocation"]["to"]["started_at"] == (
        resumed
    )
    # and a push that changes the weights restarts it again, noted in the push's audit entry
    reweighted = [{**v, "weight": w} for v, w in zip(recoloured, (3, 1), strict=True)]
    cli("push", str(write(file, {**RECS, "variants": reweighted})))
    assert allocation_since(store) not in (first, resumed, None)
    assert "allocation" in store.audit("search-landing-recs")[-1]["evidence"]


def test_saved_groups_are_versioned_a_stale_push_writes_nothing_and_history_shows_each_change(
    cli: Any,
    store: ExperiencesStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    checkout_record: Path,
) -> None:
    # Given lena pushed a saved group and an experience from her folder
    mine = tmp_path / "lena"
    mine.mkdir()
    groups = mine / "groups.yaml"
    groups.write_text(yaml.safe_dump({"saved_groups": {"vip_accounts": list("abcde")}}))
    recs = write(mine / "recs.yaml", RECS)
    code, out, _ = cli("push", str(mine), "--actor", "lena")
    assert code == 0 and "saved group vip_accounts: created (5 id(s)) -> version 1" in out
    # and marco, from his own checkout, removed the id e
    theirs = tmp_path / "marco"
    monkeypatch.setenv("EARNEST_STATE_DIR", str(theirs / ".earnest"))
    assert cli("pull", str(theirs))[0] == 0
    pulled = theirs / "groups.yaml"
    assert yaml.safe_load(pulled.read_text()) == {"saved_groups": {"vip_accounts": list("abcde")}}
    pulled.write_text(yaml.safe_dump({"saved_groups": {"vip_accounts": list("abcd")}}))
    code, out, _ = cli("push", str(pulled), "--actor", "marco")
    assert code == 0 and "saved group vip_accounts: updated (4 id(s)) -> version 2" in out
    monkeypatch.setenv("EARNEST_STATE_DIR", str(checkout_record))  # lena's again
    # When lena pushes her folder again with an edit of the experience (her group still has e)
    write(recs, {**RECS, "priority": 5})
    code, out, err = cli("push", str(mine), "--actor", "lena")
    # Then the push is refused for the group, naming who changed it
    assert code == 1
    assert (
        f"{groups}: saved group vip_accounts: refused: your file is the content of version 1" in err
    )
    assert "changed by marco" in err and "ids (version 2)" in err
    assert "nothing was pushed: 1 refused" in err
    # and nothing of it was written: e stays removed, the experience is unchanged
    assert store.load_rules().saved_groups == {"vip_accounts": list("abcd")}
    stored = store.get("search-landing-recs")
    assert stored is not None and stored.version == 1 and stored.authored["priority"] == 0
    # and history lists every change of the group, who made it and what it changed
    code, out, _ = cli("history", "vip_accounts")
    assert code == 0
    assert "v1" in out and "lena  create (authored)" in out
    assert "marco  update (authored)" in out and 'ids: added [], removed ["e"]' in out


def test_a_push_refused_for_one_experience_writes_no_saved_group_either(
    cli: Any, store: ExperiencesStore, tmp_path: Path
) -> None:
    # Given a stored experience at version 2 that this folder never saw
    folder = tmp_path / "team"
    folder.mkdir()
    recs = write(folder / "recs.yaml", RECS)
    assert cli("push", str(recs))[0] == 0
    store.save({**RECS, "holdout": 0.2}, 1, actor="marco", action="update")
    # When the folder pushes a new saved group with a stale edit of the experience
    (folder / "groups.yaml").write_text(yaml.safe_dump({"saved_groups": {"beta": ["x"]}}))
    write(recs, {**RECS, "priority": 5})
    code, _, err = cli("push", str(folder))
    # Then nothing is written, the new group included
    assert code == 1 and "search-landing-recs: refused" in err
    assert store.load_rules().saved_groups == {}
    assert store.group_audit("beta") == []


def git(repo: Path, *args: str) -> str:
    """git in `repo` as a person would run it (an author of its own, no global config)."""
    import subprocess

    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@shop.example",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@shop.example",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        ["git", "-C", str(repo), *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def test_a_push_knows_its_lineage_across_branches_directories_and_machines(
    cli: Any, store: ExperiencesStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a repository whose file was pushed as version 1 from main
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    file = write(repo / "recs.yaml", RECS)
    git(repo, "add", "recs.yaml")
    git(repo, "commit", "-qm", "recs")
    monkeypatch.chdir(repo)  # one working directory for every push below, as in CI
    assert cli("push", "recs.yaml", "--actor", "ci")[0] == 0
    # and branch a changed the holdout, committed, and pushed it as version 2
    git(repo, "checkout", "-qb", "a")
    write(file, {**RECS, "holdout": 0.2})
    git(repo, "commit", "-qam", "holdout")
    assert cli("push", "recs.yaml", "--actor", "ci")[0] == 0
    # When branch b, made from main before that, pushes its own edit from the same directory
    git(repo, "checkout", "-q", "main")
    git(repo, "checkout", "-qb", "b")
    write(file, {**RECS, "priority": 5})
    git(repo, "commit", "-qam", "priority")
    code, _, err = cli("push", "recs.yaml", "--actor", "ci")
    # Then it is refused: b's history holds version 1, not the holdout of version 2
    assert code == 1
    assert "refused: your file's committed history holds version 1" in err
    assert ": holdout (version 2)" in err
    stored = store.get("search-landing-recs")
    assert stored is not None and stored.version == 2 and stored.authored["priority"] == 0
    # When b merges a (so it has seen version 2), its push goes
    git(repo, "merge", "-q", "--no-edit", "-X", "theirs", "a")
    assert yaml.safe_load(file.read_text())["holdout"] == 0.2
    code, out, _ = cli("push", "recs.yaml", "--actor", "ci")
    assert code == 0 and "updated -> version 3" in out
    # and on another machine (a clone of branch a, no record of its own), an edit of
    # version 2 is refused (version 3 is not in its history), its merge of b then goes
    clone = tmp_path / "laptop"
    git(tmp_path, "clone", "-q", "-b", "a", str(repo), str(clone))
    monkeypatch.chdir(clone)
    write(clone / "recs.yaml", {**RECS, "holdout": 0.2, "description": "from the laptop"})
    code, _, err = cli("push", "recs.yaml", "--actor", "lena")
    assert code == 1 and "committed history holds version 2" in err
    git(clone, "checkout", "-q", "--", "recs.yaml")
    git(clone, "pull", "-q", "--no-rebase", "--no-edit", "origin", "b")
    write(clone / "recs.yaml", {**yaml.safe_load((clone / "recs.yaml").read_text()), "seed": "x"})
    code, out, _ = cli("push", "recs.yaml", "--actor", "lena")
    assert code == 0 and "updated -> version 4" in out
    # and pushing again an uncommitted edit after its own push goes too (this checkout saw it)
    write(clone / "recs.yaml", {**yaml.safe_load((clone / "recs.yaml").read_text()), "seed": "y"})
    code, out, _ = cli("push", "recs.yaml", "--actor", "lena")
    assert code == 0 and "updated -> version 5" in out


def test_validate_and_push_warn_of_a_review_due_and_review_records_it_before_any_retirement(
    cli: Any, store: ExperiencesStore, tmp_path: Path
) -> None:
    # Given a file whose review fell due yesterday (dated from today: any day the suite runs)
    overdue = {**RECS, "last_reviewed": (TODAY - timedelta(days=31)).isoformat()}
    file = write(tmp_path / "recs.yaml", overdue)
    due = (TODAY - timedelta(days=1)).isoformat()
    said = f"warning: search-landing-recs: review overdue since {due}"
    # Then validate warns, with the command that fixes it, and still passes
    code, _, err = cli("validate", str(file))
    assert code == 0 and said in err and "`earnest review search-landing-recs`" in err
    # and push warns the same, and pushes
    code, out, err = cli("push", str(file))
    assert code == 0 and said in err and "created -> version 1" in out
    # When the owner records the review the warning asked for
    code, out, _ = cli("review", "search-landing-recs", "--reason", "checked")
    assert code == 0 and f"reviewed {TODAY.isoformat()} -> version 2" in out
    # Then tonight's report has nothing to retire it for
    stored = store.get("search-landing-recs")
    assert stored is not None and guardrails.lifecycle(stored.effective, TODAY) == []
    # and a file reviewed recently says nothing
    code, _, err = cli("validate", str(write(tmp_path / "fresh.yaml", RECS)))
    assert code == 0 and "review" not in err
