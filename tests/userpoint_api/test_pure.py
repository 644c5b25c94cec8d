"""The pure parts, without a database: the filter syntax, parameters, and properties of the strategies."""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.activities.activity_filters import Condition, FilterInvalid, filter_matches, filters_parse
from apps.profiles.strategies import (
    FORCE_REPLACE,
    PARTIAL_DELETE,
    PARTIAL_UPDATE,
    profile_properties_apply,
)
from apps.userpoints.params import ParamInvalid, id_param, ts_ms_parse
from apps.userpoints.selector_syntax import selector_parse


def test_filters_parse_and_precedence():
    parsed = filters_parse("$type==SITE_VISIT,$channel_id==12|$channel_id==13")
    assert parsed == (
        (Condition("$type", "SITE_VISIT"),),
        (Condition("$channel_id", "12"), Condition("$channel_id", "13")),
    )
    assert filters_parse("") == ()
    assert filters_parse(None) == ()
    assert filters_parse(r"$x==a\,b") == ((Condition("$x", "a,b"),),)
    assert filters_parse("$x!=1") == ((Condition("$x", "1", negated=True),),)


@pytest.mark.parametrize("text", ["$type", "==x", "$a==1,", "$a==1||$b==2", "bad name==1", "$a==1\\"])
def test_filters_invalid(text):
    with pytest.raises(FilterInvalid):
        filters_parse(text)


def test_filter_matches_compares_as_text_and_null_means_missing():
    activity = {"$type": "SITE_VISIT", "$channel_id": 12, "flag": True}
    assert filter_matches(filters_parse("$channel_id==12"), activity)
    assert filter_matches(filters_parse("$channel_id==12"), {"$channel_id": "12"})
    assert filter_matches(filters_parse("flag==true"), activity)
    assert filter_matches(filters_parse("$site_id==null"), activity)
    assert not filter_matches(filters_parse("$type==SITE_VISIT,$channel_id==13"), activity)
    assert filter_matches(filters_parse("$type==APP_VISIT|$channel_id==12"), activity)
    assert filter_matches(filters_parse("$site_id!=4"), activity)


def test_params():
    assert ts_ms_parse(1700000000000, "t") == 1700000000000
    assert ts_ms_parse("1700000000000", "t") == 1700000000000
    assert ts_ms_parse("2023-11-14T22:13:20Z", "t") == 1700000000000
    assert ts_ms_parse("2023-11-14T23:13:20+01:00", "t") == 1700000000000
    assert ts_ms_parse("2023-11-14T22:13:20", "t") == 1700000000000
    for bad in (True, None, "soon", 1.5, [1]):
        with pytest.raises(ParamInvalid):
            ts_ms_parse(bad, "t")
    assert id_param("12", "p") == 12
    assert id_param(12, "p") == 12
    for bad in ("x", True, -1, "1.5"):
        with pytest.raises(ParamInvalid):
            id_param(bad, "p")


@pytest.mark.parametrize(
    ("text", "compartment", "account"),
    [
        ("compartment_id=7,user_account_id=a,b", 7, "a,b"),
        ("compartment_id=7/user_account_id=a,b", 7, "a,b"),
        ("compartment_id=7,user_account_id=a/b", 7, "a/b"),
    ],
)
def test_account_ids_holding_separators(text, compartment, account):
    selector = selector_parse(text)
    assert (selector.compartment_id, selector.value) == (compartment, account)


# --- properties of the update strategies (spec 1.5) -----------------------------------------------------------
keys = st.sampled_from(["a", "b", "c", "o", "k"])
scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=3)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3), max_leaves=6
)
objects = st.dictionaries(keys, values, max_size=5)
# The machine running CI is shared: no deadline, and no health check on generation speed.
quick = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@quick
@given(objects, objects)
def test_force_replace_gives_exactly_the_body(stored, body):
    assert profile_properties_apply(stored, body, FORCE_REPLACE) == body


@quick
@given(objects, objects, st.booleans())
def test_partial_update_twice_equals_once(stored, body, merge):
    once = profile_properties_apply(stored, body, PARTIAL_UPDATE, merge)
    assert profile_properties_apply(once, body, PARTIAL_UPDATE, merge) == once


@quick
@given(objects, objects, st.booleans())
def test_partial_update_keeps_unnamed_keys_and_sets_named_ones(stored, body, merge):
    result = profile_properties_apply(stored, body, PARTIAL_UPDATE, merge)
    for key, value in stored.items():
        if key not in body:
            assert result[key] == value
    for key, value in body.items():
        if not merge or not (isinstance(value, dict) and isinstance(stored.get(key), dict)):
            assert result[key] == value


@quick
@given(objects, objects)
def test_partial_delete_leaves_none_of_the_named_keys(stored, body):
    before = copy.deepcopy(stored)
    result = profile_properties_apply(stored, body, PARTIAL_DELETE)
    assert stored == before  # the stored object is not mutated
    for key, value in body.items():
        if isinstance(value, dict) and value and isinstance(stored.get(key), dict):
            for inner in value:
                if not isinstance(value[inner], dict) or not value[inner]:
                    assert inner not in result[key]
        else:
            assert key not in result
    for key in stored:
        if key not in body:
            assert result[key] == stored[key]
