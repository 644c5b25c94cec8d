"""Reading back what the Segment routes delivered, through the UserPoint API (spec 1.4)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

# get(path) -> (status, parsed JSON): path relative to /v1/datamarts/{d}/, authenticated with a read key.
Getter = Callable[[str], tuple[int, Any]]


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def point(get: Getter, selector: str) -> dict[str, Any] | None:
    status, body = get(f"user_points/{selector}")
    return body["data"] if status == 200 else None


def identifiers(get: Getter, selector: str) -> list[dict[str, Any]]:
    status, body = get(f"user_points/{selector}/user_identifiers")
    assert status == 200, body
    return body["data"]


def activities(get: Getter, selector: str) -> list[dict[str, Any]]:
    """The point's activities as the API renders them (the stored document), newest first."""
    status, body = get(f"user_points/{selector}/user_activities?max_results=1000")
    assert status == 200, body
    return body["data"]


def profiles(get: Getter, selector: str) -> list[dict[str, Any]]:
    status, body = get(f"user_points/{selector}/user_profiles")
    assert status == 200, body
    return body["data"]


def identifier_summary(rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(type, value) of each identifier, comparable across tests."""
    summary = set()
    for row in rows:
        if row["type"] == "USER_ACCOUNT":
            summary.add(("USER_ACCOUNT", row["user_account_id"]))
        elif row["type"] == "USER_AGENT":
            summary.add(("USER_AGENT", row["user_agent_id"]))
        elif row["type"] == "USER_EMAIL":
            summary.add(("USER_EMAIL", row.get("email") or row["hash"]))
    return summary
