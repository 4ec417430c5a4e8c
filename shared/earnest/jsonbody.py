"""Reading a request body as JSON, the same strict way on every route.

Refused with a 400 naming the field: an empty body, invalid JSON, an object that repeats
a key (`{"purposes": {"personalization": "denied", "personalization": "granted"}}` must not
quietly mean granted), and values nested deeper than `MAX_DEPTH` (no Earnest payload
needs more; deeper ones only cost recursion further on).

Hot path (decide, /events): orjson parses once, then re-encodes the value once, indented,
and both checks read that text at C speed. A repeated key: outside strings a body has one
colon per key, and the re-encoding (which cannot repeat a key) has one per distinct key;
inside strings both hold the same colons unless the body escapes some (`\\u003a`), so the
colon counts differ exactly when a key repeats; a body with escapes has its strings removed
first. Depth: indented two spaces a level, a container nested `MAX_DEPTH` levels down
starts a line `2 * MAX_DEPTH` spaces in, and its contents are further in still (strings
hold no raw newline), so a search for that margin finds exactly the bodies too deep. Only
a body that fails does a slow pass name the field.
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
        text: bytes | None = orjson.dumps(value, option=orjson.OPT_INDENT_2)
    except orjson.JSONEncodeError:  # deeper than orjson writes (255 levels): too deep here
        text = None
    if text is None or _too_deep(text, max_depth):
        path = _deep_path(value, max_depth)
        raise InvalidRequest(f"{path} is nested deeper than {max_depth} levels", field=path)
    if b"\\" in body or b"\\" in text:  # escapes: count colons outside strings only
        body_keys, keys = _STRING.sub(b"", body).count(b":"), _STRING.sub(b"", text).count(b":")
    else:
        body_keys, keys = body.count(b":"), text.count(b":")
    if body_keys != keys:
        key = _repeated_key(body)
        raise InvalidRequest(f"the key {key!r} appears twice in one object", field=key)
    return value


def _too_deep(indented: bytes, max_depth: int) -> bool:
    """Whether a container sits `max_depth` levels below the top of the value indented
    (OPT_INDENT_2) in `indented`: a line starts further in than its margin (the contents of
    one), or at its margin with an empty one (`[]`, `{}`, or a key's)."""
    margin = b"\n" + b" " * (2 * max_depth)
    at = indented.find(margin)
    while at != -1:
        start = at + len(margin)
        end = indented.find(b"\n", start)
        line = indented[start : None if end == -1 else end].rstrip(b",")
        if line.startswith(b" ") or _EMPTY.fullmatch(line):
            return True
        at = indented.find(margin, start)
    return False


_EMPTY = re.compile(rb'(?:"[^"\\]*(?:\\.[^"\\]*)*": )?(?:\[\]|\{\})')


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
