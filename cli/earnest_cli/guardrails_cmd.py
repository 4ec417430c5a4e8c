"""`earnest guardrails`: every named guardrail, where it is enforced and the tests that prove it.

Prints the catalog (earnest.program.guardrails_catalog) as text, `--json` or `--markdown`
(docs/guardrails.md is that output). `--check` also resolves every piece of enforcing code
by import, so an auditor sees that each one exists in the installed code. Reads no AWS.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence

from earnest.program.guardrails_catalog import Guardrail


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Print every named guardrail with the stages that enforce it, the code that does "
        "and the tests that prove it (docs/guardrails.md). Reads no AWS."
    )
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="print one JSON document")
    form.add_argument(
        "--markdown", action="store_true", help="print docs/guardrails.md as it is generated"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="also import every piece of enforcing code; exit 1 naming any that is missing",
    )


def resolve(ref: str) -> object:
    """The object `module:qualified.name` names; LookupError naming what is missing."""
    module_name, _, qualname = ref.partition(":")
    if not qualname:
        raise LookupError(f"{ref}: not module:name")
    try:
        found: object = importlib.import_module(module_name)
    except ImportError as exc:
        raise LookupError(f"{ref}: module {module_name} cannot be imported ({exc})") from None
    for part in qualname.split("."):
        if not hasattr(found, part):
            raise LookupError(f"{ref}: {module_name} has no {qualname}")
        found = getattr(found, part)
    return found


def problems(catalog: Sequence[Guardrail]) -> list[str]:
    """What makes the catalog untrue: a guardrail without code or tests, code that is gone."""
    out: list[str] = []
    for g in catalog:
        if not g.enforced_by:
            out.append(f"{g.id}: no enforcing code")
        if not g.tests:
            out.append(f"{g.id}: no test")
        for ref in g.enforced_by:
            try:
                resolve(ref)
            except LookupError as exc:
                out.append(f"{g.id}: {exc}")
    return out


def run(args: argparse.Namespace) -> int:
    from earnest.program import guardrails_catalog as catalog

    if args.json:
        print(json.dumps(catalog.as_json(), indent=2))
    elif args.markdown:
        sys.stdout.write(catalog.markdown())
    else:
        print(catalog.text())
    if not args.check:
        return 0
    found = problems(catalog.CATALOG)
    for problem in found:
        print(f"earnest guardrails: {problem}", file=sys.stderr)
    if found:
        return 1
    refs = sum(len(g.enforced_by) for g in catalog.CATALOG)
    print(f"checked: all {refs} pieces of enforcing code exist", file=sys.stderr)
    return 0
