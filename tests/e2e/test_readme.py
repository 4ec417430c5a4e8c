"""The README's "Using it" commands, run as written against a local stack of their own.

Only what a reader cannot paste is adapted: the port in the export line (the stack runs on
free ports) and `earnest demo`, which starts its own stack (tests/e2e/test_demo.py). No
AWS credentials are set: the CLI finds the local stack's own from AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from earnest.experiences import retirement
from earnest_cli import files
from tests.builders.stack import Stack
from tests.conftest import EXAMPLES, ROOT


def using_it_commands() -> tuple[str, list[str]]:
    section = (ROOT / "README.md").read_text().split("## Using it", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    lines = [line for line in blocks[1].splitlines() if line.strip()]
    assert lines[0].startswith("export AWS_ENDPOINT_URL=")
    assert "source .venv/bin/activate" in blocks[0] and "earnest serve" in blocks[0]
    return lines[0], lines[1:]


@pytest.mark.slow
@pytest.mark.clock
def test_the_readme_commands_work_as_written(own_stack: Stack, tmp_path: Path) -> None:
    export, commands = using_it_commands()
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    export = export.split("#")[0].replace("http://127.0.0.1:5000", own_stack.aws_url)
    ran = []
    warned: dict[str, str] = {}
    for command in commands:
        if command.startswith("earnest demo"):
            continue
        result = subprocess.run(
            ["bash", "-c", f"source {ROOT}/.venv/bin/activate && {export} && {command}"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        expected = 1 if "(exit 1" in command else 0
        assert result.returncode == expected, f"{command}\n{result.stdout}\n{result.stderr}"
        assert "Traceback" not in result.stderr, command
        ran.append((command.split("#")[0].strip(), result.stdout))
        warned[command.split("#")[0].strip()] = result.stderr
    outputs = dict(ran)
    authored = [
        p for p in (ROOT / "examples" / "experiences").glob("*.yaml") if p.name != "groups.yaml"
    ]
    said = f"ok: {len(authored)} experience(s)"
    assert said in outputs["earnest validate examples/experiences"]
    assert "created -> version 1" in outputs["earnest push examples/experiences"]
    assert (
        "dach-mobile-hero (examples/experiences/home-hero-dach-mobile.yaml): unchanged"
        in outputs["earnest diff examples/experiences"]
    )
    explained = next(out for cmd, out in ran if cmd.startswith("earnest explain"))
    assert "home-hero:" in explained and "dach-mobile-hero" in explained
    history = outputs["earnest history dach-mobile-hero"]
    assert "pause_variant" in history and "resume" in history and "CDN fixed" in history
    # Every review the examples are due today (whatever today is) is warned of by validate and
    # push, and the README's `earnest review` records the one it names: nothing it shows is
    # retired for a review nobody was told of.
    due = [
        notice
        for _, doc in files.load([EXAMPLES]).experiences
        for notice in retirement.notices(doc, datetime.now(UTC).date())
    ]
    for command in ("earnest validate examples/experiences", "earnest push examples/experiences"):
        assert all(f"warning: {notice}" in warned[command] for notice in due), command
    assert "review (authored)" in history and "still right for DACH mobile" in history
    reviewed = f"reviewed {datetime.now(UTC).date().isoformat()}"
    assert reviewed in outputs[next(c for c in outputs if c.startswith("earnest review"))]
    assert (tmp_path / ".earnest" / "pulled").is_dir()
