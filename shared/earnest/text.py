"""Small text formats every capability reads the same way (configuration lists).

Pure and tiny: decide's cold path may import it.
"""

from __future__ import annotations


def split_list(raw: str) -> tuple[str, ...]:
    """`a, b,,c` -> ("a", "b", "c"): a comma-separated setting, blanks dropped."""
    return tuple(part for part in (p.strip() for p in raw.split(",")) if part)
