"""Profile writes: one implementation of the update strategies for the pipeline, the API and the console."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

from apps.profiles.models import ANONYMOUS_ACCOUNT, Profile
from apps.profiles.strategies import PARTIAL_DELETE, profile_properties_apply
from apps.userpoints.identifiers import Identifier, account_identifier
from apps.userpoints.point_writes import user_point_for_write
from apps.userpoints.services import MergeContext, merge_moves


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


@dataclass(frozen=True)
class ProfileWrite:
    datamart_id: int
    user_point_id: uuid.UUID
    compartment_id: int
    user_account_id: str | None
    properties: dict[str, Any]
    strategy: str
    merge_objects: bool


def profiles_apply_bulk(*, writes: list[list[ProfileWrite]], now: datetime) -> dict[int, Exception]:
    """The drain's profile updates, one list per payload in the order they came, applied as profile_apply would one
    after the other, in three queries. A payload's writes apply all or none: those that raise (a PARTIAL_DELETE of a
    missing profile, an unknown strategy) are left out, and returned with their error by index. Call with the
    points locked."""
    points = {w.user_point_id for payload_writes in writes for w in payload_writes}
    if not points:
        return {}
    stored = {
        (p.user_point_id, p.compartment_id, p.user_account_id): p
        for p in Profile.objects.filter(user_point_id__in=points)
    }
    created: dict[tuple[uuid.UUID, int, str], Profile] = {}
    changed: dict[tuple[uuid.UUID, int, str], Profile] = {}
    refused: dict[int, Exception] = {}
    for index, payload_writes in enumerate(writes):
        staged: dict[tuple[uuid.UUID, int, str], dict[str, Any]] = {}
        try:
            for w in payload_writes:
                key = (w.user_point_id, w.compartment_id, w.user_account_id or ANONYMOUS_ACCOUNT)
                current = staged[key] if key in staged else stored[key].properties if key in stored else None
                if current is None and w.strategy == PARTIAL_DELETE:
                    raise ProfileNotFound()
                staged[key] = profile_properties_apply(current, w.properties, w.strategy, w.merge_objects)
        except Exception as exc:
            refused[index] = exc
            continue
        for key, properties in staged.items():
            profile = stored.get(key)
            if profile is None:
                profile = Profile(
                    datamart_id=payload_writes[0].datamart_id,
                    user_point_id=key[0],
                    compartment_id=key[1],
                    user_account_id=key[2],
                    creation_ts=now,
                )
                stored[key] = created[key] = profile
            elif key not in created:
                changed[key] = profile
            profile.properties = properties
            profile.last_modified_ts = now
    Profile.objects.bulk_create(list(created.values()))
    Profile.objects.bulk_update(list(changed.values()), ["properties", "last_modified_ts"])
    return refused


def profiles_merge(contexts: Sequence[MergeContext]) -> None:
    """Moves the merged points' profiles; two profiles of one account/compartment become one, the most recently
    modified one's top-level keys winning. Every merge of the batch in three queries."""
    moves = merge_moves(contexts)
    survivors = {c.survivor_id for c in contexts}
    profiles = list(Profile.objects.filter(user_point_id__in=[*survivors, *moves]).order_by("last_modified_ts", "id"))
    kept: dict[tuple[uuid.UUID, int, str], Profile] = {
        (p.user_point_id, p.compartment_id, p.user_account_id): p for p in profiles if p.user_point_id in survivors
    }
    changed: dict[int, Profile] = {}
    deleted: list[int] = []
    for profile in (p for p in profiles if p.user_point_id in moves):
        key = (moves[profile.user_point_id], profile.compartment_id, profile.user_account_id)
        survivor_profile = kept.get(key)
        if survivor_profile is None:
            profile.user_point_id = key[0]
            kept[key] = changed[profile.pk] = profile
            continue
        if profile.last_modified_ts > survivor_profile.last_modified_ts:
            survivor_profile.properties = {**survivor_profile.properties, **profile.properties}
            survivor_profile.last_modified_ts = profile.last_modified_ts
        else:
            survivor_profile.properties = {**profile.properties, **survivor_profile.properties}
        survivor_profile.creation_ts = min(survivor_profile.creation_ts, profile.creation_ts)
        changed[survivor_profile.pk] = survivor_profile
        deleted.append(profile.pk)
    # Deleted first: a moved profile may take the (point, compartment, account) place of one that goes.
    Profile.objects.filter(pk__in=deleted).delete()
    Profile.objects.bulk_update(list(changed.values()), ["user_point", "properties", "last_modified_ts", "creation_ts"])


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
