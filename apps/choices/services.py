"""Consent writes: one implementation for the pipeline, the API and the console (spec 1.6)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db import transaction

from apps.activities.models import Source
from apps.choices.models import Choice, ChoiceChangeLogEntry
from apps.userpoints.identifiers import Identifier
from apps.userpoints.point_writes import user_point_for_write
from apps.userpoints.services import MergeContext


def choice_apply(
    *,
    datamart_id: int,
    user_point_id: uuid.UUID,
    processing_id: int,
    choice_ts: int,
    acceptance_value: bool,
    custom_fields: dict[str, Any],
    source: str,
    source_ref: str,
    now: datetime,
) -> tuple[Choice, ChoiceChangeLogEntry]:
    """Records a choice write. The stored choice changes only when this write is not older than it (`$choice_ts`
    decides, not arrival); every write appends one change-log entry in the same transaction."""
    with transaction.atomic():
        choice = (
            Choice.objects.select_for_update().filter(user_point_id=user_point_id, processing_id=processing_id).first()
        )
        previous = choice.acceptance_value if choice is not None else None
        applied = choice is None or choice_ts >= choice.choice_ts
        if choice is None:
            choice = Choice.objects.create(
                datamart_id=datamart_id,
                user_point_id=user_point_id,
                processing_id=processing_id,
                choice_ts=choice_ts,
                acceptance_value=acceptance_value,
                custom_fields=custom_fields,
                creation_ts=now,
                last_modified_ts=now,
            )
        elif applied:
            choice.choice_ts = choice_ts
            choice.acceptance_value = acceptance_value
            choice.custom_fields = custom_fields
            choice.last_modified_ts = now
            choice.save(update_fields=["choice_ts", "acceptance_value", "custom_fields", "last_modified_ts"])
        entry = ChoiceChangeLogEntry.objects.create(
            datamart_id=datamart_id,
            user_point_id=user_point_id,
            processing_id=processing_id,
            choice_ts=choice_ts,
            acceptance_value=acceptance_value,
            previous_acceptance_value=previous,
            applied=applied,
            source=source,
            source_ref=source_ref[:255],
            custom_fields=custom_fields,
            recorded_ts=now,
        )
        return choice, entry


def choices_merge(context: MergeContext) -> None:
    """The later `$choice_ts` wins per processing; the entries of both points stay, followed by a MERGE entry."""
    ChoiceChangeLogEntry.objects.filter(user_point_id__in=context.merged_ids).update(user_point_id=context.survivor_id)
    survivor_choices = {c.processing_id: c for c in Choice.objects.filter(user_point_id=context.survivor_id)}
    merge_entries = []
    for incoming in Choice.objects.filter(user_point_id__in=context.merged_ids).order_by("choice_ts"):
        kept = survivor_choices.get(incoming.processing_id)
        previous = kept.acceptance_value if kept is not None else None
        if kept is None:
            incoming.user_point_id = context.survivor_id
            incoming.save(update_fields=["user_point"])
            survivor_choices[incoming.processing_id] = incoming
            winner, applied = incoming, True
        else:
            applied = incoming.choice_ts > kept.choice_ts
            if applied:
                kept.choice_ts = incoming.choice_ts
                kept.acceptance_value = incoming.acceptance_value
                kept.custom_fields = incoming.custom_fields
                kept.last_modified_ts = context.now
                kept.save(update_fields=["choice_ts", "acceptance_value", "custom_fields", "last_modified_ts"])
            winner = kept
            incoming.delete()
        merge_entries.append(
            ChoiceChangeLogEntry(
                datamart_id=context.datamart_id,
                user_point_id=context.survivor_id,
                processing_id=winner.processing_id,
                choice_ts=winner.choice_ts,
                acceptance_value=winner.acceptance_value,
                previous_acceptance_value=previous,
                applied=applied,
                source=Source.MERGE,
                source_ref=",".join(str(m) for m in context.merged_ids)[:255],
                custom_fields=winner.custom_fields,
                recorded_ts=context.now,
            )
        )
    ChoiceChangeLogEntry.objects.bulk_create(merge_entries)


def choice_put(
    *,
    datamart_id: int,
    point_id: uuid.UUID | None,
    identifier: Identifier | None,
    processing_id: int,
    choice_ts: int,
    acceptance_value: bool,
    custom_fields: dict[str, Any],
    source: str,
    source_ref: str,
    now: datetime,
) -> tuple[Choice, ChoiceChangeLogEntry] | None:
    """The choice PUT of the UserPoint API (spec 1.4, 1.6): the point is selected by id (None is returned when it
    does not exist) or by an identifier (created with it when nobody holds it), then choice_apply records the
    write, in one transaction. The caller checks that the processing belongs to the datamart."""
    with transaction.atomic():
        user_point_id = user_point_for_write(
            datamart_id=datamart_id,
            point_id=point_id,
            identifier=identifier,
            also=[],
            now=now,
            trigger_source=source,
            trigger_ref=source_ref,
        )
        if user_point_id is None:
            return None
        return choice_apply(
            datamart_id=datamart_id,
            user_point_id=user_point_id,
            processing_id=processing_id,
            choice_ts=choice_ts,
            acceptance_value=acceptance_value,
            custom_fields=custom_fields,
            source=source,
            source_ref=source_ref,
            now=now,
        )
