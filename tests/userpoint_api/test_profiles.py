"""Profiles through the HTTP routes: the worked examples of spec 1.5, one test each, and the GET forms."""

from __future__ import annotations

import pytest

from apps.userpoints.models import UserIdentifier, UserPointMerge
from tests.factories import CompartmentFactory
from tests.userpoint_api.helpers import assert_mics_error, base, point_of, post_activity

pytestmark = pytest.mark.django_db

STORED = {"a": 1, "o": {"x": 1, "y": 2}, "k": [1]}


def _profile_url(setup, selector="user_agent_id=vec:p", account="u1") -> str:
    compartment = setup.default_compartment.pk
    return f"{base(setup)}/user_points/{selector}/user_profiles/compartment_id={compartment}/user_account_id={account}"


def _stored(api, setup) -> str:
    """A point `vec:p` with profile u1 = STORED; returns the profile URL."""
    url = _profile_url(setup)
    status, answer = api("put", f"{url}?update_strategy=FORCE_REPLACE", STORED, key=setup.key)
    assert status == 200, answer
    return url


def _properties(profile: dict) -> dict:
    return {k: v for k, v in profile.items() if not k.startswith("$")}


def test_partial_update_is_the_default(api, setup):
    url = _stored(api, setup)
    status, answer = api("put", url, {"a": 2, "o": {"x": 9}, "n": None}, key=setup.key)
    assert status == 200
    assert _properties(answer["data"]) == {"a": 2, "o": {"x": 9}, "k": [1], "n": None}
    status, answer = api("put", f"{url}?update_strategy=PARTIAL_UPDATE", {"a": 3}, key=setup.key)
    assert _properties(answer["data"]) == {"a": 3, "o": {"x": 9}, "k": [1], "n": None}


def test_partial_update_with_merge_objects_merges_in_depth(api, setup):
    url = _stored(api, setup)
    status, answer = api("put", f"{url}?merge_objects=true", {"a": 2, "o": {"x": 9}, "n": None}, key=setup.key)
    assert status == 200
    assert _properties(answer["data"]) == {"a": 2, "o": {"x": 9, "y": 2}, "k": [1], "n": None}


def test_legacy_force_replace_false_with_merge_objects(api, setup):
    url = _stored(api, setup)
    status, answer = api(
        "put", f"{url}?force_replace=false&merge_objects=true", {"o": {"z": {"deep": 1}}}, key=setup.key
    )
    assert status == 200
    assert _properties(answer["data"]) == {"a": 1, "o": {"x": 1, "y": 2, "z": {"deep": 1}}, "k": [1]}


def test_partial_delete_removes_the_named_keys(api, setup):
    url = _stored(api, setup)
    status, answer = api("put", f"{url}?update_strategy=PARTIAL_DELETE", {"o": {"y": None}, "k": None}, key=setup.key)
    assert status == 200
    assert _properties(answer["data"]) == {"a": 1, "o": {"x": 1}}


def test_partial_delete_of_a_missing_profile_is_404_and_creates_nothing(api, setup):
    url = _profile_url(setup, selector="user_agent_id=vec:nobody")
    status, answer = api("put", f"{url}?update_strategy=PARTIAL_DELETE", {"a": None}, key=setup.key)
    assert_mics_error(status, answer, 404, "RESOURCE_NOT_FOUND")
    assert not UserIdentifier.objects.filter(key="vec:nobody").exists()


def test_force_replace(api, setup):
    url = _stored(api, setup)
    status, answer = api("put", f"{url}?update_strategy=FORCE_REPLACE", {"b": 1}, key=setup.key)
    assert _properties(answer["data"]) == {"b": 1}
    status, answer = api("put", f"{url}?force_replace=true", {"c": 1}, key=setup.key)
    assert status == 200
    assert _properties(answer["data"]) == {"c": 1}


def test_update_strategy_wins_over_the_legacy_flags(api, setup):
    url = _stored(api, setup)
    status, answer = api("put", f"{url}?update_strategy=PARTIAL_UPDATE&force_replace=true", {"b": 1}, key=setup.key)
    assert status == 200
    assert _properties(answer["data"]) == {**STORED, "b": 1}


