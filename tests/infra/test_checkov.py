"""checkov on template.yaml: no failed check that is not suppressed with a written reason."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from earnest_cli.template import ROOT


def run_checkov(tmp_path: Path) -> dict[str, Any]:
    checkov = Path(sys.executable).parent / "checkov"
    template = str(ROOT / "template.yaml")
    done = subprocess.run(
        [
            str(checkov),
            "-f",
            template,
            "--framework",
            "cloudformation",
            "--skip-download",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # checkov writes nothing, but keep it out of the tree if it ever does
        timeout=300,
    )
    assert done.stdout, done.stderr[-2000:]
    report: dict[str, Any] = json.loads(done.stdout)
    return report


@pytest.mark.slow
def test_no_check_fails_and_every_suppression_says_why(tmp_path: Path) -> None:
    report = run_checkov(tmp_path)

    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert failed == []
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] > 0  # it read the template's resources
    for check in report["results"]["skipped_checks"]:
        reason = check.get("check_result", {}).get("suppress_comment", "")
        assert len(reason.split()) >= 8, (check["check_id"], check["resource"], reason)
