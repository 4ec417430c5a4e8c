"""Helpers for tests of what is deployed: a function's environment as the template sets it,
and a cold start of a built handler in a clean interpreter (tests/builders/cold_start.py).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from earnest_cli.template import load_template
from infra.package import LAMBDA_PYTHON, find_python

COLD_START = Path(__file__).with_name("cold_start.py")
LAMBDA_RUNTIME_ENV = {  # what the Lambda runtime itself sets, credentials aside
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "LAMBDA_TASK_ROOT": "/var/task",
}


def physical_names(stage: str) -> dict[str, str]:
    """Logical id -> the name CloudFormation gives a named resource (or a stand-in)."""
    names: dict[str, str] = {}
    for logical_id, resource in load_template()["Resources"].items():
        props = resource.get("Properties", {})
        name = props.get("TableName") or props.get("FunctionName") or props.get("BucketName")
        names[logical_id] = (name or f"earnest-{logical_id.lower()}-{stage}").replace(
            "${Stage}", stage
        )
    return names


def function_environment(
    logical_id: str, overrides: dict[str, str] | None = None
) -> dict[str, str]:
    """The variables the template gives the function, parameters at their defaults.

    The template loader keeps a `!Ref`'s target and a `!Sub`'s string, so a value naming a
    parameter or resource resolves to its default or physical name, and `${X}` in a string
    to the same; an `!If` takes its branch (`AWS::NoValue`: the variable is not set).
    """
    template = load_template()
    params = {k: str(v.get("Default", "")) for k, v in template["Parameters"].items()}
    params.update(overrides or {})
    known = {**physical_names(params["Stage"]), **params}

    def resolve(value: Any) -> str:
        text = str(value)
        if text in known:
            return known[text]
        return re.sub(r"\$\{([A-Za-z0-9]+)\}", lambda m: known[m[1]], text)

    def holds(condition: str) -> bool:  # the template's conditions on variables are !Equals
        left, right = template["Conditions"][condition]
        return resolve(left) == resolve(right)

    variables = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    fn = template["Resources"][logical_id]["Properties"]
    variables.update(fn.get("Environment", {}).get("Variables", {}))
    out: dict[str, str] = {}
    for name, value in variables.items():
        if isinstance(value, list):  # !If [condition, then, else]
            value = value[1] if holds(value[0]) else value[2]
        if value != "AWS::NoValue":
            out[name] = resolve(value)
    return out


def lambda_python() -> str:
    """The Lambda runtime's Python (3.12) where this machine has it (on the PATH or pyenv's),
    else this one; the interpreter's own path (not a pyenv shim), so it runs with a bare env.
    """
    return find_python(LAMBDA_PYTHON) or sys.executable


def cold_start(
    python: str,
    paths: list[Path],
    env: dict[str, str],
    events: list[dict[str, Any]],
    tmp: Path,
) -> dict[str, Any]:
    """Import `app` from paths[0] in a fresh `python -I -S` (no site-packages at all) with
    only `env`, invoke its handler with each event; returns the answers and the modules
    loaded from each path.
    """
    result = tmp / "cold-start.json"
    spec = {"paths": [str(p) for p in paths], "events": events, "result": str(result)}
    (tmp / "spec.json").write_text(json.dumps(spec))
    done = subprocess.run(
        [python, "-I", "-S", str(COLD_START), str(tmp / "spec.json")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answer: dict[str, Any] = json.loads(result.read_text())
    return answer
