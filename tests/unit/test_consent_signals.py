"""Consent signals (spec 6), pure: each dialect's translator with the shapes the libraries really send, the mapping
onto processings and its rules. No database.

Where the shapes come from:
- Segment: the consent wrapper, @segment/analytics-consent-tools 2.0.3, stamps every event in a source middleware
  (dist/cjs/domain/consent-stamping.js): `payload.obj.context.consent = {...payload.obj.context.consent,
  categoryPreferences: await getCategories()}`, an object of category name -> boolean.
- RudderStack: @rudderstack/analytics-js 3.34.1 (its bundled build, read in node_modules) puts on each event
  `context.consentManagement = {deniedConsentIds, allowedConsentIds, provider, resolutionStrategy}`; its
  `isValidConsentsData` accepts an array of ids or (OneTrust's older shape) an object keyed by id.
- Braze and Thrivestack: no standard of their own; spec 6 gives them a `consent` object shaped like
  categoryPreferences, in an event's properties or a Braze attributes object (Thrivestack: track properties,
  identify traits).
- Global Privacy Control: the `Sec-GPC: 1` request header (W3C GPC draft).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from apps.choices.signals import ConsentMap, Signals, signal_choice_updates
from apps.dialects.braze.translate import translate_track
from apps.dialects.segment.translate import MessageInvalid, translate_batch, translate_message
from apps.dialects.thrivestack.translate import ThrivestackInvalid
from apps.dialects.thrivestack.translate import translate as thrivestack_translate

ADS, ANALYTICS, SHARING, GPC_ONLY = 11, 12, 13, 14
# Advertising decides two processings; C0004 (OneTrust's "targeting") is the RudderStack id of one of them.
MAP = ConsentMap.build(
    [
        (ADS, ["Advertising", "C0004"], True),
        (ANALYTICS, ["Analytics", "C0002"], False),
        (SHARING, ["advertising", "DataSharing"], False),
        (GPC_ONLY, [], True),
    ]
)
RECEIVED = datetime(2026, 12, 1, 10, 0, 5, tzinfo=UTC)
EVENT_MS = int(datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC).timestamp() * 1000)


def signals(gpc: bool = False) -> Signals:
    return Signals(consent_map=lambda: MAP, gpc=gpc)


def by_processing(updates: list[dict[str, Any]]) -> dict[int, tuple[bool, str]]:
    return {int(u["processing_id"]): (u["acceptance_value"], u["custom_fields"]["signal"]) for u in updates}


def segment(message: dict[str, Any], gpc: bool = False) -> list[dict[str, Any]]:
    translated = translate_message(
        message, call_type=None, compartment_id=1, received_at=RECEIVED, signals=signals(gpc)
    )
    return list(translated.payload["choice_updates"])


def test_segment_category_preferences_set_the_mapped_processings_at_the_event_s_time():
    message = {
        "type": "track",
        "event": "Order Completed",
        "userId": "u1",
        "messageId": "ajs-next-1",
        "timestamp": "2026-12-01T10:00:00.000Z",
        "context": {"consent": {"categoryPreferences": {"Advertising": False, "Analytics": True, "Functional": True}}},
    }
    updates = segment(message)
    assert by_processing(updates) == {
        ADS: (False, "categoryPreferences"),
        ANALYTICS: (True, "categoryPreferences"),
        SHARING: (False, "categoryPreferences"),  # "advertising" matches "Advertising": case-insensitive
    }
    assert {u["choice_ts"] for u in updates} == {EVENT_MS}
    assert {u["source_ref"] for u in updates} == {"ajs-next-1"}
    assert all(u["signal"] for u in updates)
    assert updates[0]["custom_fields"] == {"signal": "categoryPreferences", "categories": {"Advertising": False}}


def test_segment_batch_context_carries_the_preferences_to_every_message():
    body = {
        "batch": [
            {"type": "page", "anonymousId": "a1", "messageId": "m1"},
            {"type": "track", "event": "e", "anonymousId": "a1", "messageId": "m2", "context": {"ip": "1.2.3.4"}},
        ],
        "context": {"consent": {"categoryPreferences": {"Analytics": False}}},
    }
    result = translate_batch(body, compartment_id=1, received_at=RECEIVED, body_size=100, signals=signals())
    assert [by_processing(t.payload["choice_updates"]) for t in result.accepted] == [
        {ANALYTICS: (False, "categoryPreferences")}
    ] * 2


def test_rudderstack_consent_management_allowed_and_denied_ids():
    message: dict[str, Any] = {
        "type": "track",
        "event": "Order Completed",
        "anonymousId": "a1",
        "channel": "web",
        "originalTimestamp": "2026-12-01T10:00:00.000Z",
        "sentAt": "2026-12-01T10:00:05.000Z",
        "context": {
            "consentManagement": {
                "deniedConsentIds": ["C0004"],
                "allowedConsentIds": ["C0001", "C0002", "C0003"],
                "provider": "oneTrust",
                "resolutionStrategy": "and",
            }
        },
    }
    updates = segment(message)
    assert by_processing(updates) == {ADS: (False, "consentManagement"), ANALYTICS: (True, "consentManagement")}
    # originalTimestamp, corrected by sentAt: the event's time, not the arrival's.
    assert {u["choice_ts"] for u in updates} == {int(RECEIVED.timestamp() * 1000) - 5000}
    # OneTrust's older shape: objects keyed by id.
    message["context"]["consentManagement"] = {"allowedConsentIds": {"C0002": "Performance"}, "deniedConsentIds": {}}
    assert by_processing(segment(message)) == {ANALYTICS: (True, "consentManagement")}


def test_global_privacy_control_refuses_the_opted_out_processings_and_wins_conflicts():
    plain = {"type": "page", "anonymousId": "a1", "timestamp": "2026-12-01T10:00:00Z"}
    assert by_processing(segment(plain, gpc=True)) == {ADS: (False, "Sec-GPC"), GPC_ONLY: (False, "Sec-GPC")}
    # A category accepting what GPC refuses: refused (spec 6: conflicts resolve to refusal).
    accepting = {**plain, "context": {"consent": {"categoryPreferences": {"Advertising": True}}}}
    assert by_processing(segment(accepting, gpc=True)) == {
        ADS: (False, "Sec-GPC, categoryPreferences"),
        SHARING: (True, "categoryPreferences"),
        GPC_ONLY: (False, "Sec-GPC"),
    }
    assert segment(plain) == []  # no signal, no update


def test_conflicting_categories_of_one_processing_resolve_to_refusal():
    updates = signal_choice_updates(
        MAP, categories={"Advertising": True, "C0004": False}, signal="consent", gpc=False, choice_ts=1
    )
    assert by_processing(updates)[ADS] == (False, "consent")
    assert updates[0]["custom_fields"]["categories"] == {"Advertising": True, "C0004": False}


def test_unmapped_categories_write_nothing_and_need_no_map_without_a_signal():
    def no_query() -> ConsentMap:
        raise AssertionError("the map is read only when a message carries a signal")

    message = {"type": "track", "event": "e", "userId": "u"}
    translate_message(message, call_type=None, compartment_id=1, received_at=RECEIVED, signals=Signals(no_query))
    assert signal_choice_updates(MAP, categories={"Functional": True}, signal="consent", gpc=False, choice_ts=1) == []


@pytest.mark.parametrize(
    ("context", "field"),
    [
        ({"consent": "yes"}, "context.consent"),
        ({"consent": {"categoryPreferences": ["Advertising"]}}, "context.consent.categoryPreferences"),
        (
            {"consent": {"categoryPreferences": {"Advertising": "no"}}},
            "context.consent.categoryPreferences.Advertising",
        ),
        ({"consentManagement": {"allowedConsentIds": "C0001"}}, "context.consentManagement.allowedConsentIds"),
        ({"consentManagement": [1]}, "context.consentManagement"),
    ],
)
def test_malformed_signals_are_refused_naming_the_field(context, field):
    with pytest.raises(MessageInvalid, match=field.replace(".", r"\.")):
        segment({"type": "track", "event": "e", "userId": "u", "context": context})


def test_braze_consent_in_attributes_events_and_purchases():
    body = {
        "attributes": [{"external_id": "u1", "first_name": "Ann", "consent": {"Advertising": False}}],
        "events": [
            {
                "external_id": "u1",
                "name": "played",
                "time": "2026-12-01T10:00:00Z",
                "properties": {"consent": {"Analytics": True}},
            }
        ],
        "purchases": [
            {
                "external_id": "u1",
                "product_id": "p",
                "currency": "EUR",
                "price": 1,
                "time": "2026-12-01T10:00:00Z",
                "properties": {"consent": {"DataSharing": True}},
            },
            {
                "external_id": "u1",
                "product_id": "p",
                "currency": "EUR",
                "price": 1,
                "time": "2026-12-01T10:00:00Z",
                "properties": {"consent": 3},
            },
        ],
    }
    translation = translate_track(body, compartment_id=1, signals=signals(), now_ms=42)
    items = translation.items
    assert by_processing(items[0].payload["choice_updates"]) == {ADS: (False, "consent"), SHARING: (False, "consent")}
    assert {u["choice_ts"] for u in items[0].payload["choice_updates"]} == {42}  # attributes: as of receipt
    assert "consent" not in items[0].payload["profile_updates"][0]["properties"]  # a signal, not an attribute
    assert by_processing(items[1].payload["choice_updates"]) == {ANALYTICS: (True, "consent")}
    assert items[1].payload["choice_updates"][0]["choice_ts"] == EVENT_MS
    assert by_processing(items[2].payload["choice_updates"]) == {SHARING: (True, "consent")}
    assert translation.errors == [
        {
            "type": "properties.consent: must be an object of category: true/false",
            "input_array": "purchases",
            "index": 1,
        }
    ]


def test_thrivestack_consent_in_track_properties_and_identify_traits():
    track = {
        "event_name": "signed_up",
        "user_id": "u1",
        "timestamp": "2026-12-01T10:00:00Z",
        "properties": {"consent": {"Analytics": False, "Advertising": True}},
    }
    [payload] = thrivestack_translate("track", track, compartment_id=1, now_ms=1, signals=signals())
    assert by_processing(payload["choice_updates"]) == {
        ADS: (True, "consent"),
        ANALYTICS: (False, "consent"),
        SHARING: (True, "consent"),
    }
    assert {u["choice_ts"] for u in payload["choice_updates"]} == {EVENT_MS}
    identify = {"user_id": "u1", "traits": {"name": "Ann", "consent": {"Analytics": True}}}
    [payload] = thrivestack_translate("identify", identify, compartment_id=1, now_ms=7, signals=signals(gpc=True))
    assert by_processing(payload["choice_updates"]) == {
        ADS: (False, "Sec-GPC"),
        ANALYTICS: (True, "consent"),
        GPC_ONLY: (False, "Sec-GPC"),
    }
    assert payload["profile_updates"][0]["properties"] == {"name": "Ann"}
    with pytest.raises(ThrivestackInvalid, match=r"traits\.consent"):
        thrivestack_translate(
            "identify", {"user_id": "u", "traits": {"consent": []}}, compartment_id=1, now_ms=1, signals=signals()
        )
