"""`earnest push` in-process against moto: nothing launches without passing the launch checks,
and one experience that fails them keeps the whole set from being written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from earnest_aws.experiences_store import ExperiencesStore
from earnest_cli.main import main
from tests.builders.experiences import experience


def test_an_experience_without_a_measurement_plan_stops_the_whole_push(
    aws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fine.yaml").write_text(yaml.safe_dump(experience(id="fine")))
    (tmp_path / "unplanned.yaml").write_text(
        yaml.safe_dump(experience(id="unplanned", measurement_plan=None))
    )

    code = main(["push", str(tmp_path)])

    err = capsys.readouterr().err
    assert code == 1
    assert "unplanned.yaml: unplanned: measurement_plan: [measurement_plan] required" in err
    assert "nothing was pushed" in err
    store = ExperiencesStore(aws.experiences_table)
    assert store.get("fine") is None and store.get("unplanned") is None
