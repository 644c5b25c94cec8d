"""The user point a write of the UserPoint API goes to (spec 1.4): selected, created, or merged with the account
the write names. Everything goes through identity_resolve, so the API links and merges exactly as the pipeline."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import transaction

from apps.userpoints.identifiers import Identifier, dedupe
from apps.userpoints.models import UserIdentifier, UserPoint
from apps.userpoints.selectors import user_point_id_resolve
from apps.userpoints.services import identifier_row, identifiers_owners, identity_resolve, user_points_merge


def user_point_for_write(
    *,
    datamart_id: int,
    point_id: uuid.UUID | None,
    identifier: Identifier | None,
    also: list[Identifier],
    now: datetime,
    trigger_source: str,
    trigger_ref: str,
) -> uuid.UUID | None:
    """The point to write on, holding `also` (attached, or merged in when they belong to another point).

    Selected by its id (`point_id`; a merged id gives the survivor; None when it does not exist) or by an
    identifier (created with it when nobody holds it). Call inside a transaction: the point stays locked.
    """
    if identifier is not None:
        return identity_resolve(
            datamart_id=datamart_id,
            identifiers=dedupe([identifier, *also]),
            now=now,
            trigger_source=trigger_source,
            trigger_ref=trigger_ref,
        ).user_point_id
    assert point_id is not None, "a write selects its point by id or by identifier"
    resolved = user_point_id_resolve(datamart_id=datamart_id, point_id=point_id)
    if resolved is None:
        return None
    if not also:
        UserPoint.objects.select_for_update().filter(id=resolved).first()
        return resolved
    # Any identifier of the point stands for it in identity resolution: the point and `also` end up as one.
    anchor = UserIdentifier.objects.filter(user_point_id=resolved).order_by("creation_ts", "id").first()
    if anchor is not None:
        anchor_identifier = Identifier(anchor.type, anchor.key)
        return identity_resolve(
            datamart_id=datamart_id,
            identifiers=dedupe([anchor_identifier, *also]),
            now=now,
            trigger_source=trigger_source,
            trigger_ref=trigger_ref,
        ).user_point_id
    return _link_to_bare_point(datamart_id, resolved, also, now, trigger_source, trigger_ref)


def _link_to_bare_point(
    datamart_id: int,
    point_id: uuid.UUID,
    also: list[Identifier],
    now: datetime,
    trigger_source: str,
    trigger_ref: str,
) -> uuid.UUID:
    """A point whose identifiers were all deleted: attach `also`, merging with their points (the older survives)."""
    with transaction.atomic():
        owners = identifiers_owners(datamart_id, also)
        ids = sorted({point_id, *owners.values()})
        points = list(UserPoint.objects.select_for_update().filter(id__in=ids).order_by("id"))
        survivor = min(points, key=lambda p: (p.creation_ts, str(p.id)))
        losers = [p for p in points if p.id != survivor.id]
        if losers:
            user_points_merge(
                survivor=survivor, losers=losers, now=now, trigger_source=trigger_source, trigger_ref=trigger_ref
            )
        missing = [i for i in also if i.identity not in owners]
        UserIdentifier.objects.bulk_create([identifier_row(datamart_id, survivor.id, i, now) for i in missing])
        return survivor.id
