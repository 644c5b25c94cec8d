"""Validation and translation of Thrivestack `/api/track`, `/api/identify` and `/api/group` (spec 4).

Pure: no Django import. A request is one object or an array of them; it is accepted whole or refused whole
(the Thrivestack answer has no room for partial success), with a message naming the object and field at fault.
"""

from __future__ import annotations

from typing import Any

from apps.activities.canonical import CanonicalPayload, empty_payload
from apps.choices.signals import CONSENT_OBJECT, NO_SIGNALS, SignalInvalid, Signals, categories_of_preferences
from apps.dialects.braze.times import NotATime, iso8601_to_ms
from apps.profiles.strategies import PARTIAL_UPDATE
from apps.userpoints.identifiers import Identifier, account_identifier, agent_identifier, dedupe, email_identifier

KINDS = ("track", "identify", "group")
MAX_OBJECTS = 1000
ACTIVITY_TYPE = "TOUCH"  # a server-side interaction, not a visit
# Event properties that describe the user (spec 4): they also update the user's profile. The seed's own sample
# writes "first name" / "last name" with a space; they are read as first_name / last_name.
USER_PROPERTIES = {
    "email": "email",
    "name": "name",
    "first_name": "first_name",
    "last_name": "last_name",
    "first name": "first_name",
    "last name": "last_name",
}


# The identifier columns' widths: an id that does not fit is refused here, not failed later by the pipeline.
MAX_ID_CHARS = 255
MAX_EMAIL_CHARS = 320


class ThrivestackInvalid(ValueError):
    pass


def _id_text(value: Any, where: str, max_chars: int = MAX_ID_CHARS) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not (isinstance(value, str) and value.strip()):
        raise ThrivestackInvalid(f"{where} is required, a non-empty string")
    if len(value) > max_chars:
        raise ThrivestackInvalid(f"{where} must be at most {max_chars} characters")
    return value


def _object(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ThrivestackInvalid(f"{where} must be an object")
    return value


def _email(value: Any, where: str) -> Identifier | None:
    if value is None:
        return None
    if not (isinstance(value, str) and "@" in value.strip()[1:-1] and len(value.strip()) <= MAX_EMAIL_CHARS):
        raise ThrivestackInvalid(f"{where} must be an e-mail address")
    return email_identifier(email=value.strip())


def _consent(value: Any, where: str) -> dict[str, bool]:
    try:
        return categories_of_preferences(value, where)
    except SignalInvalid as exc:
        raise ThrivestackInvalid(str(exc)) from None


def _one(kind: str, obj: Any, prefix: str, compartment_id: int, now_ms: int, signals: Signals) -> CanonicalPayload:
    if not isinstance(obj, dict):
        raise ThrivestackInvalid(f"{prefix.rstrip('.') or 'the body'} must be a JSON object")
    user_id = _id_text(obj.get("user_id"), f"{prefix}user_id")
    identifiers: list[Identifier] = [account_identifier(compartment_id, user_id)]
    ts = now_ms
    if obj.get("timestamp") is not None:
        try:
            ts = iso8601_to_ms(obj["timestamp"])
        except NotATime as exc:
            raise ThrivestackInvalid(f"{prefix}timestamp: {exc}") from None
    context = _object(obj.get("context"), f"{prefix}context")
    if context.get("device_id") is not None:
        device = _id_text(context["device_id"], f"{prefix}context.device_id", MAX_ID_CHARS - len("device:"))
        identifiers.append(agent_identifier(f"device:{device}"))
    payload = empty_payload()
    profile: dict[str, Any] = {}
    merge_objects = False
    consent: dict[str, bool] = {}

    if kind == "track":
        name = obj.get("event_name", obj.get("event"))
        if not (isinstance(name, str) and name.strip()):
            raise ThrivestackInvalid(f"{prefix}event_name is required, a non-empty string")
        properties = _object(obj.get("properties"), f"{prefix}properties")
        consent = _consent(properties.get(CONSENT_OBJECT), f"{prefix}properties.{CONSENT_OBJECT}")
        email = _email(properties.get("email"), f"{prefix}properties.email")
        if email:
            identifiers.append(email)
        profile = {USER_PROPERTIES[k]: v for k, v in properties.items() if k in USER_PROPERTIES}
        document: dict[str, Any] = {
            "$type": ACTIVITY_TYPE,
            "$ts": ts,
            "$events": [{"$ts": ts, "$event_name": name, "$properties": properties}],
            "thrivestack": obj,
        }
        payload["activity"] = {"type": ACTIVITY_TYPE, "ts": ts, "document": document}
    elif kind == "identify":
        traits = _object(obj.get("traits"), f"{prefix}traits")
        # A `consent` object is a consent signal (spec 6), not a trait of the profile.
        consent = _consent(traits.get(CONSENT_OBJECT), f"{prefix}traits.{CONSENT_OBJECT}")
        profile = {k: v for k, v in traits.items() if k != CONSENT_OBJECT}
        email = _email(profile.get("email"), f"{prefix}traits.email")
        if email:
            identifiers.append(email)
    else:  # group
        group_id = _id_text(obj.get("group_id"), f"{prefix}group_id")
        traits = _object(obj.get("traits"), f"{prefix}traits")
        # Merged, so the user's other groups (and this group's traits not sent again) are kept.
        profile = {"groups": {group_id: traits}}
        merge_objects = True

    payload["identifiers"] = [i.to_canonical() for i in dedupe(identifiers)]
    payload["choice_updates"] = signals.choice_updates(categories=consent, signal=CONSENT_OBJECT, choice_ts=ts)
    if profile:
        payload["profile_updates"] = [
            {
                "compartment_id": compartment_id,
                "user_account_id": user_id,
                "properties": profile,
                "strategy": PARTIAL_UPDATE,
                "merge_objects": merge_objects,
            }
        ]
    return payload


def translate(
    kind: str, body: Any, *, compartment_id: int, now_ms: int, signals: Signals = NO_SIGNALS
) -> list[CanonicalPayload]:
    """One canonical payload per object; raises ThrivestackInvalid naming the first problem.

    `compartment_id` is where `user_id` accounts live; `now_ms` is the time of an object without `timestamp`. A
    `consent` object (track properties, identify traits) and the request's Global Privacy Control (`signals`) become
    choice updates at the object's time (spec 6).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown Thrivestack call {kind!r}")
    if isinstance(body, list):
        if not body:
            raise ThrivestackInvalid("the body is an empty array")
        if len(body) > MAX_OBJECTS:
            raise ThrivestackInvalid(f"the body holds {len(body)} objects; at most {MAX_OBJECTS} are allowed")
        return [_one(kind, obj, f"[{index}].", compartment_id, now_ms, signals) for index, obj in enumerate(body)]
    if not isinstance(body, dict):
        raise ThrivestackInvalid("the body must be a JSON object or an array of objects")
    return [_one(kind, body, "", compartment_id, now_ms, signals)]
