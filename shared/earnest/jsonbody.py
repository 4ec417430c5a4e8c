"""Reading a request body as JSON, the same strict way on every route.

Refused with a 400 naming the field: an empty body, invalid JSON, an object that repeats
a key (`{"purposes": {"personalization": "denied", "personalization": "granted"}}` must not
quietly mean granted), and values nested deeper than `MAX_DEPTH` (no Earnest payload
needs more; deeper ones only cost recursion further on).

Hot path (decide, /events): orjson parses, and the checks cost a few microseconds. A
repeated key: outside strings a body has one colon per key, and orjson's re-encoding of
the parsed value (which cannot repeat a key) has one per distinct key; inside strings both
hold the same colons unless the body escapes some (`\\u003a`), so the colon counts differ
exactly when a key repeats; a body with escapes has its strings removed first. Depth:
a value with fewer containers than `MAX_DEPTH` cannot nest deeper; others are walked level
by level. Only a body that fails does a slow pass name the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from earnest.errors import InvalidJson, InvalidRequest

MAX_DEPTH = 32

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')


def read_json(body: bytes, field: str = "body", max_depth: int = MAX_DEPTH) -> Any:
    """The parsed body; raises InvalidJson / InvalidRequest naming what to fix."""
    if not body.strip():
        raise InvalidJson("the body is empty; send a JSON document", field=field)
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidJson(f"the body is not valid JSON ({exc.msg})", field=field) from None
    if type(value) is not dict and type(value) is not list:
        return value
    try:
        compact: bytes | None = orjson.dumps(value)
    except orjson.JSONEncodeError:  # deeper than orjson writes (255 levels): too deep here
        compact = None
    if compact is None or (
        compact.count(b"[") + compact.count(b"{") > max_depth and _too_deep(value, max_depth)
    ):
        path = _deep_path(value, max_depth)
        raise InvalidRequest(f"{path} is nested deeper than {max_depth} levels", field=path)
    if b"\\" in body or b"\\" in compact:  # escapes: count colons outside strings only
        body_keys, keys = _STRING.sub(b"", body).count(b":"), _STRING.sub(b"", compact).count(b":")
    else:
        body_keys, keys = body.count(b":"), compact.count(b":")
    if body_keys != keys:
        key = _repeated_key(body)
        raise InvalidRequest(f"the key {key!r} appears twice in one object", field=key)
    return value


def _too_deep(value: Any, max_depth: int) -> bool:
    level = [value]
    for _ in range(max_depth):
        level = [
            child
            for container in level
            for child in (container.values() if type(container) is dict else container)
            if type(child) is dict or type(child) is list
        ]
        if not level:
            return False
    return True


def _repeated_key(body: bytes) -> str:
    import json  # only a body that repeats a key pays for the stdlib parser

    repeated: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, item in items:
            if key in out and not repeated:
                repeated.append(key)
            out[key] = item
        return out

    json.loads(body, object_pairs_hook=pairs)
    return repeated[0] if repeated else "body"


def _deep_path(value: Any, max_depth: int) -> str:
    """The field (object keys from the top) under which the value nests too deep."""
    names: list[str] = []
    depth = 0
    while isinstance(value, Mapping | list) and depth <= max_depth:
        children = list(value.items()) if isinstance(value, Mapping) else list(enumerate(value))
        deepest = max(children, key=lambda kv: _depth(kv[1], max_depth), default=None)
        if deepest is None:
            break
        if isinstance(value, Mapping) and len(names) == depth:
            names.append(str(deepest[0]))
        value, depth = deepest[1], depth + 1
    return ".".join(names) or "body"


def _depth(value: Any, cap: int) -> int:
    if cap <= 0 or not isinstance(value, Mapping | list):
        return 0
    children = value.values() if isinstance(value, Mapping) else value
    return 1 + max((_depth(c, cap - 1) for c in children), default=0)
