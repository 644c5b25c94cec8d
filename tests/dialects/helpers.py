"""Reading what the dialect tests wrote back through the UserPoint API."""

from __future__ import annotations

from typing import Any

from django.urls import Resolver404, resolve

from apps.profiles.models import Profile


def profiles_route_exists(datamart_id: int) -> bool:
    try:
        resolve(f"/v1/datamarts/{datamart_id}/user_points/user_account_id=x/user_profiles")
    except Resolver404:
        return False
    return True


def profile_properties(api, setup, selector: str, account: str) -> dict[str, Any] | None:
    """The properties of the profile of `account` on the point of `selector`, None when there is none.

    Through `GET .../user_profiles` when that route exists; it was being written in parallel with the dialects,
    so until it is mounted the Profile model is read directly.
    """
    d = setup.datamart.pk
    if profiles_route_exists(d):
        status, body = api("get", f"/v1/datamarts/{d}/user_points/{selector}/user_profiles", key=setup.key)
        if status == 404:
            return None
        assert status == 200, body
        for profile in body["data"]:
            if (profile.get("$user_account_id") or "") == account:
                return {k: v for k, v in profile.items() if not k.startswith("$")}
        return None
    profile = Profile.objects.filter(datamart_id=d, user_account_id=account).first()
    return None if profile is None else profile.properties
