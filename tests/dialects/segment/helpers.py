"""Reading back what the Segment routes delivered, through the UserPoint API (spec 1.4)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from django.urls import Resolver404, resolve

from apps.activities.models import Activity
from apps.profiles.models import Profile
from apps.userpoints.models import UserPoint

# get(path) -> (status, parsed JSON): path relative to /v1/datamarts/{d}/, authenticated with a read key.
Getter = Callable[[str], tuple[int, Any]]


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def _routed(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


def point(get: Getter, selector: str) -> dict[str, Any] | None:
    status, body = get(f"user_points/{selector}")
    return body["data"] if status == 200 else None


def identifiers(get: Getter, selector: str) -> list[dict[str, Any]]:
    status, body = get(f"user_points/{selector}/user_identifiers")
    assert status == 200, body
    return body["data"]


def activities(get: Getter, datamart_id: int, selector: str) -> list[dict[str, Any]]:
    """The point's activity documents, newest first: from the API once its timeline route is mounted."""
    if _routed(f"/v1/datamarts/{datamart_id}/user_points/{selector}/user_activities"):
        status, body = get(f"user_points/{selector}/user_activities")
        assert status == 200, body
        return body["data"]
    # Until then, the same rows straight from the table the route reads.
    found = point(get, selector)
    assert found is not None
    point_id = found["user_point_id"]
    return [a.document for a in Activity.objects.filter(user_point_id=point_id).order_by("-ts")]


def profiles(get: Getter, datamart_id: int, selector: str) -> list[dict[str, Any]]:
    if _routed(f"/v1/datamarts/{datamart_id}/user_points/{selector}/user_profiles"):
        status, body = get(f"user_points/{selector}/user_profiles")
        assert status == 200, body
        return body["data"]
    found = point(get, selector)
    assert found is not None
    rows = Profile.objects.filter(user_point=UserPoint.objects.get(id=found["user_point_id"]))
    return [
        {"$compartment_id": str(p.compartment_id), "$user_account_id": p.user_account_id or None, **p.properties}
        for p in rows
    ]


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
