"""`earnest --version` and `earnest --help` start fast: they load the CLI's table of commands,
never a command's own module (pydantic, YAML, boto3). Counted in a fresh interpreter, as
modules rather than seconds, so a loaded machine cannot make the test flaky."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

BUDGET = 80  # modules beyond the interpreter's own start-up
HEAVY = ("yaml", "pydantic", "botocore", "boto3", "earnest", "earnest_aws", "orjson")


def _loaded(argv: list[str]) -> tuple[set[str], str]:
    """The modules `earnest ARGV` loads, and what it printed."""
    code = (
        "import contextlib, io, json, sys\n"
        "before = set(sys.modules)\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):\n"
        "    from earnest_cli.main import main\n"
        "    try:\n"
        f"        main({argv!r})\n"
        "    except SystemExit:\n"
        "        pass\n"
        "new = set(sys.modules) - before - {'contextlib', 'io', 'json'}\n"
        "print(json.dumps([sorted(new), out.getvalue()]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    modules, printed = json.loads(done.stdout)
    return set(modules), printed


@pytest.mark.parametrize("argv", [["--version"], ["--help"]])
def test_version_and_help_load_fewer_than_80_modules_and_nothing_heavy(argv: list[str]) -> None:
    modules, printed = _loaded(argv)
    assert sorted(m for m in modules if m.split(".")[0] in HEAVY) == []
    assert len(modules) < BUDGET, sorted(modules)
    assert printed.startswith("earnest 0.") or "usage: earnest" in printed


def test_help_lists_every_command_with_its_help_line() -> None:
    from earnest_cli.main import COMMANDS

    _, printed = _loaded(["--help"])
    for command in COMMANDS:
        assert f"    {command.name} " in printed, command.name


def test_a_command_loads_only_its_own_module() -> None:
    modules, printed = _loaded(["serve", "--help"])
    assert "earnest_cli.serve_cmd" in modules and "--api-port" in printed
    assert not {"earnest_cli.experiences_cmd", "earnest_cli.demo", "yaml"} & modules


def test_the_table_says_what_each_experience_command_registers_itself() -> None:
    """`earnest --help` shows the table's line; the command's own help, experiences_cmd's."""
    from earnest_cli import experiences_cmd
    from earnest_cli.arguments import Parser
    from earnest_cli.main import COMMANDS, EXPERIENCES

    registered = Parser(prog="earnest").add_subparsers()
    experiences_cmd.add_parsers(registered)
    said = {a.dest: a.help for a in registered._choices_actions}
    assert said == {c.name: c.help for c in COMMANDS if c.module == EXPERIENCES}
