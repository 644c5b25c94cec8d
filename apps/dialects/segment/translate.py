"""Validation and translation of Segment-style messages (spec 2) into canonical payloads. Pure: no Django import.

One message becomes one canonical payload (identifiers, an activity keeping the whole message, profile updates,
`link_if_known` for alias) and, when the client sent a `messageId`, one inbox `unique_key` ("segment:<messageId>"),
so a retried batch is stored once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache, partial
from typing import Any

from apps.activities.canonical import ActivityPart, CanonicalPayload, ProfileUpdate, empty_payload
from apps.choices.signals import (
    CATEGORY_PREFERENCES,
    CONSENT_MANAGEMENT,
    NO_SIGNALS,
    SignalInvalid,
    Signals,
    categories_of_consent_management,
    categories_of_preferences,
)
from apps.core import fastjson
from apps.core.ids import uuid4_texts
from apps.core.validation import json_problem
from apps.profiles.strategies import PARTIAL_UPDATE
from apps.userpoints.identifiers import Identifier, account_identifier, agent_identifier, dedupe, email_identifier

CALL_TYPES = ("identify", "track", "page", "screen", "group", "alias")
SHORT_NAMES = {"i": "identify", "t": "track", "p": "page", "s": "screen", "g": "group", "a": "alias"}

# "KB" read as KiB, the larger reading: the limits exist to bound memory, not to refuse borderline clients.
MESSAGE_MAX_BYTES = 15 * 1024
BATCH_MAX_BYTES = 500 * 1024
BATCH_MAX_MESSAGES = 2500

UNIQUE_KEY_PREFIX = "segment:"
# The inbox unique_key column holds 255 characters, prefix included.
MESSAGE_ID_MAX_CHARS = 255 - len(UNIQUE_KEY_PREFIX)
ANONYMOUS_PREFIX = "anon:"
# Widths of the identifier columns (apps/userpoints/models.py).
ACCOUNT_MAX_CHARS = 255
AGENT_MAX_CHARS = 255 - len(ANONYMOUS_PREFIX)
EMAIL_MAX_CHARS = 320

# mediarithmics activity types and event names the Segment calls become (the activity keeps the message too).
ACTIVITY_OF_CALL = {
    "identify": ("TOUCH", "$identify"),
    "track": ("TOUCH", None),  # the event is named by the message's `event`
    "page": ("SITE_VISIT", "$page_view"),
    "screen": ("APP_VISIT", "$screen_view"),
    "group": ("TOUCH", "$group"),
    "alias": ("TOUCH", "$alias"),
}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


class MessageInvalid(ValueError):
    """A message that cannot be accepted; the text names the field."""


class MessageTooLarge(ValueError):
    def __init__(self, size: int, where: str = "") -> None:
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}the message is {size} bytes; the limit is {MESSAGE_MAX_BYTES}")
        self.size = size


class BatchTooLarge(ValueError):
    pass


@dataclass(frozen=True)
class Translated:
    payload: CanonicalPayload
    # None when the server drew the message id: nobody else knows it, so no retry can repeat it, and the inbox skips
    # the dedupe key's row (10 to 16 µs of the database's CPU per message: bench/segment_batch.py, _ids or not).
    unique_key: str | None


@dataclass(frozen=True)
class BatchResult:
    accepted: list[Translated]
    errors: list[str]  # "batch[3]: what is wrong", in message order


def call_type_of(name: str) -> str | None:
    """The call type of a path segment ("track" or "t"), or None."""
    if name in CALL_TYPES:
        return name
    return SHORT_NAMES.get(name)


def message_size(message: Any) -> int:
    """Bytes of the message as compact UTF-8 JSON: never more than what the client sent for it."""
    return fastjson.size(message)


def parse_timestamp(value: Any, field: str) -> datetime:
    """An ISO 8601 string as an aware datetime (UTC when no offset is given); MessageInvalid naming the field."""
    if not isinstance(value, str) or not value.strip():
        raise MessageInvalid(f"{field}: must be an ISO 8601 date string")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise MessageInvalid(f"{field}: {value[:64]!r} is not an ISO 8601 date") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def iso(moment: datetime) -> str:
    if moment.tzinfo is not UTC:  # mostly UTC already (the receipt time, a "Z" timestamp): no conversion then
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // _MS


def _id(message: Mapping[str, Any], field: str, max_chars: int | None = None) -> str | None:
    """An id given as a string or an integer; null and "" count as absent (spec 2)."""
    value = message.get(field)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise MessageInvalid(f"{field}: must be a string")
    text = str(value)
    if max_chars is not None and len(text) > max_chars:
        # Refused now rather than failing in the pipeline: the identifier columns hold this many characters.
        raise MessageInvalid(f"{field}: must be at most {max_chars} characters")
    return text


def _object(message: Mapping[str, Any], field: str) -> dict[str, Any] | None:
    value = message.get(field)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise MessageInvalid(f"{field}: must be an object")
    return value


def _email(traits: Mapping[str, Any] | None) -> Identifier | None:
    """An e-mail trait that looks like an address; anything else stays a plain trait."""
    if not traits:
        return None
    email = traits.get("email")
    if isinstance(email, str) and "@" in email and len(email.strip()) <= EMAIL_MAX_CHARS:
        return email_identifier(email=email.strip())
    return None


def _timestamps(message: dict[str, Any], received_at: datetime, batch_sent_at: Any) -> datetime:
    """Sets `receivedAt`, `originalTimestamp` and the skew-corrected `timestamp`; returns the corrected time.
    The message's own time is `timestamp`, else `originalTimestamp` (what RudderStack's libraries send, spec 5)."""
    raw_ts = message.get("timestamp")
    if raw_ts is None:
        raw_ts = message.get("originalTimestamp")
    raw_sent = message.get("sentAt")
    if raw_sent is None:
        raw_sent = batch_sent_at
    ts_field = "timestamp" if message.get("timestamp") is not None else "originalTimestamp"
    original = parse_timestamp(raw_ts, ts_field) if raw_ts is not None else None
    if raw_sent is None:
        sent = None
    elif isinstance(raw_sent, str):
        sent = _sent_at(raw_sent)  # mostly the batch's, the same for every message
    else:
        sent = parse_timestamp(raw_sent, "sentAt")
    if original is not None and sent is not None:
        # The client's clock is off by (sentAt - receivedAt); the event happened that much before the receipt.
        try:
            corrected = received_at - (sent - original)
        except OverflowError:
            raise MessageInvalid("timestamp: out of range once corrected by sentAt") from None
    elif original is not None:
        corrected = original
    else:
        corrected = received_at
    if original is not None:
        message.setdefault("originalTimestamp", raw_ts)
    if sent is not None:
        message["sentAt"] = raw_sent
    message["timestamp"] = iso(corrected)
    message["receivedAt"] = _received_iso(received_at)
    return corrected


# Each is the same for every message of a request: worked out once (exceptions are not kept, so each message
# still gets its own error).
@lru_cache(maxsize=64)
def _sent_at(value: str) -> datetime:
    return parse_timestamp(value, "sentAt")


@lru_cache(maxsize=64)
def _received_iso(received_at: datetime) -> str:
    return iso(received_at)


def translate_message(
    message: Any,
    *,
    call_type: str | None,
    compartment_id: int,
    received_at: datetime,
    batch_sent_at: Any = None,
    batch_context: Mapping[str, Any] | None = None,
    batch_integrations: Mapping[str, Any] | None = None,
    new_message_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    check_strings: bool = True,
    signals: Signals = NO_SIGNALS,
) -> Translated:
    """The canonical payload of one message; `call_type` None takes it from the message's `type` (batch, webhook).
    Its consent signals (`context.consent.categoryPreferences`, RudderStack's `context.consentManagement`, and the
    request's Global Privacy Control in `signals`) become choice updates at the message's corrected time (spec 6).

    Raises MessageInvalid naming the first field at fault. `check_strings=False` skips looking for what the
    database cannot store, for callers that know the body holds no `\\u0000` or surrogate escape.
    """
    if not isinstance(message, dict):
        raise MessageInvalid("the message must be a JSON object")
    if check_strings and (problem := json_problem(message)):
        raise MessageInvalid(problem)
    kind = call_type if call_type is not None else message.get("type")
    if kind not in CALL_TYPES:
        if kind is None:
            raise MessageInvalid(f"type: is required, one of {', '.join(CALL_TYPES)}")
        raise MessageInvalid(f"type: must be one of {', '.join(CALL_TYPES)}")
    # The write key is a secret: it is never stored with the activity.
    document = dict(message)
    document.pop("writeKey", None)
    document["type"] = kind
    for field, inherited in (("context", batch_context), ("integrations", batch_integrations)):
        own = _object(document, field)
        if inherited:
            document[field] = {**inherited, **(own or {})}  # the message's own keys win (spec 2)

    user_id = _id(document, "userId", ACCOUNT_MAX_CHARS)
    anonymous_id = _id(document, "anonymousId", AGENT_MAX_CHARS)
    if user_id is None and anonymous_id is None:
        raise MessageInvalid("userId or anonymousId is required")
    client_message_id = _id(document, "messageId")
    message_id = client_message_id or new_message_id()
    if len(message_id) > MESSAGE_ID_MAX_CHARS:
        raise MessageInvalid(f"messageId: must be at most {MESSAGE_ID_MAX_CHARS} characters")
    document["messageId"] = message_id

    context = document.get("context") or {}
    context_traits = context.get("traits") if isinstance(context.get("traits"), dict) else None
    consent_categories, consent_signal = _consent_signals(context)
    payload = empty_payload()
    account = account_identifier(compartment_id, user_id) if user_id is not None else None
    identifiers: list[Identifier | None] = [
        account,
        agent_identifier(ANONYMOUS_PREFIX + anonymous_id) if anonymous_id is not None else None,
        _email(context_traits),
    ]
    activity_type, event_name = ACTIVITY_OF_CALL[kind]
    event_properties: dict[str, Any] = {}

    if kind == "identify":
        traits = _object(document, "traits") or {}
        identifiers.append(_email(traits))
        payload["profile_updates"].append(
            _profile_update(compartment_id, user_id, {**(context_traits or {}), **traits}, merge_objects=False)
        )
        event_properties = traits
    elif kind == "track":
        event = document.get("event")
        if not isinstance(event, str) or not event.strip():
            raise MessageInvalid("event: is required, a non-empty string")
        event_name = event
        event_properties = _object(document, "properties") or {}
    elif kind in ("page", "screen"):
        event_properties = dict(_object(document, "properties") or {})
        for field in ("name", "category"):
            if document.get(field) is not None:
                event_properties.setdefault(field, document[field])
    elif kind == "group":
        group_id = _id(document, "groupId")
        if group_id is None:
            raise MessageInvalid("groupId: is required")
        # A group's traits describe the group, so an e-mail among them is not the user's.
        group_traits = _object(document, "traits") or {}
        # merge_objects: other groups, and earlier traits of this one, are kept (Segment traits accumulate).
        payload["profile_updates"].append(
            _profile_update(compartment_id, user_id, {"groups": {group_id: group_traits}}, merge_objects=True)
        )
        event_properties = {"groupId": group_id, **group_traits}
    else:  # alias
        # Looked up both as an account and as an anonymous id, so it must fit the narrower of the two.
        previous_id = _id(document, "previousId", AGENT_MAX_CHARS)
        if previous_id is None:
            raise MessageInvalid("previousId: is required")
        if account is None:
            raise MessageInvalid("userId: is required for alias")
        # previousId may be an earlier user id or an anonymous id: whichever already has a point is merged in.
        payload["link_if_known"] = [
            account_identifier(compartment_id, previous_id).to_canonical(),
            agent_identifier(ANONYMOUS_PREFIX + previous_id).to_canonical(),
        ]
        event_properties = {"previousId": previous_id}

    corrected = _timestamps(document, received_at, batch_sent_at)
    ts = epoch_ms(corrected)
    assert event_name is not None
    document["$type"] = activity_type
    document["$ts"] = ts
    document["$events"] = [{"$ts": ts, "$event_name": event_name, "$properties": event_properties}]
    payload["identifiers"] = [i.to_canonical() for i in dedupe([i for i in identifiers if i is not None])]
    payload["activity"] = ActivityPart(type=activity_type, ts=ts, document=document)
    payload["choice_updates"] = signals.choice_updates(
        categories=consent_categories, signal=consent_signal, choice_ts=ts, source_ref=message_id
    )
    return Translated(payload=payload, unique_key=UNIQUE_KEY_PREFIX + message_id if client_message_id else None)


def _consent_signals(context: Any) -> tuple[dict[str, bool], str]:
    """The categories a message's consent manager decided, and which signal said so (spec 6)."""
    if not isinstance(context, dict):
        return {}, ""
    categories: dict[str, bool] = {}
    kinds: list[str] = []
    try:
        consent = context.get("consent")
        if consent is not None:
            if not isinstance(consent, dict):
                raise SignalInvalid("context.consent: must be an object")
            preferences = categories_of_preferences(
                consent.get("categoryPreferences"), "context.consent.categoryPreferences"
            )
            if preferences:
                categories.update(preferences)
                kinds.append(CATEGORY_PREFERENCES)
        managed = categories_of_consent_management(context.get("consentManagement"), "context.consentManagement")
    except SignalInvalid as exc:
        raise MessageInvalid(str(exc)) from None
    if managed:
        for category, accepted in managed.items():
            # One category given twice with two values: refused, as any conflict (spec 6).
            categories[category] = categories.get(category, accepted) and accepted
        kinds.append(CONSENT_MANAGEMENT)
    return categories, ", ".join(kinds)


def _profile_update(
    compartment_id: int, user_id: str | None, properties: dict[str, Any], *, merge_objects: bool
) -> ProfileUpdate:
    # Keyed like a mediarithmics profile: the user's account in the key's compartment, or, for an anonymous
    # visitor, the point's anonymous profile in that compartment.
    return {
        "compartment_id": compartment_id,
        "user_account_id": user_id,
        "properties": properties,
        "strategy": PARTIAL_UPDATE,
        "merge_objects": merge_objects,
    }


def translate_batch(
    body: Any,
    *,
    compartment_id: int,
    received_at: datetime,
    body_size: int,
    new_message_id: Callable[[], str] | None = None,
    check_strings: bool = True,
    signals: Signals = NO_SIGNALS,
) -> BatchResult:
    """Each message of a `{"batch": [...]}` body translated, or listed as an error (spec 2, batch).

    Raises MessageInvalid when the body is not a batch and BatchTooLarge above 2,500 messages. A message over
    15 KB is one error of the batch, its neighbours are accepted (spec 5: a library must not lose a whole batch
    for one large event).
    """
    if not isinstance(body, dict):
        raise MessageInvalid("the body must be a JSON object with a `batch` list")
    messages = body.get("batch")
    if not isinstance(messages, list):
        raise MessageInvalid("batch: is required, a list of messages")
    if len(messages) > BATCH_MAX_MESSAGES:
        raise BatchTooLarge(f"batch: {len(messages)} messages; the limit is {BATCH_MAX_MESSAGES}")
    # A message cannot be larger than the body that holds it, so small bodies skip the per-message measure.
    oversized: dict[int, MessageTooLarge] = {}
    if body_size > MESSAGE_MAX_BYTES:
        for index, message in enumerate(messages):
            size = message_size(message)
            if size > MESSAGE_MAX_BYTES:
                oversized[index] = MessageTooLarge(size, f"batch[{index}]")
    context = body.get("context")
    integrations = body.get("integrations")
    accepted: list[Translated] = []
    errors: list[str] = []
    if context is not None and not isinstance(context, dict):
        raise MessageInvalid("context: must be an object")
    if integrations is not None and not isinstance(integrations, dict):
        raise MessageInvalid("integrations: must be an object")
    if check_strings and (problem := json_problem([context, integrations, body.get("sentAt")])):
        raise MessageInvalid(problem)
    if new_message_id is None:
        # A message without its own id takes one of these (each message draws one at most).
        new_message_id = partial(next, iter(uuid4_texts(len(messages))))
    for index, message in enumerate(messages):
        if index in oversized:
            errors.append(str(oversized[index]))
            continue
        try:
            accepted.append(
                translate_message(
                    message,
                    call_type=None,
                    compartment_id=compartment_id,
                    received_at=received_at,
                    batch_sent_at=body.get("sentAt"),
                    batch_context=context,
                    batch_integrations=integrations,
                    new_message_id=new_message_id,
                    check_strings=check_strings,
                    signals=signals,
                )
            )
        except MessageInvalid as exc:
            errors.append(f"batch[{index}]: {exc}")
    return BatchResult(accepted=accepted, errors=errors)
