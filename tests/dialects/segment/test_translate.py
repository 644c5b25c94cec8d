"""The Segment translator, without a database (spec 2)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.dialects.segment.translate import (
    BATCH_MAX_MESSAGES,
    MESSAGE_MAX_BYTES,
    BatchTooLarge,
    MessageInvalid,
    Translated,
    call_type_of,
    epoch_ms,
    message_size,
    translate_batch,
    translate_message,
)
from apps.userpoints.identifiers import email_hash

C = 7
RECEIVED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def document_of(translated: Translated) -> dict[str, Any]:
    activity = translated.payload["activity"]
    assert activity is not None
    return activity["document"]


def one(message, call_type=None, **kwargs):
    return translate_message(message, call_type=call_type, compartment_id=C, received_at=RECEIVED, **kwargs)


def test_short_names_and_unknown_calls():
    assert [call_type_of(n) for n in ("i", "t", "p", "s", "g", "a")] == [
        "identify",
        "track",
        "page",
        "screen",
        "group",
        "alias",
    ]
    assert call_type_of("track") == "track"
    assert call_type_of("x") is None


def test_track_becomes_an_activity_with_one_event_and_keeps_the_whole_message():
    message = {
        "userId": "u1",
        "anonymousId": "a1",
        "event": "Added File",
        "properties": {"size": 42},
        "messageId": "m1",
        "context": {"ip": "1.2.3.4"},
        "writeKey": "secret",
    }
    t = one(message, "track")
    assert t.unique_key == "segment:m1"
    assert t.payload["identifiers"] == [
        {"type": "USER_ACCOUNT", "compartment_id": C, "user_account_id": "u1"},
        {"type": "USER_AGENT", "user_agent_id": "anon:a1"},
    ]
    activity = t.payload["activity"]
    assert activity["type"] == "TOUCH"
    assert activity["ts"] == epoch_ms(RECEIVED)  # no timestamp: the receipt time
    document = activity["document"]
    assert document["$events"] == [{"$ts": activity["ts"], "$event_name": "Added File", "$properties": {"size": 42}}]
    assert document["context"] == {"ip": "1.2.3.4"}
    assert document["receivedAt"] == "2024-05-01T12:00:00.000Z"
    assert document["type"] == "track"
    assert "writeKey" not in document  # a secret is never stored
    assert t.payload["profile_updates"] == []
    assert "writeKey" in message  # the caller's message is not modified


def test_page_and_screen_types_and_events():
    page = one({"anonymousId": "a", "name": "Home", "category": "Docs", "properties": {"path": "/"}}, "page")
    assert page.payload["activity"]["type"] == "SITE_VISIT"
    event = page.payload["activity"]["document"]["$events"][0]
    assert event["$event_name"] == "$page_view"
    assert event["$properties"] == {"path": "/", "name": "Home", "category": "Docs"}
    screen = one({"anonymousId": "a", "name": "Login"}, "screen")
    assert screen.payload["activity"]["type"] == "APP_VISIT"
    assert screen.payload["activity"]["document"]["$events"][0]["$event_name"] == "$screen_view"


def test_identify_updates_the_account_profile_with_traits_and_context_traits():
    t = one(
        {
            "userId": 42,
            "traits": {"name": "Arthur", "email": " Arthur@Example.com "},
            "context": {"traits": {"plan": "pro", "name": "ignored"}},
        },
        "identify",
    )
    assert t.payload["profile_updates"] == [
        {
            "compartment_id": C,
            "user_account_id": "42",
            "properties": {"plan": "pro", "name": "Arthur", "email": " Arthur@Example.com "},
            "strategy": "PARTIAL_UPDATE",
            "merge_objects": False,
        }
    ]
    assert {"type": "USER_EMAIL", "hash": email_hash("arthur@example.com"), "email": "Arthur@Example.com"} in t.payload[
        "identifiers"
    ]


def test_anonymous_identify_updates_the_anonymous_profile():
    t = one({"anonymousId": "a", "traits": {"x": 1}}, "identify")
    assert t.payload["profile_updates"][0]["user_account_id"] is None
    assert t.payload["identifiers"] == [{"type": "USER_AGENT", "user_agent_id": "anon:a"}]


def test_email_in_context_traits_of_any_call_is_an_identifier_but_not_a_group_trait():
    t = one({"anonymousId": "a", "event": "e", "context": {"traits": {"email": "x@y.z"}}}, "track")
    assert [i["type"] for i in t.payload["identifiers"]] == ["USER_AGENT", "USER_EMAIL"]
    g = one({"userId": "u", "groupId": "g1", "traits": {"email": "team@corp.com"}}, "group")
    assert [i["type"] for i in g.payload["identifiers"]] == ["USER_ACCOUNT"]
    bad = one({"userId": "u", "traits": {"email": "not an address"}}, "identify")
    assert [i["type"] for i in bad.payload["identifiers"]] == ["USER_ACCOUNT"]
    long = one({"userId": "u", "traits": {"email": "x" * 320 + "@y.z"}}, "identify")  # wider than the column
    assert [i["type"] for i in long.payload["identifiers"]] == ["USER_ACCOUNT"]
    assert long.payload["profile_updates"][0]["properties"]["email"].startswith("xxx")


def test_group_sets_groups_dot_group_id_merging_objects():
    t = one({"userId": "u", "groupId": 5678, "traits": {"name": "Hitchhikers"}}, "group")
    assert t.payload["profile_updates"] == [
        {
            "compartment_id": C,
            "user_account_id": "u",
            "properties": {"groups": {"5678": {"name": "Hitchhikers"}}},
            "strategy": "PARTIAL_UPDATE",
            "merge_objects": True,
        }
    ]


def test_alias_links_previous_id_as_account_or_anonymous_id_when_known():
    t = one({"userId": "new", "previousId": "old"}, "alias")
    assert t.payload["identifiers"] == [{"type": "USER_ACCOUNT", "compartment_id": C, "user_account_id": "new"}]
    assert t.payload["link_if_known"] == [
        {"type": "USER_ACCOUNT", "compartment_id": C, "user_account_id": "old"},
        {"type": "USER_AGENT", "user_agent_id": "anon:old"},
    ]


@pytest.mark.parametrize(
    ("call", "message", "field"),
    [
        ("track", {"event": "e"}, "userId or anonymousId is required"),
        ("track", {"userId": None, "anonymousId": None, "event": "e"}, "userId or anonymousId is required"),
        ("track", {"userId": "", "event": "e"}, "userId or anonymousId is required"),
        ("track", {"userId": "u"}, "event:"),
        ("track", {"userId": "u", "event": ""}, "event:"),
        ("track", {"userId": {"a": 1}, "event": "e"}, "userId: must be a string"),
        ("track", {"userId": "u", "event": "e", "properties": [1]}, "properties: must be an object"),
        ("group", {"userId": "u"}, "groupId:"),
        ("alias", {"userId": "u"}, "previousId:"),
        ("alias", {"anonymousId": "a", "previousId": "p"}, "userId: is required"),
        ("identify", {"userId": "u", "traits": "x"}, "traits: must be an object"),
        ("identify", {"userId": "u", "timestamp": "yesterday"}, "timestamp:"),
        ("identify", {"userId": "u", "timestamp": 1700000000}, "timestamp:"),
        ("identify", {"userId": "u", "sentAt": "nope"}, "sentAt:"),
        (
            "identify",
            {"userId": "u", "timestamp": "0001-01-01T00:00:00Z", "sentAt": "9999-12-31T00:00:00Z"},
            "out of range",
        ),
        ("identify", {"userId": "u", "messageId": "x" * 300}, "messageId:"),
        ("identify", {"userId": "u" * 256}, "userId: must be at most 255"),
        ("identify", {"anonymousId": "a" * 251}, "anonymousId: must be at most 250"),
        ("alias", {"userId": "u", "previousId": "p" * 251}, "previousId: must be at most 250"),
        ("identify", {"userId": "u", "context": "x"}, "context: must be an object"),
        (None, {"userId": "u"}, "type: is required"),
        (None, {"userId": "u", "type": "purchase"}, "type: must be one of"),
        ("track", [1, 2], "must be a JSON object"),
    ],
)
def test_invalid_messages_name_the_field(call, message, field):
    with pytest.raises(MessageInvalid, match=field.replace("(", r"\(")):
        one(message, call)


def test_timestamp_corrected_for_clock_skew_from_sent_at():
    # The client's clock is 1 hour ahead: it says the event happened 10 s before it sent it.
    t = one(
        {"userId": "u", "event": "e", "timestamp": "2024-05-01T13:00:00Z", "sentAt": "2024-05-01T13:00:10.000Z"},
        "track",
    )
    document = t.payload["activity"]["document"]
    assert document["timestamp"] == "2024-05-01T11:59:50.000Z"
    assert document["originalTimestamp"] == "2024-05-01T13:00:00Z"
    assert t.payload["activity"]["ts"] == epoch_ms(datetime(2024, 5, 1, 11, 59, 50, tzinfo=UTC))
    # The batch's sentAt applies to its messages; without sentAt, the timestamp is kept as given.
    b = one({"userId": "u", "event": "e", "timestamp": "2024-05-01T13:00:00+02:00"}, "track")
    assert b.payload["activity"]["document"]["timestamp"] == "2024-05-01T11:00:00.000Z"
    c = one(
        {"userId": "u", "event": "e", "timestamp": "2024-05-01T13:00:00"}, "track", batch_sent_at="2024-05-01T13:00:01"
    )
    assert c.payload["activity"]["document"]["timestamp"] == "2024-05-01T11:59:59.000Z"


def test_missing_message_id_is_generated():
    t = one({"userId": "u", "event": "e"}, "track", new_message_id=lambda: "gen-1")
    assert t.unique_key is None  # the server's id: no retry can repeat it, so nothing to dedupe
    assert t.payload["activity"]["document"]["messageId"] == "gen-1"


def test_batch_merges_context_and_integrations_message_keys_win_and_lists_invalid_messages():
    body = {
        "batch": [
            {"type": "track", "userId": "u", "event": "e", "context": {"ip": "own"}, "messageId": "1"},
            {"type": "track", "userId": "u", "messageId": "2"},
            {"type": "page", "anonymousId": "a", "integrations": {"All": True}, "messageId": "3"},
        ],
        "context": {"ip": "batch", "locale": "fr"},
        "integrations": {"All": False, "Mixpanel": True},
        "sentAt": "2024-05-01T12:00:00Z",
    }
    result = translate_batch(body, compartment_id=C, received_at=RECEIVED, body_size=100)
    assert result.errors == ["batch[1]: event: is required, a non-empty string"]
    first, third = (document_of(t) for t in result.accepted)
    assert first["context"] == {"ip": "own", "locale": "fr"}
    assert first["integrations"] == {"All": False, "Mixpanel": True}
    assert third["integrations"] == {"All": True, "Mixpanel": True}
    assert [t.unique_key for t in result.accepted] == ["segment:1", "segment:3"]


def test_batch_limits():
    with pytest.raises(BatchTooLarge):
        translate_batch(
            {"batch": [{}] * (BATCH_MAX_MESSAGES + 1)}, compartment_id=C, received_at=RECEIVED, body_size=10
        )
    big = {"type": "track", "userId": "u", "event": "e", "properties": {"x": "y" * MESSAGE_MAX_BYTES}}
    body = {"batch": [{"type": "track", "userId": "u", "event": "e"}, big]}
    result = translate_batch(body, compartment_id=C, received_at=RECEIVED, body_size=message_size(body))
    assert len(result.accepted) == 1
    assert result.errors == [f"batch[1]: the message is {message_size(big)} bytes; the limit is {MESSAGE_MAX_BYTES}"]
    bad: Any
    for bad in ([], {"batch": "x"}, {"batch": [], "context": 3}):
        with pytest.raises(MessageInvalid):
            translate_batch(bad, compartment_id=C, received_at=RECEIVED, body_size=10)


def test_message_size_is_the_compact_utf8_json():
    assert message_size({"a": "é"}) == len('{"a":"é"}'.encode())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
message_fields = st.fixed_dictionaries(
    {},
    optional={
        name: json_values | st.text(max_size=30)
        for name in (
            "type",
            "userId",
            "anonymousId",
            "event",
            "groupId",
            "previousId",
            "traits",
            "properties",
            "context",
            "integrations",
            "timestamp",
            "sentAt",
            "messageId",
        )
    },
)


@given(message=message_fields, call=st.sampled_from([None, "identify", "track", "page", "screen", "group", "alias"]))
@settings(max_examples=300, deadline=None)
def test_any_json_message_is_translated_or_refused_with_message_invalid(message, call):
    """Whatever a client sends, the translator answers a payload or a MessageInvalid, never another exception."""
    try:
        translated = one(message, call)
    except MessageInvalid:
        return
    payload = translated.payload
    assert payload["identifiers"]
    document = document_of(translated)
    # Dedupe only on the client's own id (null and "" are no id); one the server drew needs none.
    client_id = message.get("messageId")
    expected_key = None if client_id is None or client_id == "" else f"segment:{client_id}"
    assert translated.unique_key == expected_key
    if expected_key is not None:
        assert document["messageId"] == str(client_id)
    assert document["type"] in ("identify", "track", "page", "screen", "group", "alias")
    assert isinstance(document["$ts"], int)
