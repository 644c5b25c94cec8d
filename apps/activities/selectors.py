"""Reads of stored activities: the timeline of a user point (spec 1.4)."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import CharField, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.db.models.lookups import Exact, IsNull

from apps.activities.activity_filters import Condition, Filter
from apps.activities.models import Activity
from apps.core.validation import InputInvalid, int64_text


def activity_render(activity: Activity) -> dict[str, Any]:
    """The activity as received, with its id, point and source; `$type` and `$ts` are the stored (canonical) ones."""
    return {
        "$activity_id": str(activity.id),
        "$user_point_id": str(activity.user_point_id),
        **activity.document,
        "$type": activity.type,
        "$ts": activity.ts,
        "$source": activity.source,
    }


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
