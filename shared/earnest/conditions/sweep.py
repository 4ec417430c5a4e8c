"""Many audience conditions over one document in one generated call: decide's page of placements.

Each path is read once for all of them, each type guard of a read evaluated once, and each
condition made only of plain leaves (no $and, $or, $nor, $not) becomes one expression: the
same leaf tests as its compiled conjunction (`earnest.conditions.compile`), in the same
order. The others are left to their own predicate (None).

Only the stdlib is imported: this module is on decide's hot path. It must not import
boto3, pydantic or any adapter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from earnest.conditions.compile import Groups, _compile_value, _fast_form, _getter, matches
from earnest.conditions.operators import SavedGroups

Sweep = Callable[[Any], list[bool | None]]  # many conditions over one document at once


def compile_sweep(conditions: Sequence[Any], saved_groups: SavedGroups | None = None) -> Sweep:
    """A function of a document giving, per condition, whether it matches (None for a
    condition with logical operators: call its predicate). Never raises when called."""
    writer = _SweepWriter({str(k): list(v) for k, v in (saved_groups or {}).items()})
    terms = [writer.term(j, c) if sweeps(c) else ("None", "None") for j, c in enumerate(conditions)]
    pairs = list(zip(conditions, terms, strict=True))  # not a document: off the hot path
    writer.namespace["one_by_one"] = lambda obj: [
        None if t == ("None", "None") else matches(c, obj, saved_groups) for c, t in pairs
    ]
    head = ["def sweep(obj):", "    if type(obj) is not dict:", "        return one_by_one(obj)"]
    # When every value has the type its inline test expects (the usual request), the
    # terms skip their guards; otherwise each guard picks the inline test or the general.
    usual = " and ".join(writer.guards.values()) or "True"
    body = "\n".join(
        [*head, *writer.lines, f"    if {usual}:", "        return ["]
        + [f"            {fast}," for fast, _ in terms]
        + ["        ]", "    return ["]
        + [f"        {guarded}," for _, guarded in terms]
        + ["    ]"]
    )
    exec(compile(body, "<audience sweep>", "exec"), writer.namespace)
    sweep: Sweep = writer.namespace["sweep"]
    return sweep


class _SweepWriter:
    """The sweep's lines: one read per path, one guard per read and type, one term each."""

    def __init__(self, groups: Groups) -> None:
        self.groups = groups
        self.namespace: dict[str, Any] = {}
        self.lines: list[str] = []
        self.reads: dict[str, str] = {}  # path -> the local holding its value
        self.firsts: dict[str, str] = {}  # first step of a two-step path -> its local
        self.guards: dict[tuple[str, str], str] = {}  # (read, guard) -> its truth's local

    def read(self, path: str) -> str:
        if path in self.reads:
            return self.reads[path]
        name = self.reads[path] = f"r{len(self.reads)}"
        keys = path.split(".")
        self.namespace[f"get_{name}"] = _getter(path)
        self.namespace[f"k_{name}"] = keys[-1]
        if len(keys) == 1:
            self.lines.append(f"    {name} = obj.get(k_{name})")
        elif len(keys) == 2:
            if keys[0] not in self.firsts:
                first = self.firsts[keys[0]] = f"f{len(self.firsts)}"
                self.namespace[f"k_{first}"] = keys[0]
                self.lines.append(f"    {first} = obj.get(k_{first})")
            first = self.firsts[keys[0]]
            self.lines.append(
                f"    {name} = {first}.get(k_{name}) if type({first}) is dict else get_{name}(obj)"
            )
        else:
            self.lines.append(f"    {name} = get_{name}(obj)")
        return name

    def guarded(self, v: str, guard: str) -> str:
        if (v, guard) not in self.guards:
            name = self.guards[v, guard] = f"g{len(self.guards)}"
            self.lines.append(f"    {name} = {guard.replace('(v)', f'({v})')}")
        return self.guards[v, guard]

    def term(self, j: int, condition: Mapping[str, Any]) -> tuple[str, str]:
        """The condition's expression, with every guard known true, and with its guards."""
        fast, tests = [], []
        for i, (path, expected) in enumerate(condition.items()):
            v, name = self.read(path), f"{j}_{i}"
            self.namespace[f"t{name}"] = _compile_value(expected, self.groups)
            form = _fast_form(expected)
            if form is None:
                fast.append(f"t{name}({v})")
                tests.append(f"t{name}({v})")
                continue
            guard, compare, self.namespace[f"e{name}"] = form
            inline = compare.format(e=f"e{name}").replace("v ", f"{v} ", 1)
            fast.append(f"({inline})")
            tests.append(f"(({inline}) if {self.guarded(v, guard)} else t{name}({v}))")
        return " and ".join(fast) or "True", " and ".join(tests) or "True"


def sweeps(condition: Any) -> bool:
    """Whether `compile_sweep` evaluates the condition itself: plain leaves only."""
    return isinstance(condition, dict) and not any(k in _LOGICAL for k in condition)


_LOGICAL = frozenset({"$and", "$or", "$nor", "$not"})
