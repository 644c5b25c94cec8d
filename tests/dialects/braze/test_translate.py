"""Translation of Braze /users/track bodies into canonical payloads: pure, no database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from apps.dialects.braze.attributes import BRAZE_ATTRIBUTES
from apps.dialects.braze.translate import NO_USER, BrazeFatal, translate_track
from apps.userpoints.identifiers import email_hash

SEED = Path(__file__).with_name("seed_users_track.json").read_text()
C = 7  # the key's compartment


def translate(body):
    return translate_track(body, compartment_id=C)


def test_seed_sample_every_object_translated():
    result = translate(json.loads(SEED))
    assert result.errors == []
    assert result.arrays_sent == ["attributes", "events", "purchases"]
    attributes, event, purchase = result.items
    account = {"type": "USER_ACCOUNT", "compartment_id": C, "user_account_id": "user_identifier"}

    assert attributes.payload["identifiers"] == [account]
    assert attributes.payload["activity"] is None
    assert attributes.payload["profile_updates"] == [
        {
            "compartment_id": C,
            "user_account_id": "user_identifier",
            "properties": {
                "string_attribute": "fruit",
                "boolean_attribute_1": True,
                "integer_attribute": 25,
                "array_attribute": ["banana", "apple"],
            },
            "strategy": BRAZE_ATTRIBUTES,
            "merge_objects": False,
        }
    ]
    assert not attributes.update_existing_only

    assert event.payload["identifiers"] == [account]
    activity = event.payload["activity"]
    assert activity["ts"] == 1373998830000  # 2013-07-16T19:20:30+1:00
    assert activity["document"]["$app_id"] == "app_identifier"
    assert activity["document"]["$events"] == [
        {"$ts": 1373998830000, "$event_name": "watched_trailer", "$properties": {}}
    ]

    activity = purchase.payload["activity"]
    assert activity["ts"] == 1494614832000  # 2017-05-12T18:47:12Z
    assert activity["document"]["$events"] == [
        {
            "$ts": 1494614832000,
            "$event_name": "$transaction_confirmed",
            "$properties": {
                "product_id": "product_name",
                "currency": "USD",
                "price": 12.12,
                "quantity": 6,
                "properties": {
                    "integer_property": 3,
                    "string_property": "Russell",
                    "date_property": "2014-02-02T00:00:00Z",
                },
            },
        }
    ]


@pytest.mark.parametrize(
    ("naming", "identifier"),
    [
        ({"external_id": "u1"}, {"type": "USER_ACCOUNT", "compartment_id": C, "user_account_id": "u1"}),
        ({"braze_id": "b1"}, {"type": "USER_AGENT", "user_agent_id": "braze:b1"}),
        (
            {"user_alias": {"alias_name": "n1", "alias_label": "crm"}},
            {"type": "USER_AGENT", "user_agent_id": "alias:crm:n1"},
        ),
        (
            {"email": " Ann@Example.com "},
            {"type": "USER_EMAIL", "hash": email_hash("ann@example.com"), "email": "Ann@Example.com"},
        ),
        ({"phone": "+1 (555) 010-9999"}, {"type": "USER_AGENT", "user_agent_id": "phone:15550109999"}),
    ],
)
def test_the_five_ways_to_name_a_user(naming, identifier):
    event = {**naming, "name": "e", "time": "2020-01-01T00:00:00Z"}
    result = translate({"events": [event]})
    assert result.errors == []
    assert result.items[0].payload["identifiers"] == [identifier]


def test_several_names_of_one_user_are_all_identifiers_and_email_stays_an_attribute():
    result = translate({"attributes": [{"external_id": "u1", "email": "a@b.co", "phone": "123", "plan": "pro"}]})
    item = result.items[0]
    assert [i["type"] for i in item.payload["identifiers"]] == ["USER_ACCOUNT", "USER_EMAIL", "USER_AGENT"]
    assert item.payload["profile_updates"][0]["properties"] == {"email": "a@b.co", "phone": "123", "plan": "pro"}


def test_an_alias_or_braze_id_profile_is_the_anonymous_one_and_alias_updates_existing_users_only():
    result = translate(
        {
            "attributes": [
                {"user_alias": {"alias_name": "n", "alias_label": "l"}, "a": 1},
                {"user_alias": {"alias_name": "n", "alias_label": "l"}, "_update_existing_only": False, "a": 1},
                {"braze_id": "b", "_update_existing_only": True, "_merge_objects": True, "a": 1},
                {"braze_id": "b", "a": 1},
            ]
        }
    )
    assert [i.update_existing_only for i in result.items] == [True, False, True, False]
    assert result.items[0].payload["profile_updates"][0]["user_account_id"] is None
    assert result.items[0].payload["profile_updates"][0]["properties"] == {"a": 1}
    assert result.items[2].payload["profile_updates"][0]["merge_objects"] is True


NOW = "2020-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("array", "obj", "error_type"),
    [
        ("events", {"name": "e", "time": NOW}, NO_USER),
        ("events", {"external_id": "", "name": "e", "time": NOW}, "'external_id' must be a non-empty string"),
        ("events", {"email": "not-an-email", "name": "e", "time": NOW}, "'email' must be an e-mail address"),
        ("events", {"phone": "n/a", "name": "e", "time": NOW}, "'phone' must be a phone number"),
        ("events", {"user_alias": "x", "name": "e", "time": NOW}, "'user_alias' must be an object"),
        ("events", {"user_alias": {"alias_name": "n"}, "name": "e", "time": NOW}, "'user_alias.alias_label'"),
        ("events", {"external_id": "u", "time": NOW}, "'name' is required"),
        ("events", {"external_id": "u", "name": "e"}, "'time' is required"),
        ("events", {"external_id": "u", "name": "e", "time": "20-11-23"}, "'time' '20-11-23' is not an ISO 8601"),
        ("events", {"external_id": "u", "name": "e", "time": 1373998830}, "'time' must be an ISO 8601"),
        ("events", {"external_id": "u", "name": "e", "time": NOW, "properties": []}, "'properties' must be an"),
        ("events", "not an object", "events object must be a JSON object"),
        ("purchases", {"external_id": "u", "currency": "USD", "price": 1, "time": NOW}, "'product_id' is required"),
        ("purchases", {"external_id": "u", "product_id": "p", "currency": "US", "price": 1, "time": NOW}, "'currency'"),
        ("purchases", {"external_id": "u", "product_id": "p", "currency": "USD", "price": "1", "time": NOW}, "'price'"),
        (
            "purchases",
            {"external_id": "u", "product_id": "p", "currency": "USD", "price": 1, "quantity": 101, "time": NOW},
            "'quantity' must be an integer from 1 to 100",
        ),
        (
            "purchases",
            {"external_id": "u", "product_id": "p", "currency": "USD", "price": 1, "quantity": 0, "time": NOW},
            "'quantity' must be an integer from 1 to 100",
        ),
        ("purchases", {"external_id": "u", "product_id": "p", "currency": "USD", "price": 1}, "'time' is required"),
        ("attributes", {"external_id": "u", "n": {"inc": "x"}}, "'n': 'inc' must be a number"),
        ("attributes", {"external_id": "u", "_merge_objects": "yes"}, "'_merge_objects' must be true or false"),
        # Ids wider than the identifier columns are refused here rather than failing in the pipeline.
        ("events", {"external_id": "x" * 256, "name": "e", "time": NOW}, "'external_id' must be at most 255"),
        ("events", {"braze_id": "x" * 250, "name": "e", "time": NOW}, "'braze_id' is too long"),
        ("events", {"email": "a@" + "b" * 400, "name": "e", "time": NOW}, "'email' must be an e-mail address"),
    ],
)
def test_an_invalid_object_is_skipped_as_a_non_fatal_error_and_the_rest_is_kept(array, obj, error_type):
    valid = {"external_id": "ok", "name": "e", "time": NOW}
    body = {"events": [valid], array: [obj]} if array != "events" else {"events": [valid, obj]}
    result = translate(body)
    index = 1 if array == "events" else 0
    assert len(result.errors) == 1
    assert result.errors[0]["input_array"] == array
    assert result.errors[0]["index"] == index
    assert result.errors[0]["type"].startswith(error_type)
    assert [(i.input_array, i.index) for i in result.items] == [("events", 0)]


def test_purchase_quantity_defaults_to_one_and_currency_is_upper_cased():
    result = translate(
        {"purchases": [{"braze_id": "b", "product_id": "p", "currency": "eur", "price": 0, "time": NOW}]}
    )
    properties = result.items[0].payload["activity"]["document"]["$events"][0]["$properties"]
    assert properties == {"product_id": "p", "currency": "EUR", "price": 0, "quantity": 1}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "Invalid request body"),
        ("text", "Invalid request body"),
        ({"events": {"name": "e"}}, "'events' must be an array"),
        ({"attributes": "x"}, "'attributes' must be an array"),
        ({}, "Valid data must be provided in the 'attributes', 'events', or 'purchases' fields."),
        ({"events": [], "attributes": None}, "Valid data must be provided"),
    ],
)
def test_fatal_errors(body, message):
    with pytest.raises(BrazeFatal) as caught:
        translate(body)
    assert caught.value.message.startswith(message)
    assert caught.value.errors


def test_more_than_75_objects_in_any_array_is_fatal():
    events = [{"external_id": "u", "name": "e", "time": NOW}] * 75
    assert len(translate({"events": events, "purchases": []}).items) == 75
    with pytest.raises(BrazeFatal) as caught:
        translate({"events": events, "attributes": [{"external_id": "u"}] * 76})
    assert caught.value.message == "Max Input Length Exceeded"
    assert caught.value.errors == [
        {"type": "'attributes' holds 76 objects; at most 75 are allowed", "input_array": "attributes"}
    ]
