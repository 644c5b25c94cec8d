"""The mediarithmics UserActivity validation and translation, without a database (spec 1.2, 1.3)."""

from __future__ import annotations

import pytest

from apps.activities.mics import ActivityInvalid, Compartments, translate_activity
from apps.userpoints.identifiers import email_hash

COMPARTMENTS = Compartments(ids=frozenset({1, 7}), default_id=1)


def fields_of(exc: ActivityInvalid) -> dict[str, str]:
    return dict(exc.details)


def translate(body):
    return translate_activity(body, COMPARTMENTS)


# The two example activities of the seed page, with its placeholders filled in.
SEED_WITH_IDENTIFIERS = {
    "$ts": 3489009384393,
    "$type": "APP_VISIT",
    "$session_status": "IN_SESSION",
    "$user_identifiers": [
        {"$type": "USER_ACCOUNT", "$compartment_id": "7", "$user_account_id": "ACCOUNT-1"},
        {"$type": "USER_ACCOUNT", "$compartment_id": "7", "$user_account_id": "ACCOUNT-2"},
        {"$type": "USER_AGENT", "$user_agent_id": "vec:123"},
        {"$type": "USER_EMAIL", "$hash": "HASH-1", "$email": "someone@example.com"},
    ],
    "$app_id": "1023",
    "$events": [{"$ts": 3489009384393, "$event_name": "$app_open", "$properties": {}}],
}
SEED_LEGACY = {
    "$ts": 3489009384393,
    "$type": "APP_VISIT",
    "$session_status": "IN_SESSION",
    "$user_agent_id": "vec:123",
    "$compartment_id": "7",
    "$user_account_id": "ACCOUNT-1",
    "$app_id": "1023",
    "$events": [{"$ts": 3489009384393, "$event_name": "$app_open", "$properties": {}}],
}


def test_seed_activity_with_user_identifiers_translates_every_identifier():
    payload, unique_key = translate(SEED_WITH_IDENTIFIERS)
    assert unique_key is None
    assert payload["identifiers"] == [
        {"type": "USER_ACCOUNT", "compartment_id": 7, "user_account_id": "ACCOUNT-1"},
        {"type": "USER_ACCOUNT", "compartment_id": 7, "user_account_id": "ACCOUNT-2"},
        {"type": "USER_AGENT", "user_agent_id": "vec:123"},
        {"type": "USER_EMAIL", "hash": "HASH-1", "email": "someone@example.com"},
    ]
    assert payload["activity"] == {"type": "APP_VISIT", "ts": 3489009384393, "document": SEED_WITH_IDENTIFIERS}


def test_legacy_root_identifiers_mean_the_same_as_the_list():
    payload, _ = translate(SEED_LEGACY)
    assert payload["identifiers"] == [
        {"type": "USER_ACCOUNT", "compartment_id": 7, "user_account_id": "ACCOUNT-1"},
        {"type": "USER_AGENT", "user_agent_id": "vec:123"},
    ]


def test_email_without_hash_is_hashed_trimmed_and_lower_cased():
    payload, _ = translate(
        {"$ts": 1, "$type": "EMAIL", "$user_identifiers": [{"$type": "USER_EMAIL", "$email": "  Jo@Example.COM "}]}
    )
    # sha256("jo@example.com"), computed independently of the code under test
    assert payload["identifiers"][0]["hash"] == "f4e19df2e6c609fbd59a42b9063d0fadf44260218531ea21ad8c575f205c0453"


def test_legacy_email_hash_as_string_and_as_object():
    as_string, _ = translate({"$ts": 1, "$type": "EMAIL", "$email_hash": "abc"})
    as_object, _ = translate({"$ts": 1, "$type": "EMAIL", "$email_hash": {"$email": "a@b.c"}})
    assert as_string["identifiers"] == [{"type": "USER_EMAIL", "hash": "abc"}]
    assert as_object["identifiers"] == [{"type": "USER_EMAIL", "hash": email_hash("a@b.c"), "email": "a@b.c"}]


