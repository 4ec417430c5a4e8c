"""The guardrails as a catalog: every named guardrail Earnest enforces, where, and the proof.

The one source of truth for `earnest guardrails` (text and `--json`) and for
docs/guardrails.md, which is generated from it (`earnest guardrails --markdown`). Each
guardrail names the stages that enforce it, the code that does (`module:qualified.name`)
and the tests that attack it (pytest node ids). tests/unit/program/test_guardrails_catalog.py
resolves every piece of code by import, collects every test with pytest, fails when a
guardrail has neither, and fails when a launch check, a nightly rule or a decision reason
the product defines is in no guardrail. The entries are in `catalog_experiences` and
`catalog_visitors`, in the catalog's order; the record is `guardrail.Guardrail`.

Pure: stdlib only; it imports nothing it names (the checks do that).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from typing import Any

from earnest.program.catalog_experiences import EXPERIENCES
from earnest.program.catalog_visitors import VISITORS
from earnest.program.guardrail import SCHEMA, STAGES, Guardrail

__all__ = ["CATALOG", "SCHEMA", "STAGES", "Guardrail", "anchor", "as_json", "markdown", "text"]

CATALOG: tuple[Guardrail, ...] = (*EXPERIENCES, *VISITORS)


def stage_names(stages: Iterable[str]) -> str:
    return ", ".join(stages)


def source_of(ref: str) -> str:
    """The file in the repository that holds `ref` (`module:name`), from its module."""
    module = ref.split(":", 1)[0]
    root = "cli" if module.startswith("earnest_cli") else "shared"
    return f"{root}/{module.replace('.', '/')}.py"


def as_json(catalog: Sequence[Guardrail] = CATALOG) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "stages": dict(STAGES),
        "guardrails": [g.as_dict() for g in catalog],
    }


def _wrapped(label: str, items: Sequence[str]) -> list[str]:
    indent = " " * 4
    head = f"{indent}{label:<13}"
    lines = []
    for i, item in enumerate(items):
        lines.append((head if i == 0 else indent + " " * 13) + item)
    return lines or [head + "(none)"]


def text(catalog: Sequence[Guardrail] = CATALOG, width: int = 100) -> str:
    """The catalog as a person reads it in a terminal: each guardrail, its rule, its proof."""
    out = [
        f"{len(catalog)} guardrails, each enforced in code and attacked by tests "
        "(docs/guardrails.md; --json for all of it)",
        "",
    ]
    for n, g in enumerate(catalog, 1):
        out.append(f"{n:>2}. {g.name}  [{stage_names(g.stages)}]  ({g.id})")
        out += textwrap.wrap(g.rule, width, initial_indent="    ", subsequent_indent="    ")
        out += _wrapped("enforced by:", [r.replace(":", ".") for r in g.enforced_by])
        out += _wrapped("proved by:", list(g.tests))
        out.append("")
    return "\n".join(out)


def anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    kept = "".join(c for c in heading.lower() if c.isalnum() or c in " -_")
    return kept.strip().replace(" ", "-")


MARKDOWN_INTRO = """\
# Guardrails

<!-- Generated from shared/earnest/program/guardrails_catalog.py by
     `earnest guardrails --markdown > docs/guardrails.md`; do not edit by hand.
     tests/unit/program/test_guardrails_catalog.py fails when this file is out of date. -->

Every guardrail Earnest enforces, where it is enforced and the tests that attack it. The
list is one catalog in the code (`earnest.program.guardrails_catalog`); `earnest guardrails`
prints it (`--json` for a machine). The suite checks it stays true: every piece of code
named here is resolved by import, every test is collected by pytest, a guardrail with no
enforcing code or no test fails the build, and so does a launch check (`earnest validate`'s
`[check]`), a nightly rule (an audit entry's `rule`) or a decision reason that no guardrail
covers.

| stage | what it is |
|---|---|
{stages}
"""


def markdown(catalog: Sequence[Guardrail] = CATALOG) -> str:
    """docs/guardrails.md: the summary table, then each guardrail with its code and tests."""
    stages = "\n".join(f"| {name} | {what} |" for name, what in STAGES.items())
    out = [MARKDOWN_INTRO.format(stages=stages)]
    out += ["| # | guardrail | enforced at | code | tests |", "|---|---|---|---|---|"]
    headings = [f"{n}. {g.name}" for n, g in enumerate(catalog, 1)]
    for n, (g, heading) in enumerate(zip(catalog, headings, strict=True), 1):
        out.append(
            f"| {n} | [{g.name}](#{anchor(heading)}) | {stage_names(g.stages)} | "
            f"{len(g.enforced_by)} | {len(g.tests)} |"
        )
    for g, heading in zip(catalog, headings, strict=True):
        out += ["", f"## {heading}", "", g.rule, ""]
        line = f"`{g.id}` · enforced at: {stage_names(g.stages)} · documented in "
        line += f"[{g.docs}]({g.docs.removeprefix('docs/')})"
        if g.covers:
            line += f" · covers: {', '.join(f'`{c}`' for c in g.covers)}"
        out.append(line)
        out += ["", "Enforced by:", ""]
        out += [f"- [`{r.replace(':', '.')}`](../{source_of(r)})" for r in g.enforced_by]
        out += ["", "Proved by:", ""]
        out += [f"- `{t}`" for t in g.tests]
    return "\n".join(out) + "\n"
