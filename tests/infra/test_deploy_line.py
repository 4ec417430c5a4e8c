"""The README's deploy line is the one that works: `make package`, then `sam deploy` with a
stage of infra/samconfig.toml (docs/deployment.md); never `sam build`, whose layer cannot
import the functions' dependencies."""

from __future__ import annotations

import re
import tomllib

from tests.conftest import ROOT


def deploy_commands() -> list[str]:
    section = (ROOT / "README.md").read_text().split("## Deploying", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert blocks, "the README's Deploying section shows its commands"
    return [line.split("#")[0].strip() for line in blocks[0].splitlines() if line.strip()]


def test_the_readme_deploys_with_make_package_then_sam_deploy() -> None:
    commands = deploy_commands()
    assert commands[0] == "make package"
    assert commands[-1].startswith("sam deploy ")
    assert not any(c.startswith("sam build") or "sam build &&" in c for c in commands)
    # the same commands as docs/deployment.md, each of which exists as written
    guide = (ROOT / "docs" / "deployment.md").read_text()
    for command in commands:
        assert command in guide, command
    assert re.search(r"^package:", (ROOT / "Makefile").read_text(), re.M)


def test_the_readme_deploy_reads_a_stage_the_config_holds() -> None:
    deploy = deploy_commands()[-1].split()
    config = ROOT / deploy[deploy.index("--config-file") + 1]
    stage = deploy[deploy.index("--config-env") + 1]
    stages = tomllib.loads(config.read_text())
    assert "stack_name" in stages[stage]["deploy"]["parameters"]
    scripts = [c.split()[1] for c in deploy_commands() if c.startswith(".venv/bin/python")]
    assert all((ROOT / s).is_file() for s in scripts)
