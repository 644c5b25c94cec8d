"""Reads of choices and of the consent change log, rendered as the UserPoint API answers them (spec 1.4, 1.6)."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Count, Q, QuerySet

from apps.choices.models import Choice, ChoiceChangeLogEntry
from apps.userpoints.selectors import ts_ms


def choice_render(choice: Choice) -> dict[str, Any]:
    """Custom fields at the top level, as they were written (the PUT body's shape); the `$` fields win."""
    return {
        **choice.custom_fields,
        "$processing_id": str(choice.processing_id),
        "$choice_ts": choice.choice_ts,
        "$choice_acceptance_value": choice.acceptance_value,
        "$creation_ts": ts_ms(choice.creation_ts),
        "$last_modified_ts": ts_ms(choice.last_modified_ts),
    }


def change_log_entry_render(entry: ChoiceChangeLogEntry) -> dict[str, Any]:
    return {
        "change_id": str(entry.pk),
        "user_point_id": str(entry.user_point_id),
        "processing_id": str(entry.processing_id),
        "$choice_ts": entry.choice_ts,
        "$choice_acceptance_value": entry.acceptance_value,
        "previous_acceptance_value": entry.previous_acceptance_value,
        "applied": entry.applied,
        "source": entry.source,
        "source_ref": entry.source_ref,
        "custom_fields": entry.custom_fields,
        "recorded_ts": ts_ms(entry.recorded_ts),
    }


def choices_of(*, user_point_id: uuid.UUID, processing_id: int | None = None) -> list[Choice]:
    rows = Choice.objects.filter(user_point_id=user_point_id)
    if processing_id is not None:
        rows = rows.filter(processing_id=processing_id)
    return list(rows.order_by("processing_id"))


def change_log_of(*, user_point_id: uuid.UUID, processing_id: int | None = None) -> list[ChoiceChangeLogEntry]:
    """Oldest first: the order in which the writes were recorded (the id is monotonic within the table)."""
    rows = ChoiceChangeLogEntry.objects.filter(user_point_id=user_point_id)
    if processing_id is not None:
        rows = rows.filter(processing_id=processing_id)
    return list(rows.order_by("id"))


def choice_counts_by_processing(choices: QuerySet[Choice]) -> dict[int, dict[str, int]]:
    """processing id -> {"accepted": n, "refused": n} among `choices`: one grouped query over the
    (processing, acceptance_value) index, not two counts per processing."""
    rows = (
        choices.values("processing_id")
        .annotate(
            accepted=Count("id", filter=Q(acceptance_value=True)), refused=Count("id", filter=Q(acceptance_value=False))
        )
        .order_by()
    )
    return {row["processing_id"]: {"accepted": row["accepted"], "refused": row["refused"]} for row in rows}
