"""Validation and translation of a mediarithmics UserActivity (spec 1.2, 1.3). Pure: no Django import."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apps.activities.canonical import ActivityPart, CanonicalPayload, empty_payload
from apps.core.validation import EPOCH_MS_MAX, is_id_text
from apps.profiles.strategies import PARTIAL_UPDATE, strip_reserved
from apps.userpoints.identifiers import (
    Identifier,
    account_identifier,
    agent_identifier,
    dedupe,
    email_identifier,
)

ACTIVITY_TYPES = (
    "SITE_VISIT",
    "APP_VISIT",
    "TOUCH",
    "EMAIL",
    "DISPLAY_AD",
    "RECOMMENDER",
    "USER_SCENARIO_START",
    "USER_SCENARIO_STOP",
    "USER_SCENARIO_NODE_ENTER",
    "USER_SCENARIO_NODE_EXIT",
)
SESSION_STATUSES = ("NO_SESSION", "IN_SESSION", "CLOSED_SESSION", "SESSION_SNAPSHOT")
SET_PROFILE_EVENT = "$set_user_profile_properties"
SET_CHOICE_EVENT = "$set_user_choice"


@dataclass
class Problems:
    details: list[tuple[str, str]] = field(default_factory=list)

    def add(self, field_name: str, message: str) -> None:
        self.details.append((field_name, message))

    def __bool__(self) -> bool:
        return bool(self.details)


@dataclass(frozen=True)
class Compartments:
    """The datamart's compartments, as the translation needs them."""

    ids: frozenset[int]
    default_id: int


