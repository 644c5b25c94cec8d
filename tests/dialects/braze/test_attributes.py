"""Braze attribute operations on a stored profile: pure, no database."""

from __future__ import annotations

import pytest

from apps.dialects.braze.attributes import BRAZE_ATTRIBUTES, attribute_problem, braze_attributes_apply
from apps.profiles.strategies import STRATEGIES, profile_properties_apply


def test_plain_values_replace_and_other_attributes_are_kept():
    assert braze_attributes_apply({"a": 1, "b": "x"}, {"a": 2, "c": [1]}) == {"a": 2, "b": "x", "c": [1]}


def test_null_removes_the_attribute():
    assert braze_attributes_apply({"a": 1, "b": 2}, {"a": None, "missing": None}) == {"b": 2}


def test_inc_adds_and_a_missing_attribute_counts_as_zero():
    assert braze_attributes_apply({"n": 5}, {"n": {"inc": 3}, "m": {"inc": -2}}) == {"n": 8, "m": -2}
    assert braze_attributes_apply(None, {"f": {"inc": 0.5}}) == {"f": 0.5}


def test_inc_on_a_value_that_is_not_a_number_starts_from_zero():
    assert braze_attributes_apply({"n": "five", "b": True}, {"n": {"inc": 1}, "b": {"inc": 1}}) == {"n": 1, "b": 1}


def test_add_and_remove_treat_the_array_as_a_set():
    stored = {"fruits": ["banana", "apple", "banana"], "nums": [1, True]}
    update = {"fruits": {"add": ["apple", "cherry"], "remove": ["banana"]}, "nums": {"remove": [True]}}
    assert braze_attributes_apply(stored, update) == {"fruits": ["apple", "cherry"], "nums": [1]}


def test_add_creates_the_array_and_remove_alone_leaves_a_missing_attribute_missing():
    assert braze_attributes_apply({}, {"tags": {"add": ["a", "a"]}, "gone": {"remove": ["x"]}}) == {"tags": ["a"]}


def test_add_on_a_scalar_replaces_it_by_a_set():
    assert braze_attributes_apply({"tags": "a"}, {"tags": {"add": ["b"]}}) == {"tags": ["b"]}


def test_nested_objects_replace_without_merge_objects():
    stored = {"o": {"x": 1, "y": 2}}
    assert braze_attributes_apply(stored, {"o": {"x": 9}}) == {"o": {"x": 9}}


def test_nested_objects_merge_in_depth_with_merge_objects_and_null_removes_inside():
    stored = {"o": {"x": 1, "y": 2, "deep": {"k": 1, "l": 2}}, "s": "kept"}
    update = {"o": {"x": 9, "y": None, "deep": {"l": 3}}}
    assert braze_attributes_apply(stored, update, merge_objects=True) == {
        "o": {"x": 9, "deep": {"k": 1, "l": 3}},
        "s": "kept",
    }


def test_the_stored_profile_is_not_mutated():
    stored = {"tags": ["a"], "o": {"x": 1}}
    braze_attributes_apply(stored, {"tags": {"add": ["b"]}, "o": {"y": 1}}, merge_objects=True)
    assert stored == {"tags": ["a"], "o": {"x": 1}}


def test_profile_strategies_dispatch_to_braze_attributes_but_do_not_offer_it_to_the_api():
    assert profile_properties_apply({"n": 1}, {"n": {"inc": 1}}, BRAZE_ATTRIBUTES) == {"n": 2}
    assert BRAZE_ATTRIBUTES not in STRATEGIES


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"inc": "1"}, "'n': 'inc' must be a number"),
        ({"inc": True}, "'n': 'inc' must be a number"),
        ({"add": "x"}, "'n': 'add' must be an array"),
        ({"remove": {"a": 1}}, "'n': 'remove' must be an array"),
        ({"inc": 2}, None),
        ({"add": [1], "remove": [2]}, None),
        ({"inc": 1, "other": 2}, None),  # not an operation: a nested object
        ("text", None),
        (None, None),
    ],
)
def test_attribute_problems(value, problem):
    assert attribute_problem("n", value) == problem