def test_timestamps_and_the_get_forms(api, setup):
    url = _stored(api, setup)
    status, first = api("get", url, key=setup.key)
    assert status == 200
    assert first["data"]["$compartment_id"] == str(setup.default_compartment.pk)
    assert first["data"]["$user_account_id"] == "u1"
    created = first["data"]["$creation_ts"]
    assert first["data"]["$last_modified_ts"] >= created
    api("put", url, {"later": True}, key=setup.key)
    status, second = api("get", url, key=setup.key)
    assert second["data"]["$creation_ts"] == created
    assert second["data"]["$last_modified_ts"] >= first["data"]["$last_modified_ts"]
    other = CompartmentFactory(datamart=setup.datamart)
    status, _ = api(
        "put",
        f"{base(setup)}/user_points/user_agent_id=vec:p/user_profiles/compartment_id={other.pk}/user_account_id=u2",
        {"z": 1},
        key=setup.key,
    )
    assert status == 200
    status, listed = api("get", f"{base(setup)}/user_points/user_agent_id=vec:p/user_profiles", key=setup.key)
    assert (listed["count"], listed["total"]) == (2, 2)
    status, listed = api(
        "get", f"{base(setup)}/user_points/user_agent_id=vec:p/user_profiles/compartment_id={other.pk}", key=setup.key
    )
    assert [p["$user_account_id"] for p in listed["data"]] == ["u2"]
    status, answer = api("get", _profile_url(setup, account="nobody"), key=setup.key)
    assert_mics_error(status, answer, 404, "RESOURCE_NOT_FOUND")


def test_the_account_is_attached_and_merges_its_point(api, drain, setup):
    post_activity(api, setup, {"$ts": 1, "$type": "SITE_VISIT", "$user_account_id": "u1"})
    drain()
    account_point = point_of(f"{setup.default_compartment.pk}:u1")
    post_activity(api, setup, {"$ts": 2, "$type": "SITE_VISIT", "$user_agent_id": "vec:p"})
    drain()
    agent_point = point_of("vec:p")
    assert account_point != agent_point
    status, answer = api("put", _profile_url(setup), {"a": 1}, key=setup.key)
    assert status == 200, answer
    # The older point (the account's) survives, and holds both identifiers.
    assert point_of("vec:p") == account_point == point_of(f"{setup.default_compartment.pk}:u1")
    assert UserPointMerge.objects.filter(survivor_id=account_point, merged_user_point_id=agent_point).exists()


def test_body_and_path_must_agree(api, setup):
    url = _profile_url(setup)
    status, answer = api("put", url, {"$user_account_id": "other", "a": 1}, key=setup.key)
    assert_mics_error(status, answer, 400, "VALIDATION_ERROR")
    assert answer["details"][0]["field"] == "$user_account_id"
    status, answer = api("put", url, {"$compartment_id": "999999"}, key=setup.key)
    assert_mics_error(status, answer, 400, "VALIDATION_ERROR")
    # Present and equal is fine, as an integer or a string; the `$` keys are not stored as properties.
    status, answer = api(
        "put",
        url,
        {"$compartment_id": setup.default_compartment.pk, "$user_account_id": "u1", "a": 1},
        key=setup.key,
    )
    assert status == 200
    assert _properties(answer["data"]) == {"a": 1}


@pytest.mark.parametrize(
    ("suffix", "body", "field"),
    [
        ("?update_strategy=MERGE", {"a": 1}, "update_strategy"),
        ("?force_replace=maybe", {"a": 1}, "update_strategy"),
        ("", [1, 2], "body"),
    ],
)
def test_bad_profile_input_is_400(api, setup, suffix, body, field):
    status, answer = api("put", _profile_url(setup) + suffix, body, key=setup.key)
    assert_mics_error(status, answer, 400, "VALIDATION_ERROR")
    assert answer["details"][0]["field"] == field


def test_unknown_compartment_in_the_path(api, setup):
    url = f"{base(setup)}/user_points/user_agent_id=vec:p/user_profiles/compartment_id=999999/user_account_id=u"
    status, answer = api("put", url, {"a": 1}, key=setup.key)
    assert_mics_error(status, answer, 400, "VALIDATION_ERROR")
    url = f"{base(setup)}/user_points/user_agent_id=vec:p/user_profiles/compartment_id=abc/user_account_id=u"
    status, answer = api("put", url, {"a": 1}, key=setup.key)
    assert_mics_error(status, answer, 400, "VALIDATION_ERROR")


def test_malformed_json_is_400_malformed_json(api, setup):
    status, answer = api("put", _profile_url(setup), b'{"a": ', key=setup.key)
    assert_mics_error(status, answer, 400, "MALFORMED_JSON")