class ActivityInvalid(ValueError):
    def __init__(self, details: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {m}" for f, m in details))
        self.details = details


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_epoch_ms(value: Any) -> bool:
    return is_int(value) and 0 <= value <= EPOCH_MS_MAX


def _id_string(value: Any) -> str | None:
    """An id given as a string or an integer, as a non-empty string."""
    if is_int(value):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value
    return None


def _compartment(value: Any, where: str, compartments: Compartments, problems: Problems) -> int | None:
    if value is None:
        return compartments.default_id
    text = _id_string(value)
    if text is None or not is_id_text(text):
        problems.add(where, "must be a compartment id (a numeric string)")
        return None
    if int(text) not in compartments.ids:
        problems.add(where, f"compartment {text} is not a compartment of this datamart")
        return None
    return int(text)


def _account(
    compartment_value: Any, account_value: Any, where: str, compartments: Compartments, problems: Problems
) -> Identifier | None:
    prefix = f"{where}." if where else ""  # the legacy root fields have no path before them
    account = _id_string(account_value)
    if account is None:
        problems.add(f"{prefix}$user_account_id", "must be a non-empty string")
        return None
    compartment_id = _compartment(compartment_value, f"{prefix}$compartment_id", compartments, problems)
    if compartment_id is None:
        return None
    return account_identifier(compartment_id, account)


def _email(hash_value: Any, email: Any, where: str, problems: Problems) -> Identifier | None:
    if hash_value is not None and not (isinstance(hash_value, str) and hash_value.strip()):
        problems.add(f"{where}.$hash", "must be a non-empty string")
        return None
    if email is not None and not (isinstance(email, str) and "@" in email):
        problems.add(f"{where}.$email", "must be an e-mail address")
        return None
    if hash_value is None and email is None:
        problems.add(where, "an e-mail identifier needs $hash or $email")
        return None
    return email_identifier(hash_value=hash_value, email=email)


def _agent(value: Any, where: str, problems: Problems) -> Identifier | None:
    agent = _id_string(value)
    if agent is None:
        problems.add(where, "must be a non-empty string")
        return None
    return agent_identifier(agent)


def _identifiers(body: dict[str, Any], compartments: Compartments, problems: Problems) -> list[Identifier]:
    found: list[Identifier | None] = []
    listed = body.get("$user_identifiers")
    if listed is not None:
        if not isinstance(listed, list):
            problems.add("$user_identifiers", "must be a list")
        else:
            for index, item in enumerate(listed):
                where = f"$user_identifiers[{index}]"
                if not isinstance(item, dict):
                    problems.add(where, "must be an object")
                    continue
                kind = item.get("$type")
                if kind == "USER_ACCOUNT":
                    found.append(
                        _account(
                            item.get("$compartment_id"), item.get("$user_account_id"), where, compartments, problems
                        )
                    )
                elif kind == "USER_EMAIL":
                    found.append(_email(item.get("$hash"), item.get("$email"), where, problems))
                elif kind == "USER_AGENT":
                    found.append(_agent(item.get("$user_agent_id"), f"{where}.$user_agent_id", problems))
                else:
                    problems.add(f"{where}.$type", "must be USER_ACCOUNT, USER_EMAIL or USER_AGENT")
    # The legacy root form means the same as the list.
    if body.get("$user_account_id") is not None:
        found.append(_account(body.get("$compartment_id"), body.get("$user_account_id"), "", compartments, problems))
    elif body.get("$compartment_id") is not None:
        problems.add("$user_account_id", "is required with $compartment_id")
    if body.get("$user_agent_id") is not None:
        found.append(_agent(body["$user_agent_id"], "$user_agent_id", problems))
    legacy_email = body.get("$email_hash")
    if legacy_email is not None:
        if isinstance(legacy_email, dict):
            found.append(_email(legacy_email.get("$hash"), legacy_email.get("$email"), "$email_hash", problems))
        elif isinstance(legacy_email, str) and legacy_email.strip():
            found.append(email_identifier(hash_value=legacy_email))
        else:
            problems.add("$email_hash", "must be a hash string or an object with $hash / $email")
    return dedupe([i for i in found if i is not None])


def translate_activity(body: Any, compartments: Compartments) -> tuple[CanonicalPayload, str | None]:
    """The canonical payload of one UserActivity and its `$unique_key`; raises ActivityInvalid with every problem."""
    if not isinstance(body, dict):
        raise ActivityInvalid([("body", "must be a JSON object (one UserActivity)")])
    problems = Problems()

    activity_type = body.get("$type")
    if activity_type is None:
        problems.add("$type", "is required")
    elif activity_type not in ACTIVITY_TYPES:
        problems.add("$type", f"must be one of {', '.join(ACTIVITY_TYPES)}")
    ts = body.get("$ts")
    if ts is None:
        problems.add("$ts", "is required")
    elif not is_epoch_ms(ts):
        problems.add("$ts", f"must be an integer (epoch milliseconds, 0 to {EPOCH_MS_MAX})")
    session_status = body.get("$session_status", "NO_SESSION")
    if session_status not in SESSION_STATUSES:
        problems.add("$session_status", f"must be one of {', '.join(SESSION_STATUSES)}")
    unique_key = body.get("$unique_key")
    if unique_key is not None and not (isinstance(unique_key, str) and unique_key and len(unique_key) <= 255):
        problems.add("$unique_key", "must be a non-empty string of at most 255 characters")

    problems_before_identifiers = len(problems.details)
    identifiers = _identifiers(body, compartments, problems)
    identifier_problems = len(problems.details) > problems_before_identifiers
    payload = empty_payload()

    events = body.get("$events", [])
    if not isinstance(events, list):
        problems.add("$events", "must be a list")
        events = []
    profile_accounts: list[Identifier] = []
    for index, event in enumerate(events):
        where = f"$events[{index}]"
        if not isinstance(event, dict):
            problems.add(where, "must be an object")
            continue
        if not is_epoch_ms(event.get("$ts")):
            problems.add(f"{where}.$ts", f"is required, an integer (epoch milliseconds, 0 to {EPOCH_MS_MAX})")
        name = event.get("$event_name")
        if not (isinstance(name, str) and name):
            problems.add(f"{where}.$event_name", "is required, a non-empty string")
        properties = event.get("$properties", {})
        if not isinstance(properties, dict):
            problems.add(f"{where}.$properties", "must be an object")
            continue
        if name == SET_PROFILE_EVENT:
            compartment_id = _compartment(
                properties.get("$compartment_id"), f"{where}.$properties.$compartment_id", compartments, problems
            )
            account = _id_string(properties.get("$user_account_id"))
            if compartment_id is not None:
                if account is not None:
                    profile_accounts.append(account_identifier(compartment_id, account))
                payload["profile_updates"].append(
                    {
                        "compartment_id": compartment_id,
                        "user_account_id": account,
                        "properties": strip_reserved(properties),
                        "strategy": PARTIAL_UPDATE,
                        "merge_objects": False,
                    }
                )
        elif name == SET_CHOICE_EVENT:
            # An invalid choice event does not refuse the activity: the pipeline records it (spec 1.3 step 5).
            processing_id = _id_string(properties.get("$processing_id"))
            acceptance = properties.get("$choice_acceptance_value")
            if processing_id is None:
                payload["errors"].append(f"{where}: $set_user_choice without $processing_id")
            elif not isinstance(acceptance, bool):
                payload["errors"].append(f"{where}: $set_user_choice needs a boolean $choice_acceptance_value")
            elif is_epoch_ms(event.get("$ts")):
                payload["choice_updates"].append(
                    {
                        "processing_id": processing_id,
                        "choice_ts": event["$ts"],
                        "acceptance_value": acceptance,
                        "custom_fields": strip_reserved(properties),
                    }
                )

    if not identifiers and not identifier_problems:
        problems.add("$user_identifiers", "at least one user identifier is required")
    if problems:
        raise ActivityInvalid(problems.details)

    payload["identifiers"] = [i.to_canonical() for i in dedupe(identifiers + profile_accounts)]
    payload["activity"] = ActivityPart(type=str(activity_type), ts=int(str(ts)), document=body)
    return payload, unique_key
