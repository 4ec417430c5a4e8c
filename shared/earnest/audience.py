"""The documented library interface for audience conditions (SPEC 4, docs/conditions.md).

`earnest.audience.matches` and `compile_condition` stay importable here because users
build on them; the implementation lives in `earnest.conditions`.
"""

from earnest.conditions.compile import compile_condition, matches

__all__ = ["compile_condition", "matches"]
