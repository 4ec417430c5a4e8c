"""A function's IAM policy statements as template.yaml declares them (tests/infra).

A policy may stand under a template condition, written `!If [condition, policy,
!Ref AWS::NoValue]` (the template loader keeps it as that three-item list): its statements
count only when the condition is among those asked for.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any


def conditions_of(function: Mapping[str, Any]) -> set[str]:
    """Every condition a policy of the function stands under."""
    return {p[0] for p in function["Properties"].get("Policies", []) if isinstance(p, list)}


def statements(
    function: Mapping[str, Any], conditions: Collection[str] = ()
) -> list[dict[str, Any]]:
    """The statements in force with `conditions` true and every other condition false."""
    out: list[dict[str, Any]] = []
    for policy in function["Properties"].get("Policies", []):
        if isinstance(policy, list):
            condition, policy, _ = policy
            if condition not in conditions:
                continue
        out += policy.get("Statement", [])
    return out
