"""Audience conditions: JavaScript's value semantics, as GrowthBook's reference applies them.

GrowthBook's `evalCondition` is JavaScript; these reproduce the few coercions its
conformance cases pin (`"5"` equals `5` in a plain comparison, a missing attribute is
`null`). Stdlib only: on decide's hot path.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, TypeVar

from earnest.conditions.limits import MAX_VALUE_DEPTH

_T = TypeVar("_T")


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def js_number(value: Any) -> float:
    """JavaScript's ToNumber for JSON values."""
    to_number = _TO_NUMBER.get(type(value)) or _by_class(_TO_NUMBER, value, _not_a_number)
    return to_number(value)


def js_string(value: Any, depth: int = 0) -> str:
    """JavaScript's String() for JSON values; lists nested past MAX_VALUE_DEPTH read as ""."""
    to_string = _TO_STRING.get(type(value)) or _by_class(_TO_STRING, value, _object_string)
    return to_string(value, depth)


def _by_class(table: dict[type, _T], value: Any, otherwise: _T) -> _T:
    """The conversion for a value whose type is no JSON type's own: the first class it is
    an instance of, in the table's order (a subclass converts as its JSON type does)."""
    return next((f for cls, f in table.items() if isinstance(value, cls)), otherwise)


def _not_a_number(_: Any) -> float:
    return math.nan


def _number_from_text(value: str) -> float:
    text = value.strip()
    if not text:
        return 0.0
    try:
        if text[:2].lower() in ("0x", "0o", "0b"):
            return float(int(text, 0))
        if text.lstrip("+-") == "Infinity":
            return -math.inf if text[0] == "-" else math.inf
        if text.lower().lstrip("+-") in ("inf", "infinity", "nan"):
            return math.nan  # Python spellings JavaScript does not accept
        return float(text)
    except ValueError:
        return math.nan


_TO_NUMBER: dict[type, Callable[[Any], float]] = {
    type(None): lambda _: 0.0,
    bool: float,  # false is 0, true is 1
    int: float,
    float: float,
    list: lambda value: js_number(js_string(value)),
    str: _number_from_text,
}


def _float_string(value: float, _depth: int) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def _list_string(value: list[Any], depth: int) -> str:
    if depth >= MAX_VALUE_DEPTH:
        return ""
    return ",".join("" if v is None else js_string(v, depth + 1) for v in value)


def _object_string(_value: Any, _depth: int) -> str:
    return "[object Object]"


_TO_STRING: dict[type, Callable[[Any, int], str]] = {
    str: lambda value, _depth: value,
    type(None): lambda _value, _depth: "null",
    bool: lambda value, _depth: "true" if value else "false",
    int: lambda value, _depth: str(value),
    float: _float_string,
    list: _list_string,
}


def js_truthy(value: Any) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return False
    return value is not None and value is not False and value != 0 and value != ""


def js_strict_equal(a: Any, b: Any) -> bool:
    """`===`: no coercion; objects and arrays are equal only to themselves."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if is_number(a) and is_number(b):
        return bool(a == b)
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if a is None or b is None:
        return a is b
    return a is b


def _primitive(value: Any) -> Any:
    return js_string(value) if isinstance(value, list | dict) else value


def js_compare(a: Any, b: Any) -> float | None:
    """The sign of `a - b` under JavaScript's relational rules; None when incomparable."""
    a, b = _primitive(a), _primitive(b)
    if isinstance(a, str) and isinstance(b, str):
        return (a > b) - (a < b)
    x, y = js_number(a), js_number(b)
    if math.isnan(x) or math.isnan(y):
        return None
    return (x > y) - (x < y)


def canonical(value: Any, depth: int = 0) -> str:
    """JSON.stringify, enough to compare documents: integral floats print as integers.

    Past MAX_VALUE_DEPTH a document reads as a text no condition value can equal.
    """
    if isinstance(value, dict | list) and depth >= MAX_VALUE_DEPTH:
        return "\x00too deep"
    if isinstance(value, dict):
        inner = (f"{canonical(k)}:{canonical(v, depth + 1)}" for k, v in value.items())
        return "{" + ",".join(inner) + "}"
    if isinstance(value, list):
        return "[" + ",".join(canonical(v, depth + 1) for v in value) + "]"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return "null"
    return js_string(value)


def type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


_VERSION_STRIP = re.compile(r"(^v|\+.*$)")
_VERSION_SPLIT = re.compile(r"[-.]")


def padded_version(value: Any) -> str:
    """A version string that sorts correctly as text (GrowthBook's paddedVersionString)."""
    if is_number(value):
        value = js_string(value)
    if not value or not isinstance(value, str):
        value = "0"
    parts = _VERSION_SPLIT.split(_VERSION_STRIP.sub("", value))
    if len(parts) == 3:
        parts.append("~")  # a release sorts after its pre-releases
    return "-".join(p.rjust(5) if p.isdigit() and p.isascii() else p for p in parts)
