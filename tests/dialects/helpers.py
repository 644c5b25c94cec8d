"""Reading what the dialect tests wrote back through the UserPoint API."""

from __future__ import annotations

from typing import Any


def profile_properties(api, setup, selector: str, account: str) -> dict[str, Any] | None:
    """The properties of the profile of `account` ("" for the anonymous one) on the point of `selector`, read
    through `GET .../user_points/{selector}/user_profiles`; None when the point has no such profile."""
    d = setup.datamart.pk
    status, body = api("get", f"/v1/datamarts/{d}/user_points/{selector}/user_profiles", key=setup.key)
    assert status == 200, body
    for profile in body["data"]:
        if (profile.get("$user_account_id") or "") == account:
            return {k: v for k, v in profile.items() if not k.startswith("$")}
    return None
