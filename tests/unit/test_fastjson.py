"""apps/core/fastjson.py reads and measures what the standard library does, only faster."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.core import fastjson
from apps.core.validation import json_problem

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=30,
)


@given(json_values)
def test_parse_gives_what_the_standard_library_gives(value):
    raw = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    try:
        expected = json.loads(raw)
    except ValueError:  # a lone surrogate hypothesis put in a string: the standard library refuses it too
        with pytest.raises(ValueError):
            fastjson.parse(raw)
        return
    parsed, may_have_problem = fastjson.parse(raw)
    assert parsed == expected
    assert json.dumps(parsed, sort_keys=True) == json.dumps(expected, sort_keys=True)  # ints stay ints
    if json_problem(parsed) is not None:
        assert may_have_problem


@pytest.mark.parametrize(
    "raw",
    [
        b"123456789012345678901234567890",  # orjson would read a float
        b"-9223372036854775809",
        b'\xef\xbb\xbf{"a": 1}',  # a UTF-8 BOM
        '{"a": 1}'.encode("utf-16"),
        b'"\\ud800"',  # a lone surrogate: read, for the caller to refuse with its own message
    ],
)
def test_what_orjson_reads_otherwise_goes_to_the_standard_library(raw):
    parsed, may_have_problem = fastjson.parse(raw)
    assert parsed == json.loads(raw)
    assert may_have_problem


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"NaN", "NaN is not a JSON value"),
        (b"[-Infinity]", "-Infinity is not a JSON value"),
        (b"{", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        (b"", "Expecting value: line 1 column 1 (char 0)"),
        (b"[1,]", "Expecting value: line 1 column 4 (char 3)"),
    ],
)
def test_refusals_keep_the_standard_librarys_message(raw, message):
    with pytest.raises(ValueError) as refused:
        fastjson.parse(raw)
    assert str(refused.value) == message


def test_a_nul_escape_or_a_deep_document_is_flagged_for_the_walk():
    assert fastjson.parse(b'{"a": "x\\u0000"}')[1]
    deep = json.dumps(json.loads("[" * 65 + "]" * 65)).encode()
    assert fastjson.parse(deep)[1]
    assert json_problem(fastjson.parse(deep)[0]) is not None
    shallow_but_many = json.dumps({"batch": [{"a": [1]} for _ in range(100)]}).encode()
    assert not fastjson.parse(shallow_but_many)[1]


@pytest.mark.parametrize("depth", [1, 2, 63, 64, 65, 80])
def test_nests_deeper_than_counts_as_json_problem_does(depth):
    value = json.loads("[" * (depth - 1) + '{"k": 1}' + "]" * (depth - 1))
    for raw in (json.dumps(value).encode(), fastjson.dumps(value).encode()):
        assert fastjson.nests_deeper_than(raw, 64) == (json_problem(value) is not None)


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


# Strings made of what could fool a reading of the text: brackets, quotes and backslashes, escaped or not.
tricky_text = st.text(alphabet='{}[]"\\/ :,ab\n\t\u00e9', max_size=8)
tricky_values = st.recursive(
    st.none() | st.integers() | tricky_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(tricky_text, children, max_size=3),
    max_leaves=25,
)


@given(tricky_values, st.integers(min_value=0, max_value=8), st.booleans())
def test_nests_deeper_than_reads_the_depth_whatever_the_strings_hold(value, max_depth, ascii_only):
    raw = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert fastjson.nests_deeper_than(raw, max_depth) == (_depth(value) > max_depth)
    assert fastjson.nests_deeper_than(fastjson.dumps(value).encode(), max_depth) == (_depth(value) > max_depth)


def test_dumps_and_size_handle_integers_beyond_64_bits():
    value = {"big": 2**70, "text": "é"}
    assert json.loads(fastjson.dumps(value)) == value
    assert fastjson.size(value) == len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
    assert fastjson.size({"text": "é", "n": 1}) == len('{"text":"é","n":1}'.encode())
