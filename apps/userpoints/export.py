"""Access: everything stored about a user point, as one JSON document (spec 1.7)."""

from __future__ import annotations

import uuid
from typing import Any

from django.utils import timezone

from apps.activities.models import Activity
from apps.activities.selectors import activity_render
from apps.choices.selectors import change_log_entry_render, change_log_of, choice_render, choices_of
from apps.profiles.selectors import profile_render, profiles_of
from apps.userpoints.erasure import UserPointNotFound
from apps.userpoints.models import HyperPointRefusal, UserPoint, UserPointMerge
from apps.userpoints.selectors import identifiers_render, ts_ms, user_point_id_resolve, user_point_render


def user_point_export(*, datamart_id: int, user_point_id: uuid.UUID) -> dict[str, Any]:
    """The point (a merged point's id exports its survivor), its identifiers, profiles, choices, the whole consent
    change log, every activity (oldest first), its merges and the hyper-point refusals recorded on it. Every value
    is JSON-serialisable. Raises UserPointNotFound when the datamart has no such point."""
    point_id = user_point_id_resolve(datamart_id=datamart_id, point_id=user_point_id)
    point = UserPoint.objects.filter(datamart_id=datamart_id, id=point_id).first() if point_id else None
    if point is None:
        raise UserPointNotFound(str(user_point_id))
    activities = Activity.objects.filter(user_point_id=point.id).order_by("ts", "id")
    merges = UserPointMerge.objects.filter(survivor_id=point.id).order_by("merged_at", "id")
    refusals = HyperPointRefusal.objects.filter(user_point_id=point.id).order_by("created_at", "id")
    return {
        "exported_ts": ts_ms(timezone.now()),
        "datamart_id": str(datamart_id),
        "user_point": user_point_render(point),
        "identifiers": identifiers_render(point),
        "profiles": [profile_render(p) for p in profiles_of(user_point_id=point.id)],
        "choices": [choice_render(c) for c in choices_of(user_point_id=point.id)],
        "change_log": [change_log_entry_render(e) for e in change_log_of(user_point_id=point.id)],
        "activities": [activity_render(a) for a in activities.iterator(chunk_size=1000)],
        "merges": [
            {
                "merged_user_point_id": str(m.merged_user_point_id),
                "merged_creation_ts": ts_ms(m.merged_creation_ts),
                "merged_ts": ts_ms(m.merged_at),
                "trigger_source": m.trigger_source,
                "trigger_ref": m.trigger_ref,
            }
            for m in merges
        ],
        "hyper_point_refusals": [
            {
                "refused_identifiers": r.refused_identifiers,
                "other_user_point_ids": r.other_user_point_ids,
                "reason": r.reason,
                "created_ts": ts_ms(r.created_at),
            }
            for r in refusals
        ],
    }
