"""Validation and translation of a Braze `/users/track` body (spec 3). Pure: no Django import.

Each attributes, event or purchase object names one user, so each becomes one canonical payload. An invalid
object is skipped and reported as a non-fatal error; only a body that cannot be read as a whole is fatal.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from apps.activities.canonical import CanonicalPayload, empty_payload
from apps.choices.signals import CONSENT_OBJECT, NO_SIGNALS, SignalInvalid, Signals, categories_of_preferences
from apps.dialects.braze.attributes import BRAZE_ATTRIBUTES, attribute_problem, is_number
from apps.dialects.braze.times import NotATime, iso8601_to_ms
from apps.userpoints.identifiers import (
    Identifier,
    account_identifier,
    agent_identifier,
    dedupe,
    email_identifier,
)

MAX_OBJECTS = 75
ARRAYS = ("attributes", "events", "purchases")
# Keys that name the user or steer processing: never stored as attributes. `email` and `phone` name the user
# *and* are standard Braze attributes, so they stay in the profile too.
CONTROL_KEYS = ("external_id", "braze_id", "user_alias", "_update_existing_only", "_merge_objects")
ACTIVITY_TYPE = "TOUCH"  # a server-side interaction, not a visit
PURCHASE_EVENT = "$transaction_confirmed"
NO_USER = "'external_id', 'braze_id', 'user_alias', 'email' or 'phone' is required"
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")
# The identifier columns' widths: an id that does not fit is refused here, not failed later by the pipeline.
MAX_ID_CHARS = 255
MAX_EMAIL_CHARS = 320


class BrazeFatal(Exception):
    """The whole request is refused (400): `message` and the `errors` list of the answer."""

    def __init__(self, message: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors


class _Skip(Exception):
    """One object is invalid: skipped, reported as a non-fatal error of this type."""


@dataclass
class Item:
    """One valid object, translated."""

    input_array: str
    index: int
    payload: CanonicalPayload
    identifiers: list[Identifier]
    update_existing_only: bool


@dataclass
class Translation:
    items: list[Item] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    arrays_sent: list[str] = field(default_factory=list)

    def skip(self, error_type: str, input_array: str, index: int) -> None:
        self.errors.append({"type": error_type, "input_array": input_array, "index": index})


def _id_text(value: Any, name: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not (isinstance(value, str) and value.strip()):
        raise _Skip(f"'{name}' must be a non-empty string")
    if len(value) > MAX_ID_CHARS:
        raise _Skip(f"'{name}' must be at most {MAX_ID_CHARS} characters")
    return value


def _agent(user_agent_id: str, name: str) -> Identifier:
    if len(user_agent_id) > MAX_ID_CHARS:
        raise _Skip(f"'{name}' is too long: the identifier must be at most {MAX_ID_CHARS} characters")
    return agent_identifier(user_agent_id)


def _user(obj: dict[str, Any], compartment_id: int) -> tuple[list[Identifier], str | None]:
    """The identifiers naming the object's user (spec 3), and its external id (the profile's account)."""
    found: list[Identifier] = []
    external_id: str | None = None
    if obj.get("external_id") is not None:
        external_id = _id_text(obj["external_id"], "external_id")
        found.append(account_identifier(compartment_id, external_id))
    if obj.get("braze_id") is not None:
        found.append(_agent(f"braze:{_id_text(obj['braze_id'], 'braze_id')}", "braze_id"))
    alias = obj.get("user_alias")
    if alias is not None:
        if not isinstance(alias, dict):
            raise _Skip("'user_alias' must be an object with 'alias_name' and 'alias_label'")
        name = _id_text(alias.get("alias_name"), "user_alias.alias_name")
        label = _id_text(alias.get("alias_label"), "user_alias.alias_label")
        found.append(_agent(f"alias:{label}:{name}", "user_alias"))
    email = obj.get("email")
    if email is not None:
        if not (isinstance(email, str) and "@" in email.strip()[1:-1] and len(email.strip()) <= MAX_EMAIL_CHARS):
            raise _Skip("'email' must be an e-mail address")
        found.append(email_identifier(email=email.strip()))
    phone = obj.get("phone")
    if phone is not None:
        digits = re.sub(r"\D", "", str(phone)) if isinstance(phone, str | int) and not isinstance(phone, bool) else ""
        if not digits:
            raise _Skip("'phone' must be a phone number")
        found.append(_agent(f"phone:{digits}", "phone"))
    if not found:
        raise _Skip(NO_USER)
    return dedupe(found), external_id


def _flag(obj: dict[str, Any], name: str, default: bool) -> bool:
    value = obj.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _Skip(f"'{name}' must be true or false")
    return value


def _time(obj: dict[str, Any]) -> int:
    if obj.get("time") is None:
        raise _Skip("'time' is required")
    try:
        return iso8601_to_ms(obj["time"])
    except NotATime as exc:
        raise _Skip(f"'time' {exc}") from None


def _properties(obj: dict[str, Any]) -> dict[str, Any]:
    properties = obj.get("properties", {})
    if properties is None:
        return {}
    if not isinstance(properties, dict):
        raise _Skip("'properties' must be an object")
    return properties


def _app_id(obj: dict[str, Any]) -> str | None:
    app_id = obj.get("app_id")
    if app_id is not None and not isinstance(app_id, str):
        raise _Skip("'app_id' must be a string")
    return app_id


def _activity_payload(
    identifiers: list[Identifier], ts: int, event_name: str, properties: dict[str, Any], app_id: str | None, obj: Any
) -> CanonicalPayload:
    """A mediarithmics-shaped activity with one event, so every activity reads alike; the object is kept whole."""
    document: dict[str, Any] = {
        "$type": ACTIVITY_TYPE,
        "$ts": ts,
        "$events": [{"$ts": ts, "$event_name": event_name, "$properties": properties}],
        "braze": obj,
    }
    if app_id is not None:
        document["$app_id"] = app_id
    payload = empty_payload()
    payload["identifiers"] = [i.to_canonical() for i in identifiers]
    payload["activity"] = {"type": ACTIVITY_TYPE, "ts": ts, "document": document}
    return payload


def _consent(value: Any, where: str) -> dict[str, bool]:
    try:
        return categories_of_preferences(value, where)
    except SignalInvalid as exc:
        raise _Skip(str(exc)) from None


def _signal_updates(payload: CanonicalPayload, signals: Signals, categories: dict[str, bool], ts: int) -> None:
    payload["choice_updates"] = signals.choice_updates(categories=categories, signal=CONSENT_OBJECT, choice_ts=ts)


def _attributes(obj: dict[str, Any], compartment_id: int, signals: Signals, now_ms: int) -> Item:
    identifiers, external_id = _user(obj, compartment_id)
    # Braze: attributes for a user known only by an alias update existing users unless told otherwise.
    update_existing_only = _flag(obj, "_update_existing_only", "user_alias" in obj)
    merge_objects = _flag(obj, "_merge_objects", False)
    # A `consent` object is a consent signal (spec 6), not an attribute of the profile.
    consent = _consent(obj.get(CONSENT_OBJECT), CONSENT_OBJECT)
    properties = {k: v for k, v in obj.items() if k not in CONTROL_KEYS and k != CONSENT_OBJECT}
    for name, value in properties.items():
        problem = attribute_problem(name, value)
        if problem:
            raise _Skip(problem)
    payload = empty_payload()
    payload["identifiers"] = [i.to_canonical() for i in identifiers]
    payload["profile_updates"] = [
        {
            "compartment_id": compartment_id,
            "user_account_id": external_id,
            "properties": properties,
            "strategy": BRAZE_ATTRIBUTES,
            "merge_objects": merge_objects,
        }
    ]
    # An attributes object has no time of its own: the signal is as of its receipt.
    _signal_updates(payload, signals, consent, now_ms)
    return Item("attributes", -1, payload, identifiers, update_existing_only)


def _event(obj: dict[str, Any], compartment_id: int, signals: Signals, now_ms: int) -> Item:
    identifiers, _ = _user(obj, compartment_id)
    name = obj.get("name")
    if not (isinstance(name, str) and name.strip()):
        raise _Skip("'name' is required, a non-empty string")
    ts = _time(obj)
    properties = _properties(obj)
    consent = _consent(properties.get(CONSENT_OBJECT), f"properties.{CONSENT_OBJECT}")
    payload = _activity_payload(identifiers, ts, name, properties, _app_id(obj), obj)
    _signal_updates(payload, signals, consent, ts)
    return Item("events", -1, payload, identifiers, _flag(obj, "_update_existing_only", False))


def _purchase(obj: dict[str, Any], compartment_id: int, signals: Signals, now_ms: int) -> Item:
    identifiers, _ = _user(obj, compartment_id)
    product_id = obj.get("product_id")
    if not (isinstance(product_id, str) and product_id.strip() and len(product_id) <= 255):
        raise _Skip("'product_id' is required, a non-empty string of at most 255 characters")
    currency = obj.get("currency")
    if not (isinstance(currency, str) and _CURRENCY.match(currency)):
        raise _Skip("'currency' is required, a three-letter ISO 4217 code")
    price = obj.get("price")
    if not is_number(price):
        raise _Skip("'price' is required, a number")
    quantity = obj.get("quantity", 1)
    if not (isinstance(quantity, int) and not isinstance(quantity, bool) and 1 <= quantity <= 100):
        raise _Skip("'quantity' must be an integer from 1 to 100")
    ts = _time(obj)
    properties = _properties(obj)
    carried: dict[str, Any] = {
        "product_id": product_id,
        "currency": currency.upper(),
        "price": price,
        "quantity": quantity,
    }
    if properties:
        carried["properties"] = properties
    consent = _consent(properties.get(CONSENT_OBJECT), f"properties.{CONSENT_OBJECT}")
    payload = _activity_payload(identifiers, ts, PURCHASE_EVENT, carried, _app_id(obj), obj)
    _signal_updates(payload, signals, consent, ts)
    return Item("purchases", -1, payload, identifiers, _flag(obj, "_update_existing_only", False))


_TRANSLATORS = {"attributes": _attributes, "events": _event, "purchases": _purchase}


def translate_track(
    body: Any, *, compartment_id: int, signals: Signals = NO_SIGNALS, now_ms: int | None = None
) -> Translation:
    """Every valid object translated, every invalid one listed; raises BrazeFatal when the body is unusable.

    `compartment_id` is where `external_id` accounts live (the key's compartment, else the default). A `consent`
    object (in an attributes object or an event's or purchase's properties) and the request's Global Privacy Control
    (`signals`) become choice updates (spec 6); `now_ms` is the time of those of an attributes object.
    """
    received_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    if not isinstance(body, dict):
        raise BrazeFatal("Invalid request body", [{"type": "the body must be a JSON object"}])
    translation = Translation()
    arrays: dict[str, list[Any]] = {}
    too_long: list[dict[str, Any]] = []
    for name in ARRAYS:
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, list):
            raise BrazeFatal(
                f"'{name}' must be an array", [{"type": f"'{name}' must be an array of objects", "input_array": name}]
            )
        if len(value) > MAX_OBJECTS:
            too_long.append(
                {
                    "type": f"'{name}' holds {len(value)} objects; at most {MAX_OBJECTS} are allowed",
                    "input_array": name,
                }
            )
        arrays[name] = value
    if too_long:
        raise BrazeFatal("Max Input Length Exceeded", too_long)
    if not any(arrays.values()):
        raise BrazeFatal(
            "Valid data must be provided in the 'attributes', 'events', or 'purchases' fields.",
            [{"type": "no attributes, events or purchases object was sent"}],
        )
    translation.arrays_sent = list(arrays)
    for name, objects in arrays.items():
        for index, obj in enumerate(objects):
            if not isinstance(obj, dict):
                translation.skip(f"{name} object must be a JSON object", name, index)
                continue
            try:
                item = _TRANSLATORS[name](obj, compartment_id, signals, received_ms)
            except _Skip as exc:
                translation.skip(str(exc), name, index)
                continue
            item.index = index
            translation.items.append(item)
    return translation
