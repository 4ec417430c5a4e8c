"""Request bodies are read one strict way on every route: a repeated key or absurd nesting
is a 400 naming the field, and every ordinary document reads exactly as orjson reads it."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from earnest.errors import InvalidJson, InvalidRequest
from earnest.jsonbody import MAX_DEPTH, read_json

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=6), JSON, max_size=5))
def test_a_document_without_repeated_keys_reads_as_orjson_reads_it(doc: dict[str, Any]) -> None:
    for body in (orjson.dumps(doc), orjson.dumps(doc, option=orjson.OPT_INDENT_2)):
        assert read_json(body) == doc


@given(st.text(max_size=6), JSON, JSON, st.dictionaries(st.text(max_size=6), JSON, max_size=3))
def test_an_object_that_repeats_a_key_is_always_refused_naming_it(
    key: str, first: Any, second: Any, rest: dict[str, Any]
) -> None:
    rest.pop(key, None)
    inner = orjson.dumps(rest)[1:-1]
    pair = orjson.dumps(key) + b":"
    body = (
        b'{"consent":{'
        + pair
        + orjson.dumps(first)
        + b", "
        + pair
        + orjson.dumps(second)
        + (b"," + inner if inner else b"")
        + b"}}"
    )
    with pytest.raises(InvalidRequest) as refused:
        read_json(body)
    assert refused.value.field == key


@pytest.mark.parametrize(
    "body",
    [
        b'{"purposes": {"personalization": "denied", "personalization": "granted"}}',
        b'{"a" : 1, "a":2}',  # spacing does not hide a repeat
        b'{"k\\u003a": 1, "k:": 2}',  # nor does an escaped colon
    ],
)
def test_a_repeat_hidden_by_spacing_or_escapes_is_still_refused(body: bytes) -> None:
    with pytest.raises(InvalidRequest, match="appears twice"):
        read_json(body)


def test_colons_inside_strings_are_not_keys() -> None:
    body = b'{"url": "https://shop.example:443/a:b", "j": "\\u003a", "q": "\\":"}'
    assert read_json(body) == {"url": "https://shop.example:443/a:b", "j": ":", "q": '":'}


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 500])
def test_a_value_nested_too_deep_is_refused_naming_its_field(depth: int) -> None:
    body = b'{"context": {"url": ' + b"[" * depth + b"]" * depth + b"}}"
    with pytest.raises(InvalidRequest) as refused:
        read_json(body)
    assert refused.value.field == "context.url"


def test_nesting_up_to_the_limit_is_read() -> None:
    depth = MAX_DEPTH - 2
    body = b'{"attributes": {"x": ' + b"[" * depth + b"]" * depth + b"}}"
    assert read_json(body)["attributes"]["x"] == read_json(b"[" * depth + b"]" * depth)


@pytest.mark.parametrize("body", [b"", b"  ", b"{", b"[1,]"])
def test_empty_or_broken_json_is_refused_as_such(body: bytes) -> None:
    with pytest.raises(InvalidJson):
        read_json(body)


def _depth(value: Any) -> int:
    children = value.values() if isinstance(value, dict) else value
    if not isinstance(value, dict | list):
        return 0
    return 1 + max((_depth(c) for c in children), default=0)


@given(
    st.integers(MAX_DEPTH - 2, MAX_DEPTH + 2),
    st.lists(st.sampled_from(["list", "dict", "sibling"]), min_size=40, max_size=40),
    st.sampled_from([[], {}, 7, "[{", {"k": None}]),
    st.text(max_size=3),
)
def test_a_document_is_refused_exactly_when_it_nests_deeper_than_the_limit(
    levels: int, shapes: list[str], innermost: Any, key: str
) -> None:
    value = innermost
    for shape in shapes[:levels]:  # wrap `levels` times, some with a scalar beside
        value = {key: value} if shape == "dict" else [value, 1] if shape == "sibling" else [value]
    doc = {"events": value}
    body = orjson.dumps(doc)

    if _depth(doc) > MAX_DEPTH:
        with pytest.raises(InvalidRequest) as refused:
            read_json(body)
        assert refused.value.field.startswith("events")
    else:
        assert read_json(body) == doc
