"""Reads of user points: resolving a selector, listing identifiers."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connections
from django.db.models import OuterRef, QuerySet

from apps.datamarts.selectors import compartments_of
from apps.userpoints.identifiers import USER_ACCOUNT, USER_AGENT, USER_EMAIL, account_identifier
from apps.userpoints.models import UserIdentifier, UserPoint, UserPointMerge
from apps.userpoints.selector_syntax import ACCOUNT, AGENT, EMAIL_HASH, POINT_ID, Selector


def user_point_id_resolve(*, datamart_id: int, point_id: uuid.UUID | str) -> uuid.UUID | None:
    """The live point with this id, or the survivor it was merged into."""
    if UserPoint.objects.filter(datamart_id=datamart_id, id=point_id).exists():
        return uuid.UUID(str(point_id))
    survivor = (
        UserPointMerge.objects.filter(datamart_id=datamart_id, merged_user_point_id=point_id)
        .values_list("survivor_id", flat=True)
        .first()
    )
    return survivor


def identifier_for_selector(*, datamart_id: int, selector: Selector) -> tuple[str, str] | None:
    """The (type, key) an identifier selector names; None for a compartment not in the datamart."""
    if selector.kind == AGENT:
        return (USER_AGENT, selector.value)
    if selector.kind == EMAIL_HASH:
        return (USER_EMAIL, selector.value)
    if selector.kind == ACCOUNT:
        ids, default = compartments_of(datamart_id=datamart_id)
        compartment_id = selector.compartment_id if selector.compartment_id is not None else default
        if compartment_id is None or compartment_id not in ids:
            return None
        return account_identifier(compartment_id, selector.value).identity
    raise ValueError("not an identifier selector")


def user_point_for_selector(*, datamart_id: int, selector: Selector) -> uuid.UUID | None:
    if selector.kind == POINT_ID:
        return user_point_id_resolve(datamart_id=datamart_id, point_id=selector.value)
    identity = identifier_for_selector(datamart_id=datamart_id, selector=selector)
    if identity is None:
        return None
    return (
        UserIdentifier.objects.filter(datamart_id=datamart_id, key=identity[1], type=identity[0])
        .values_list("user_point_id", flat=True)
        .first()
    )


def _with_merges(points: QuerySet[UserPoint]) -> QuerySet[UserPoint]:
    """On PostgreSQL, the points with `merged_ids` (what user_point_render lists) read in the same statement."""
    if connections[points.db].vendor != "postgresql":
        return points
    merged = UserPointMerge.objects.filter(survivor=OuterRef("pk")).order_by("merged_at")
    return points.annotate(merged_ids=ArraySubquery(merged.values("merged_user_point_id")))


def user_point_get_for_selector(
    *, datamart_id: int, selector: Selector, with_merges: bool = False, live_only: bool = False
) -> UserPoint | None:
    """The live point the selector names, fetched in one query for a live point's id or an identifier (the reads of
    the UserPoint API: each query is one more round trip on the route's time); a merged point's id finds its
    survivor, unless `live_only`. `with_merges` reads the ids merged into it in the same query (PostgreSQL), so that
    user_point_render needs none: a live point's id or an identifier is then answered by one statement, which reads
    one snapshot by itself."""
    points = UserPoint.objects.filter(datamart_id=datamart_id)
    if with_merges:
        points = _with_merges(points)
    if selector.kind == POINT_ID:
        point = points.filter(id=selector.value).first()
        if point is not None or live_only:
            return point
        survivor = user_point_id_resolve(datamart_id=datamart_id, point_id=selector.value)
        return points.filter(id=survivor).first() if survivor else None
    identity = identifier_for_selector(datamart_id=datamart_id, selector=selector)
    if identity is None:
        return None
    return points.filter(
        identifiers__datamart_id=datamart_id, identifiers__type=identity[0], identifiers__key=identity[1]
    ).first()


def ts_ms(value: Any) -> int | None:
    return int(value.timestamp() * 1000) if value is not None else None


def user_point_render(point: UserPoint) -> dict[str, Any]:
    merged = getattr(point, "merged_ids", None)
    if merged is None:
        merged = list(
            UserPointMerge.objects.filter(survivor=point)
            .order_by("merged_at")
            .values_list("merged_user_point_id", flat=True)
        )
    return {
        "user_point_id": str(point.id),
        "datamart_id": str(point.datamart_id),
        "creation_ts": ts_ms(point.creation_ts),
        "flags": point.flags,
        "merged_user_point_ids": [str(m) for m in merged],
    }


def identifiers_render(point: UserPoint) -> list[dict[str, Any]]:
    rendered: list[dict[str, Any]] = [
        {"type": "USER_POINT", "user_point_id": str(point.id), "creation_ts": ts_ms(point.creation_ts)}
    ]
    for row in UserIdentifier.objects.filter(user_point=point).order_by("creation_ts", "id"):
        if row.type == USER_ACCOUNT:
            rendered.append(
                {
                    "type": USER_ACCOUNT,
                    "compartment_id": str(row.compartment_id),
                    "user_account_id": row.user_account_id,
                    "creation_ts": ts_ms(row.creation_ts),
                }
            )
        elif row.type == USER_EMAIL:
            rendered.append(
                {
                    "type": USER_EMAIL,
                    "hash": row.email_hash,
                    "email": row.email,
                    "creation_ts": ts_ms(row.creation_ts),
                    "last_activity_ts": ts_ms(row.last_activity_ts),
                }
            )
        else:
            rendered.append(
                {
                    "type": USER_AGENT,
                    "user_agent_id": row.user_agent_id,
                    "creation_ts": ts_ms(row.creation_ts),
                    "last_activity_ts": ts_ms(row.last_activity_ts),
                }
            )
    return rendered
