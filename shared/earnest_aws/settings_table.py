"""docs/settings.md's table, generated from the declarations in earnest_aws.settings.

`.venv/bin/python -m earnest_aws.settings_table --write docs/settings.md` rewrites the
table between its markers; tests/unit/test_settings.py fails when the doc and the
declarations disagree. Tooling only: no function imports it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from earnest_aws.settings import ALL, Setting, declared


def table(settings_: Iterable[Setting[Any]] | None = None) -> str:
    """The settings table of docs/settings.md, one row per declared setting."""
    rows = [
        "| setting | used by | default | accepts | meaning |",
        "|---|---|---|---|---|",
    ]
    for s in settings_ if settings_ is not None else declared():
        used = ", ".join(s.used_by) if s.used_by != ALL else "every function"
        rows.append(f"| `{s.name}` | {used} | {s.shown_default()} | {s.bounds()} | {s.meaning} |")
    return "\n".join(rows) + "\n"


BEGIN, END = "<!-- settings table: generated -->\n", "<!-- end of the generated table -->\n"


def with_table(doc: str) -> str:
    """`doc` with the text between the markers replaced by `table()`."""
    head, _, rest = doc.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}{table()}{END}{tail}"


def main(argv: list[str]) -> int:
    """Print the table, or with `--write FILE` rewrite it in FILE."""
    if argv[:1] == ["--write"] and len(argv) == 2:
        with open(argv[1], encoding="utf-8") as f:
            doc = f.read()
        with open(argv[1], "w", encoding="utf-8") as f:
            f.write(with_table(doc))
        return 0
    sys.stdout.write(table())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
