"""One lock, two Pythons: requirements.lock pins the runtime for dev's 3.11 and Lambda's 3.12."""

from __future__ import annotations

import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from earnest_cli.template import ROOT
from infra.package import LAMBDA_PLATFORM, LAMBDA_PYTHON, closure, read_lock, target_environment

TARGETS = {
    "dev (3.11, x86_64)": target_environment("3.11", "manylinux2014_x86_64"),
    "Lambda (3.12, arm64)": target_environment(LAMBDA_PYTHON, LAMBDA_PLATFORM),
}
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_the_lock_is_universal_so_markers_say_where_each_pin_applies() -> None:
    header = (ROOT / "requirements.lock").read_text().splitlines()[1]
    assert "--universal" in header
    assert "--universal" in (ROOT / "Makefile").read_text()  # `make lock` keeps it so


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_every_runtime_dependency_has_exactly_one_pin_that_satisfies_it(target: str) -> None:
    env = TARGETS[target]
    requirements = [Requirement(r) for r in PROJECT["dependencies"]]
    pins = closure(read_lock(), [r.name for r in requirements], env)

    for requirement in requirements:
        matching = [p for p in pins if p.name == canonicalize_name(requirement.name)]
        assert len(matching) == 1, (target, requirement.name, matching)
        version = matching[0].text.split("==")[1].split()[0]
        assert requirement.specifier.contains(version), (target, requirement, version)
    names = [p.name for p in pins]
    assert len(names) == len(set(names)), f"{target}: two pins of one package apply"
