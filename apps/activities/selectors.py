"""Reads of stored activities: the timeline of a user point (spec 1.4)."""

from __future__ import annotations

import json
import uuid
from typing import Any, cast

from django.db import connection
from django.db.models import CharField, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.db.models.lookups import Exact, IsNull

from apps.activities.activity_filters import Condition, Filter
from apps.activities.models import Activity
from apps.core.db import raw_cursor
from apps.core.validation import InputInvalid, int64_text
from apps.userpoints.models import UserIdentifier, UserPoint


def activity_render(activity: Activity) -> dict[str, Any]:
    """The activity as received, with its id, point and source; `$type` and `$ts` are the stored (canonical) ones."""
    return _render(activity.id, activity.user_point_id, activity.document, activity.type, activity.ts, activity.source)


def _render(
    activity_id: uuid.UUID, point_id: uuid.UUID, document: dict[str, Any], kind: str, ts: int, source: str
) -> dict[str, Any]:
    return {
        "$activity_id": str(activity_id),
        "$user_point_id": str(point_id),
        **document,
        "$type": kind,
        "$ts": ts,
        "$source": source,
    }


def timeline_page_read(
    *,
    datamart_id: int,
    point_id: str | None = None,
    identity: tuple[str, str] | None = None,
    start_ts: int | None = None,
    end_ts: int | None = None,
    first: int = 0,
    size: int = 100,
) -> list[dict[str, Any]] | None:
    """A page of the timeline (newest first, rendered) of the live point with the id `point_id`, or holding the
    identifier `identity` (type, key), read in one statement on PostgreSQL: one round trip, and one snapshot with no
    transaction to open and commit (so a merge is seen whole or not at all, spec 7). None when no live point
    answers (unknown, or a merged point's id, which the caller resolves) and on SQLite: the caller then reads
    through user_point_get_for_selector and timeline_of, in a snapshot. Through the ORM, the same read cost two
    queries' compilation and a transaction: about half of the route's CPU (bench/scale.py)."""
    if connection.vendor != "postgresql":
        return None
    points = UserPoint._meta.db_table
    if point_id is not None:
        point_sql = f"SELECT id FROM {points} WHERE datamart_id = %s AND id = %s::uuid"  # noqa: S608
        params: list[Any] = [datamart_id, point_id]
    else:
        assert identity is not None, "a point id or an identifier"
        point_sql = (
            f"SELECT i.user_point_id AS id FROM {UserIdentifier._meta.db_table} i"  # noqa: S608
            f" JOIN {points} p ON p.id = i.user_point_id AND p.datamart_id = %s"
            " WHERE i.datamart_id = %s AND i.type = %s AND i.key = %s LIMIT 1"
        )
        params = [datamart_id, datamart_id, *identity]
    bounds = ""
    if start_ts is not None:
        bounds += " AND a.ts >= %s"
        params.append(start_ts)
    if end_ts is not None:
        bounds += " AND a.ts < %s"
        params.append(end_ts)
    with raw_cursor() as cursor:
        # LEFT JOIN LATERAL: a live point without activities is one row of NULLs; no row at all means no such point.
        cursor.execute(
            f"WITH p AS MATERIALIZED ({point_sql})"  # noqa: S608
            " SELECT p.id, t.id, t.type, t.ts, t.source, t.document::text FROM p LEFT JOIN LATERAL"
            f" (SELECT a.id, a.type, a.ts, a.source, a.document FROM {Activity._meta.db_table} a"
            f" WHERE a.user_point_id = p.id{bounds} ORDER BY a.ts DESC, a.id DESC LIMIT %s OFFSET %s) t ON true",
            [*params, size, first],
        )
        rows = cursor.fetchall()
    if not rows:
        return None
    # The document as Django's JSONField reads it (json.loads of the stored text), so both reads render alike.
    return [
        _render(row[1], row[0], json.loads(row[5]), row[2], row[3], row[4])
        for row in cast(list[tuple[Any, ...]], rows)
        if row[1] is not None
    ]


def is_int64_text(text: str) -> bool:
    try:
        int64_text(text, "$ts")
    except InputInvalid:
        return False
    return True


def _condition_q(condition: Condition) -> Q:
    """The condition as SQL, with the semantics of activity_filters.condition_matches (text comparison; a
    missing or null field equals `null` only)."""
    if condition.field == "$type":
        q = Q(type=condition.value)
        return ~q if condition.negated else q
    if condition.field == "$ts":
        q = Q(ts=int(condition.value)) if is_int64_text(condition.value) else Q(pk__in=[])
        return ~q if condition.negated else q
    # ->> gives the text of a JSON scalar (12 and "12" alike); the cast makes SQLite compare text with text.
    text = Cast(KeyTextTransform(condition.field, "document"), output_field=CharField())
    if condition.value == "null":
        return Q(IsNull(text, not condition.negated))
    equal = Q(Exact(text, condition.value))
    if condition.negated:
        return Q(IsNull(text, True)) | ~equal
    return equal & Q(IsNull(text, False))


def filter_q(parsed: Filter) -> Q:
    where = Q()
    for clause in parsed:
        alternatives = Q(pk__in=[])
        for condition in clause:
            alternatives |= _condition_q(condition)
        where &= alternatives
    return where


def timeline_of(
    *, user_point_id: uuid.UUID, start_ts: int | None = None, end_ts: int | None = None, parsed: Filter = ()
) -> QuerySet[Activity]:
    """The point's activities, newest first, with `start_ts <= $ts < end_ts` and the filter applied in SQL."""
    rows = Activity.objects.filter(user_point_id=user_point_id)
    if start_ts is not None:
        rows = rows.filter(ts__gte=start_ts)
    if end_ts is not None:
        rows = rows.filter(ts__lt=end_ts)
    if parsed:
        rows = rows.filter(filter_q(parsed))
    return rows.order_by("-ts", "-id")
