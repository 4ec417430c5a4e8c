"""The edge worker's bindings as its README's table documents them: the one list the docs
tests read (the worker's settings are not the functions' settings)."""

from __future__ import annotations

import re

from earnest_cli.template import ROOT

WORKER = ROOT / "clients" / "edge-worker"


def bindings_documented() -> set[str]:
    readme = (WORKER / "README.md").read_text()
    table = readme.split("## Bindings", 1)[1].split("\n## ", 1)[0]
    return {
        n
        for row in re.findall(r"^\| (.+?) \|", table, re.M)
        for n in re.findall(r"`([A-Z][A-Z0-9_]+)`", row)
    }
