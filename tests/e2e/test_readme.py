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
from pathlib import Path

from tests.builders.stack import Stack
from tests.conftest import ROOT


def using_it_commands() -> tuple[str, list[str]]:
    section = (ROOT / "README.md").read_text().split("## Using it", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    lines = [line for line in blocks[1].splitlines() if line.strip()]
    assert lines[0].startswith("export AWS_ENDPOINT_URL=")
    assert "source .venv/bin/activate" in blocks[0] and "earnest serve" in blocks[0]
    return lines[0], lines[1:]


def test_the_readme_commands_work_as_written(own_stack: Stack, tmp_path: Path) -> None:
    export, commands = using_it_commands()
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    export = export.split("#")[0].replace("http://127.0.0.1:5000", own_stack.aws_url)
    ran = []
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
    outputs = dict(ran)
    assert "ok: 6 experience(s)" in outputs["earnest validate examples/experiences"]
    assert "created -> version 1" in outputs["earnest push examples/experiences"]
    assert (
        "dach-mobile-hero (examples/experiences/home-hero-dach-mobile.yaml): unchanged"
        in outputs["earnest diff examples/experiences"]
    )
    explained = next(out for cmd, out in ran if cmd.startswith("earnest explain"))
    assert "home-hero:" in explained and "dach-mobile-hero" in explained
    history = outputs["earnest history dach-mobile-hero"]
    assert "pause_variant" in history and "resume" in history and "CDN fixed" in history
    assert (tmp_path / ".earnest" / "pulled").is_dir()
