"""User identifiers in their canonical form (spec 1.2). Pure: no Django import."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

USER_ACCOUNT = "USER_ACCOUNT"
USER_EMAIL = "USER_EMAIL"
USER_AGENT = "USER_AGENT"
IDENTIFIER_TYPES = (USER_ACCOUNT, USER_EMAIL, USER_AGENT)


def email_normalise(email: str) -> str:
    return email.strip().lower()


def email_hash(email: str) -> str:
    """SHA-256 of the trimmed, lower-cased address: the identity of an e-mail given without its hash."""
    return hashlib.sha256(email_normalise(email).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Identifier:
    """One identifier; `key` is its identity within the datamart and type."""

    type: str
    key: str
    compartment_id: int | None = None
    user_account_id: str | None = None
    email_hash: str | None = None
    email: str | None = None
    user_agent_id: str | None = None

    @property
    def identity(self) -> tuple[str, str]:
        return (self.type, self.key)

    def to_canonical(self) -> dict[str, Any]:
        if self.type == USER_ACCOUNT:
            return {
                "type": USER_ACCOUNT,
                "compartment_id": self.compartment_id,
                "user_account_id": self.user_account_id,
            }
        if self.type == USER_EMAIL:
            data: dict[str, Any] = {"type": USER_EMAIL, "hash": self.email_hash}
            if self.email:
                data["email"] = self.email
            return data
        return {"type": USER_AGENT, "user_agent_id": self.user_agent_id}


def account_identifier(compartment_id: int, user_account_id: str) -> Identifier:
    return Identifier(
        USER_ACCOUNT,
        f"{compartment_id}:{user_account_id}",
        compartment_id=compartment_id,
        user_account_id=user_account_id,
    )


def email_identifier(*, hash_value: str | None = None, email: str | None = None) -> Identifier:
    if not hash_value:
        if not email:
            raise ValueError("an e-mail identifier needs a hash or an address")
        hash_value = email_hash(email)
    return Identifier(USER_EMAIL, hash_value, email_hash=hash_value, email=email or None)


def agent_identifier(user_agent_id: str) -> Identifier:
    return Identifier(USER_AGENT, user_agent_id, user_agent_id=user_agent_id)


def identifier_from_canonical(data: dict[str, Any]) -> Identifier:
    kind = data["type"]
    if kind == USER_ACCOUNT:
        return account_identifier(int(data["compartment_id"]), str(data["user_account_id"]))
    if kind == USER_EMAIL:
        return email_identifier(hash_value=data.get("hash"), email=data.get("email"))
    if kind == USER_AGENT:
        return agent_identifier(str(data["user_agent_id"]))
    raise ValueError(f"unknown identifier type {kind!r}")


def dedupe(identifiers: list[Identifier]) -> list[Identifier]:
    """Keeps the first of each identity, in order (the first identifier matters to the hyper-point guard)."""
    seen: set[tuple[str, str]] = set()
    kept: list[Identifier] = []
    for identifier in identifiers:
        if identifier.identity not in seen:
            seen.add(identifier.identity)
            kept.append(identifier)
    return kept
