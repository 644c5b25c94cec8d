"""The UserPoint selector forms of spec 1.4. Pure: no Django import."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import unquote

from apps.core.validation import is_id_text, text_problem

POINT_ID = "user_point_id"
AGENT = "user_agent_id"
EMAIL_HASH = "email_hash"
ACCOUNT = "user_account_id"


class SelectorInvalid(ValueError):
    pass


@dataclass(frozen=True)
class Selector:
    kind: str
    value: str
    compartment_id: int | None = None  # ACCOUNT only; None means the datamart's default compartment

    @property
    def is_point_id(self) -> bool:
        return self.kind == POINT_ID


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise SelectorInvalid(f"{value!r} is not a user point id (a UUID)") from None


def _value(text: str, name: str) -> str:
    value = unquote(text)
    if not value:
        raise SelectorInvalid(f"{name} is empty")
    if problem := text_problem(value):
        raise SelectorInvalid(f"{name} {problem}")
    return value


def selector_parse(text: str) -> Selector:
    """Parses `<uuid>`, `user_point_id=`, `user_agent_id=`, `email_hash=`, `user_account_id=` and
    `compartment_id=C,user_account_id=U` (or with `/`)."""
    if "=" not in text:
        return Selector(POINT_ID, _uuid(unquote(text)))
    if text.startswith("compartment_id="):
        # The separator is the one right before `user_account_id=`: the account id may itself hold `,` or `/`.
        cuts = [i for i in (text.find(",user_account_id="), text.find("/user_account_id=")) if i >= 0]
        if not cuts:
            raise SelectorInvalid("compartment_id= must be followed by user_account_id=")
        head, tail = text[: min(cuts)], text[min(cuts) + 1 :]
        compartment = _value(head[len("compartment_id=") :], "compartment_id")
        if not is_id_text(compartment):
            raise SelectorInvalid("compartment_id must be a numeric id")
        return Selector(ACCOUNT, _value(tail[len("user_account_id=") :], "user_account_id"), int(compartment))
    name, _, raw = text.partition("=")
    if name == POINT_ID:
        return Selector(POINT_ID, _uuid(unquote(raw)))
    if name in (AGENT, EMAIL_HASH, ACCOUNT):
        return Selector(name, _value(raw, name))
    raise SelectorInvalid(f"unknown selector {name!r}")
