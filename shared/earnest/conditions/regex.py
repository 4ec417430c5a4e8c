"""`$regex` in linear time: RE2, so no pattern an author writes can stall a decision.

Python's `re` backtracks (`^(a+)+$` on 30 characters took 25 s in issue 12); RE2 runs in
time linear in the input and refuses what needs backtracking (backreferences,
lookarounds), which `earnest validate` reports. `re2` is imported on first use, so
decide pays for it only when a live audience has a regex. Each search reads at most
`MAX_REGEX_INPUT` characters of the value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from earnest.conditions.limits import MAX_PATTERN_LENGTH, MAX_REGEX_INPUT


class PatternError(ValueError):
    """A pattern the linear-time engine cannot run; the message says why."""


def compile_pattern(pattern: str, ignore_case: bool) -> Callable[[str], bool]:
    """A search of the first `MAX_REGEX_INPUT` characters of a text; PatternError if invalid."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise PatternError(f"a pattern is at most {MAX_PATTERN_LENGTH} characters")
    import re2  # type: ignore[import-untyped]  # lazily: only audiences with a regex need it

    options = re2.Options()
    options.log_errors = False  # the error comes back as the exception, not on stderr
    options.case_sensitive = not ignore_case
    try:
        compiled: Any = re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise PatternError(f"not a pattern the linear-time engine runs: {reason}") from None
    search = compiled.search

    def found(text: str) -> bool:
        return search(text[:MAX_REGEX_INPUT]) is not None

    return found
