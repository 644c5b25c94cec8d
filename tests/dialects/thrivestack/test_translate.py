"""Translation of Thrivestack track / identify / group bodies: pure, no database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from apps.dialects.thrivestack.translate import ThrivestackInvalid, translate
from apps.userpoints.identifiers import email_hash

SEED = Path(__file__).with_name("seed_track.json").read_text()
C = 3
NOW = 1_700_000_000_000
USER = "3e474abe-5943-41fd-8b7b-4c87ad95b0c7"


def run(kind, body):
    return translate(kind, body, compartment_id=C, now_ms=NOW)


def test_the_seed_sample_timestamp_is_not_a_date_and_the_message_names_the_field():
    with pytest.raises(ThrivestackInvalid) as caught:
        run("track", json.loads(SEED))
    assert str(caught.value) == "timestamp: '20-11-23T22:28:55.111Z' is not an ISO 8601 date"


def test_the_seed_sample_with_a_valid_timestamp():
    body = json.loads(SEED)
    body["timestamp"] = "2023-11-20T22:28:55.111Z"
    (payload,) = run("track", body)
    assert payload["identifiers"] == [
        {"type": "USER_ACCOUNT", "compartment_id": C, "user_account_id": USER},
        {"type": "USER_EMAIL", "hash": email_hash("johndoe@acmalabs.com"), "email": "JohnDoe@acmalabs.com"},
    ]
    assert payload["activity"]["ts"] == 1700519335111
    assert payload["activity"]["document"]["$events"] == [
        {"$ts": 1700519335111, "$event_name": "User Registered", "$properties": body["properties"]}
    ]
    assert payload["profile_updates"] == [
        {
            "compartment_id": C,
            "user_account_id": USER,
            "properties": {
                "email": "JohnDoe@acmalabs.com",
                "name": "John Doe",
                "first_name": "John",
                "last_name": "Doe",
            },
            "strategy": "PARTIAL_UPDATE",
            "merge_objects": False,
        }
    ]


def test_track_without_user_describing_properties_updates_no_profile_and_defaults_to_now():
    (payload,) = run(
        "track",
        {"event_name": "clicked", "user_id": "u", "properties": {"button": "b"}, "context": {"device_id": "d1"}},
    )
    assert payload["profile_updates"] == []
    assert payload["activity"]["ts"] == NOW
    assert payload["identifiers"][1] == {"type": "USER_AGENT", "user_agent_id": "device:d1"}


def test_identify_updates_the_profile_with_traits_and_the_email_becomes_an_identifier():
    (payload,) = run("identify", {"user_id": "u", "traits": {"email": "a@b.co", "plan": "pro"}})
    assert payload["activity"] is None
    assert [i["type"] for i in payload["identifiers"]] == ["USER_ACCOUNT", "USER_EMAIL"]
    assert payload["profile_updates"][0]["properties"] == {"email": "a@b.co", "plan": "pro"}
    assert payload["profile_updates"][0]["strategy"] == "PARTIAL_UPDATE"


def test_group_sets_groups_dot_group_id_merged():
    (payload,) = run("group", {"user_id": "u", "group_id": "acme", "traits": {"plan": "team"}})
    update = payload["profile_updates"][0]
    assert update["properties"] == {"groups": {"acme": {"plan": "team"}}}
    assert update["merge_objects"] is True


def test_an_array_gives_one_payload_per_object():
    payloads = run("track", [{"event": "a", "user_id": "u1"}, {"event_name": "b", "user_id": "u2"}])
    assert [p["activity"]["document"]["$events"][0]["$event_name"] for p in payloads] == ["a", "b"]


@pytest.mark.parametrize(
    ("kind", "body", "message"),
    [
        ("track", {"user_id": "u"}, "event_name is required, a non-empty string"),
        ("track", {"event": "e"}, "user_id is required, a non-empty string"),
        ("track", [{"event": "e", "user_id": "u"}, {"event": "e"}], "[1].user_id is required"),
        ("track", [{"event": "e", "user_id": "u", "timestamp": "soon"}], "[0].timestamp: 'soon' is not an ISO 8601"),
        ("track", {"event": "e", "user_id": "u", "properties": "x"}, "properties must be an object"),
        (
            "track",
            {"event": "e", "user_id": "u", "properties": {"email": "nope"}},
            "properties.email must be an e-mail",
        ),
        ("track", {"event": "e", "user_id": "u", "context": []}, "context must be an object"),
        ("identify", {"user_id": "u", "traits": 3}, "traits must be an object"),
        ("group", {"user_id": "u"}, "group_id is required"),
        ("track", {"event": "e", "user_id": "u" * 256}, "user_id must be at most 255 characters"),
        ("track", {"event": "e", "user_id": "u", "context": {"device_id": "d" * 250}}, "context.device_id must be at"),
        ("track", [], "the body is an empty array"),
        ("track", "x", "the body must be a JSON object or an array of objects"),
        ("track", [1], "[0] must be a JSON object"),
    ],
)
def test_invalid_bodies_name_what_is_wrong(kind, body, message):
    with pytest.raises(ThrivestackInvalid) as caught:
        run(kind, body)
    assert str(caught.value).startswith(message)
