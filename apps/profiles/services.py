"""Profile writes: one implementation of the update strategies for the pipeline, the API and the console."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db import transaction

from apps.profiles.models import ANONYMOUS_ACCOUNT, Profile
from apps.profiles.strategies import PARTIAL_DELETE, profile_properties_apply
from apps.userpoints.identifiers import Identifier, account_identifier
from apps.userpoints.point_writes import user_point_for_write
from apps.userpoints.services import MergeContext


class ProfileNotFound(Exception):
    pass


def profile_apply(
    *,
    datamart_id: int,
    user_point_id: uuid.UUID,
    compartment_id: int,
    user_account_id: str | None,
    properties: dict[str, Any],
    strategy: str,
    merge_objects: bool,
    now: datetime,
) -> Profile:
    """Creates or updates the point's profile in that compartment/account with a strategy (spec 1.5).

    PARTIAL_DELETE on a profile that does not exist raises ProfileNotFound. Call with the point locked.
    """
    account = user_account_id or ANONYMOUS_ACCOUNT
    with transaction.atomic():
        profile = (
            Profile.objects.select_for_update()
            .filter(user_point_id=user_point_id, compartment_id=compartment_id, user_account_id=account)
            .first()
        )
        if profile is None:
            if strategy == PARTIAL_DELETE:
                raise ProfileNotFound()
            return Profile.objects.create(
                datamart_id=datamart_id,
                user_point_id=user_point_id,
                compartment_id=compartment_id,
                user_account_id=account,
                properties=profile_properties_apply(None, properties, strategy, merge_objects),
                creation_ts=now,
                last_modified_ts=now,
            )
        profile.properties = profile_properties_apply(profile.properties, properties, strategy, merge_objects)
        profile.last_modified_ts = now
        profile.save(update_fields=["properties", "last_modified_ts"])
        return profile


def profiles_merge(context: MergeContext) -> None:
    """Moves the merged points' profiles; two profiles of one account/compartment become one, the most recently
    modified one's top-level keys winning."""
    survivor_profiles = {
        (p.compartment_id, p.user_account_id): p for p in Profile.objects.filter(user_point_id=context.survivor_id)
    }
    for profile in Profile.objects.filter(user_point_id__in=context.merged_ids).order_by("last_modified_ts"):
        key = (profile.compartment_id, profile.user_account_id)
        kept = survivor_profiles.get(key)
        if kept is None:
            profile.user_point_id = context.survivor_id
            profile.save(update_fields=["user_point"])
            survivor_profiles[key] = profile
            continue
        if profile.last_modified_ts > kept.last_modified_ts:
            kept.properties = {**kept.properties, **profile.properties}
            kept.last_modified_ts = profile.last_modified_ts
        else:
            kept.properties = {**profile.properties, **kept.properties}
        kept.creation_ts = min(kept.creation_ts, profile.creation_ts)
        kept.save(update_fields=["properties", "last_modified_ts", "creation_ts"])
        profile.delete()


def profile_put(
    *,
    datamart_id: int,
    point_id: uuid.UUID | None,
    identifier: Identifier | None,
    compartment_id: int,
    user_account_id: str,
    properties: dict[str, Any],
    strategy: str,
    merge_objects: bool,
    now: datetime,
    trigger_source: str,
    trigger_ref: str,
) -> Profile | None:
    """The profile PUT of the UserPoint API (spec 1.4, 1.5), all or nothing in one transaction.

    The point is selected by id (None is returned when it does not exist) or by an identifier (created with it
    when nobody holds it); the profile's account is attached to it through identity resolution, merging as the
    pipeline does; then the strategy is applied by profile_apply, the pipeline's own implementation.
    PARTIAL_DELETE on a missing profile raises ProfileNotFound and leaves nothing behind (no point, no link).
    """
    with transaction.atomic():
        user_point_id = user_point_for_write(
            datamart_id=datamart_id,
            point_id=point_id,
            identifier=identifier,
            also=[account_identifier(compartment_id, user_account_id)],
            now=now,
            trigger_source=trigger_source,
            trigger_ref=trigger_ref,
        )
        if user_point_id is None:
            return None
        return profile_apply(
            datamart_id=datamart_id,
            user_point_id=user_point_id,
            compartment_id=compartment_id,
            user_account_id=user_account_id,
            properties=properties,
            strategy=strategy,
            merge_objects=merge_objects,
            now=now,
        )
