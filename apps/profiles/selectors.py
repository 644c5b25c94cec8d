"""Reads of profiles, rendered as the UserPoint API answers them (spec 1.4)."""

from __future__ import annotations

import uuid
from typing import Any

from apps.profiles.models import ANONYMOUS_ACCOUNT, Profile
from apps.userpoints.selectors import ts_ms


def profile_render(profile: Profile) -> dict[str, Any]:
    """The properties with the profile's `$` fields; the `$` keys are never stored as properties, so they win."""
    return {
        **profile.properties,
        "$compartment_id": str(profile.compartment_id),
        "$user_account_id": profile.user_account_id if profile.user_account_id != ANONYMOUS_ACCOUNT else None,
        "$creation_ts": ts_ms(profile.creation_ts),
        "$last_modified_ts": ts_ms(profile.last_modified_ts),
    }


def profiles_of(
    *, user_point_id: uuid.UUID, compartment_id: int | None = None, user_account_id: str | None = None
) -> list[Profile]:
    """The point's profiles, optionally of one compartment and one account, in a stable order."""
    rows = Profile.objects.filter(user_point_id=user_point_id)
    if compartment_id is not None:
        rows = rows.filter(compartment_id=compartment_id)
    if user_account_id is not None:
        rows = rows.filter(user_account_id=user_account_id)
    return list(rows.order_by("compartment_id", "user_account_id", "id"))
