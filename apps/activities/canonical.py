"""The canonical payload every dialect translates into, and the pipeline consumes. Pure: no Django import.

{
  "identifiers":     [{"type": "USER_ACCOUNT", "compartment_id": 1, "user_account_id": "u"}, ...],
  "activity":        {"type": "SITE_VISIT", "ts": <ms>, "document": {...as received...}} or null,
  "profile_updates": [{"compartment_id": 1, "user_account_id": "u" or null, "properties": {...},
                       "strategy": "PARTIAL_UPDATE", "merge_objects": false}],
  "choice_updates":  [{"processing_id": "7", "choice_ts": <ms>, "acceptance_value": true, "custom_fields": {},
                       "signal": true (optional: a consent signal), "source_ref": "..." (optional)}],
  "errors":          ["what could not be applied, recorded as processing errors"]
}
"""

from __future__ import annotations

from typing import Any, TypedDict


class ActivityPart(TypedDict):
    type: str
    ts: int
    document: dict[str, Any]


class ProfileUpdate(TypedDict):
    compartment_id: int
    user_account_id: str | None
    properties: dict[str, Any]
    # PARTIAL_UPDATE, PARTIAL_DELETE, FORCE_REPLACE (spec 1.5), or BRAZE_ATTRIBUTES: `properties` is a Braze
    # attributes object whose operations (inc, add/remove, null) apply to the stored profile
    # (apps/dialects/braze/attributes.py); `merge_objects` is then its `_merge_objects`.
    strategy: str
    merge_objects: bool


class _ChoiceUpdateRequired(TypedDict):
    processing_id: str
    choice_ts: int
    acceptance_value: bool
    custom_fields: dict[str, Any]


class ChoiceUpdate(_ChoiceUpdateRequired, total=False):
    # A consent signal of an event (spec 6): writes nothing when it would not change the stored value.
    signal: bool
    # What the change-log entry names (a Segment messageId); the payload's id when absent.
    source_ref: str


class CanonicalPayload(TypedDict, total=False):
    identifiers: list[dict[str, Any]]
    activity: ActivityPart | None
    profile_updates: list[ProfileUpdate]
    choice_updates: list[ChoiceUpdate]
    errors: list[str]
    link_if_known: list[dict[str, Any]]


def empty_payload() -> CanonicalPayload:
    return {"identifiers": [], "activity": None, "profile_updates": [], "choice_updates": [], "errors": []}