def test_account_without_compartment_goes_to_the_default_compartment():
    payload, _ = translate({"$ts": 1, "$type": "TOUCH", "$user_account_id": "u"})
    assert payload["identifiers"] == [{"type": "USER_ACCOUNT", "compartment_id": 1, "user_account_id": "u"}]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"$type": "SITE_VISIT", "$user_agent_id": "a"}, "$ts"),
        ({"$ts": "1", "$type": "SITE_VISIT", "$user_agent_id": "a"}, "$ts"),
        ({"$ts": True, "$type": "SITE_VISIT", "$user_agent_id": "a"}, "$ts"),
        ({"$ts": 1, "$user_agent_id": "a"}, "$type"),
        ({"$ts": 1, "$type": "PAGE_VIEW", "$user_agent_id": "a"}, "$type"),
        ({"$ts": 1, "$type": "SITE_VISIT", "$session_status": "OPEN", "$user_agent_id": "a"}, "$session_status"),
        ({"$ts": 1, "$type": "SITE_VISIT"}, "$user_identifiers"),
        ({"$ts": 1, "$type": "SITE_VISIT", "$user_identifiers": []}, "$user_identifiers"),
        ({"$ts": 1, "$type": "SITE_VISIT", "$user_identifiers": "vec:1"}, "$user_identifiers"),
        ({"$ts": 1, "$type": "SITE_VISIT", "$user_identifiers": [{"$type": "COOKIE"}]}, "$user_identifiers[0].$type"),
        (
            {"$ts": 1, "$type": "SITE_VISIT", "$user_identifiers": [{"$type": "USER_EMAIL", "$email": "nope"}]},
            "$user_identifiers[0].$email",
        ),
        ({"$ts": 1, "$type": "SITE_VISIT", "$user_agent_id": "a", "$events": {}}, "$events"),
        (
            {"$ts": 1, "$type": "SITE_VISIT", "$user_agent_id": "a", "$events": [{"$ts": 1}]},
            "$events[0].$event_name",
        ),
        (
            {"$ts": 1, "$type": "SITE_VISIT", "$user_agent_id": "a", "$events": [{"$event_name": "x"}]},
            "$events[0].$ts",
        ),
        ({"$ts": 1, "$type": "SITE_VISIT", "$user_agent_id": "a", "$unique_key": 5}, "$unique_key"),
        ({"$ts": 1, "$type": "SITE_VISIT", "$compartment_id": "7"}, "$user_account_id"),
    ],
)
def test_invalid_activities_name_the_field_at_fault(body, field):
    with pytest.raises(ActivityInvalid) as caught:
        translate(body)
    assert field in fields_of(caught.value)


def test_a_compartment_of_another_datamart_is_refused():
    with pytest.raises(ActivityInvalid) as caught:
        translate({"$ts": 1, "$type": "TOUCH", "$compartment_id": "99", "$user_account_id": "u"})
    assert "compartment 99" in fields_of(caught.value)["$compartment_id"]


def test_every_problem_is_reported_at_once():
    with pytest.raises(ActivityInvalid) as caught:
        translate({"$ts": "x", "$type": "NOPE"})
    assert {"$ts", "$type", "$user_identifiers"} <= set(fields_of(caught.value))


def test_a_body_that_is_not_an_object_is_refused():
    with pytest.raises(ActivityInvalid) as caught:
        translate([SEED_LEGACY])
    assert "body" in fields_of(caught.value)


def test_profile_event_becomes_a_profile_update_and_attaches_its_account():
    body = {
        "$ts": 1,
        "$type": "APP_VISIT",
        "$user_agent_id": "vec:9",
        "$events": [
            {
                "$ts": 1679588413000,
                "$event_name": "$set_user_profile_properties",
                "$properties": {
                    "$compartment_id": "7",
                    "$user_account_id": "acc",
                    "gender": "Male",
                    "zipcode": "78000",
                },
            }
        ],
    }
    payload, _ = translate(body)
    assert payload["profile_updates"] == [
        {
            "compartment_id": 7,
            "user_account_id": "acc",
            "properties": {"gender": "Male", "zipcode": "78000"},
            "strategy": "PARTIAL_UPDATE",
            "merge_objects": False,
        }
    ]
    assert {"type": "USER_ACCOUNT", "compartment_id": 7, "user_account_id": "acc"} in payload["identifiers"]
    assert payload["identifiers"][0] == {"type": "USER_AGENT", "user_agent_id": "vec:9"}


def test_choice_event_takes_its_ts_and_keeps_custom_fields():
    body = {
        "$ts": 1,
        "$type": "SITE_VISIT",
        "$user_agent_id": "vec:9",
        "$events": [
            {
                "$ts": 1572948120,
                "$event_name": "$set_user_choice",
                "$properties": {"$processing_id": "12", "$choice_acceptance_value": True, "channel": "banner"},
            }
        ],
    }
    payload, _ = translate(body)
    assert payload["choice_updates"] == [
        {
            "processing_id": "12",
            "choice_ts": 1572948120,
            "acceptance_value": True,
            "custom_fields": {"channel": "banner"},
        }
    ]


def test_invalid_choice_event_does_not_refuse_the_activity():
    body = {
        "$ts": 1,
        "$type": "SITE_VISIT",
        "$user_agent_id": "vec:9",
        "$events": [{"$ts": 2, "$event_name": "$set_user_choice", "$properties": {"$choice_acceptance_value": True}}],
    }
    payload, _ = translate(body)
    assert payload["choice_updates"] == []
    assert payload["errors"] == ["$events[0]: $set_user_choice without $processing_id"]
    assert payload["activity"] is not None
