"""The edge worker's configuration tells one story: wrangler.toml is set up for the stack
infra/samconfig.toml deploys, and every binding the worker reads is in its README's table
(and nothing else is)."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest

from earnest_cli.template import ROOT
from tests.builders.edge_bindings import WORKER, bindings_documented

AUTH_BY_FRONT_DOOR = {"cloudfront": "sigv4", "header": "header"}


def wrangler_vars() -> dict[str, str]:
    config: dict[str, Any] = tomllib.loads((WORKER / "wrangler.toml").read_text())
    return dict(config["vars"])


def stage_parameters(stage: str) -> dict[str, str]:
    config = tomllib.loads((ROOT / "infra" / "samconfig.toml").read_text())
    overrides = config[stage]["deploy"]["parameters"]["parameter_overrides"]
    params = dict(item.split("=", 1) for item in overrides)
    params["region"] = config[stage]["global"]["parameters"]["region"]
    return params


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_wrangler_toml_is_set_up_for_the_stack_samconfig_deploys(stage: str) -> None:
    worker, stack = wrangler_vars(), stage_parameters(stage)
    assert worker["AWS_REGION"] == stack["region"]
    assert worker["EARNEST_AUTH"] == AUTH_BY_FRONT_DOOR[stack["FrontDoor"]]


def bindings_read() -> set[str]:
    """What the worker's adapters and core read from their bindings."""
    names: set[str] = set()
    sources = [WORKER / "src" / n for n in ("core.js", "worker.js", "cloudfront.js")]
    for path in [*sources, *sorted((WORKER / "src" / "engine").glob("*.js"))]:
        source = path.read_text()
        names |= set(re.findall(r"\benv\.([A-Z][A-Z0-9_]+)", source))
        names |= set(re.findall(r'\(env, "([A-Z][A-Z0-9_]+)"', source))
    return names


def test_every_binding_the_worker_reads_is_documented_and_every_var_is_read() -> None:
    read = bindings_read()
    assert read == bindings_documented()
    assert set(wrangler_vars()) <= read
