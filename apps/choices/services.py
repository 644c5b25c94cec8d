"""Consent writes: one implementation for the pipeline, the API and the console (spec 1.6)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

from apps.activities.models import Source
from apps.choices.models import Choice, ChoiceChangeLogEntry
from apps.choices.rules import choice_decide
from apps.core.db import rows_repoint
from apps.userpoints.identifiers import Identifier
from apps.userpoints.point_writes import user_point_for_write
from apps.userpoints.services import MergeContext, merge_moves


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
    signal: bool = False,
) -> tuple[Choice, ChoiceChangeLogEntry | None]:
    """Records a choice write. The stored choice changes only when this write is not older than it (`$choice_ts`
    decides, not arrival); every write appends one change-log entry in the same transaction, except a consent
    `signal` that would not change the stored value (choice_decide), which returns no entry."""
    with transaction.atomic():
        choice = (
            Choice.objects.select_for_update().filter(user_point_id=user_point_id, processing_id=processing_id).first()
        )
        stored = (choice.choice_ts, choice.acceptance_value) if choice is not None else None
        decision = choice_decide(stored, choice_ts=choice_ts, acceptance_value=acceptance_value, signal=signal)
        if choice is None:
            choice = Choice.objects.create(
                datamart_id=datamart_id,
                user_point_id=user_point_id,
                processing_id=processing_id,
                choice_ts=choice_ts,
                acceptance_value=acceptance_value,
                custom_fields=custom_fields,
                source=source,
                creation_ts=now,
                last_modified_ts=now,
            )
        elif decision.applied:
            choice.choice_ts = choice_ts
            choice.acceptance_value = acceptance_value
            choice.custom_fields = custom_fields
            choice.source = source
            choice.last_modified_ts = now
            choice.save(update_fields=["choice_ts", "acceptance_value", "custom_fields", "source", "last_modified_ts"])
        elif decision.advance_ts:
            choice.choice_ts = choice_ts
            choice.save(update_fields=["choice_ts"])
        if not decision.log:
            return choice, None
        entry = ChoiceChangeLogEntry.objects.create(
            datamart_id=datamart_id,
            user_point_id=user_point_id,
            processing_id=processing_id,
            choice_ts=choice_ts,
            acceptance_value=acceptance_value,
            previous_acceptance_value=stored[1] if stored is not None else None,
            applied=decision.applied,
            source=source,
            source_ref=source_ref[:255],
            custom_fields=custom_fields,
            recorded_ts=now,
        )
        return choice, entry


@dataclass(frozen=True)
class ChoiceWrite:
    """One choice update of a payload, for choices_apply_bulk."""

    datamart_id: int
    user_point_id: uuid.UUID
    processing_id: int
    choice_ts: int
    acceptance_value: bool
    custom_fields: dict[str, Any]
    source: str
    source_ref: str
    signal: bool


def choices_apply_bulk(*, writes: list[ChoiceWrite], now: datetime) -> None:
    """The writes of a batch, in their order, with a constant number of queries whatever their count: the stored
    choices they touch are read (and locked) at once, each write is decided in memory by choice_decide, as
    choice_apply decides it, and the new choices, the changed ones and the change-log entries are written in bulk.
    The caller holds the points' locks; a choice created meanwhile by another transaction fails the unique
    constraint (IntegrityError), and the caller takes the one-by-one path."""
    if not writes:
        return
    point_ids = sorted({w.user_point_id for w in writes})
    processing_ids = sorted({w.processing_id for w in writes})
    current: dict[tuple[uuid.UUID, int], Choice] = {
        (c.user_point_id, c.processing_id): c
        for c in Choice.objects.select_for_update()
        .filter(user_point_id__in=point_ids, processing_id__in=processing_ids)
        .order_by("id")
    }
    created: dict[tuple[uuid.UUID, int], Choice] = {}
    changed: dict[tuple[uuid.UUID, int], Choice] = {}
    entries: list[ChoiceChangeLogEntry] = []
    for write in writes:
        key = (write.user_point_id, write.processing_id)
        choice = current.get(key)
        stored = (choice.choice_ts, choice.acceptance_value) if choice is not None else None
        decision = choice_decide(
            stored, choice_ts=write.choice_ts, acceptance_value=write.acceptance_value, signal=write.signal
        )
        if choice is None:
            choice = Choice(
                datamart_id=write.datamart_id,
                user_point_id=write.user_point_id,
                processing_id=write.processing_id,
                choice_ts=write.choice_ts,
                acceptance_value=write.acceptance_value,
                custom_fields=write.custom_fields,
                source=write.source,
                creation_ts=now,
                last_modified_ts=now,
            )
            current[key] = created[key] = choice
        elif decision.applied or decision.advance_ts:
            choice.choice_ts = write.choice_ts
            if decision.applied:
                choice.acceptance_value = write.acceptance_value
                choice.custom_fields = write.custom_fields
                choice.source = write.source
                choice.last_modified_ts = now
            if key not in created:
                changed[key] = choice
        if decision.log:
            entries.append(
                ChoiceChangeLogEntry(
                    datamart_id=write.datamart_id,
                    user_point_id=write.user_point_id,
                    processing_id=write.processing_id,
                    choice_ts=write.choice_ts,
                    acceptance_value=write.acceptance_value,
                    previous_acceptance_value=stored[1] if stored is not None else None,
                    applied=decision.applied,
                    source=write.source,
                    source_ref=write.source_ref[:255],
                    custom_fields=write.custom_fields,
                    recorded_ts=now,
                )
            )
    Choice.objects.bulk_create(list(created.values()))
    Choice.objects.bulk_update(
        list(changed.values()), ["choice_ts", "acceptance_value", "custom_fields", "source", "last_modified_ts"]
    )
    ChoiceChangeLogEntry.objects.bulk_create(entries)


def choices_merge(contexts: Sequence[MergeContext]) -> None:
    """The later `$choice_ts` wins per processing; the entries of both points stay, followed by a MERGE entry.
    Every merge of the batch in a constant number of queries."""
    moves = merge_moves(contexts)
    context_of = {merged: c for c in contexts for merged in c.merged_ids}
    rows_repoint(ChoiceChangeLogEntry, "user_point", moves)
    survivors = {c.survivor_id for c in contexts}
    choices = list(Choice.objects.filter(user_point_id__in=[*survivors, *moves]).order_by("choice_ts", "id"))
    kept = {(c.user_point_id, c.processing_id): c for c in choices if c.user_point_id in survivors}
    changed: dict[int, Choice] = {}
    deleted: list[int] = []
    merge_entries = []
    for incoming in (c for c in choices if c.user_point_id in moves):
        context = context_of[incoming.user_point_id]
        key = (context.survivor_id, incoming.processing_id)
        survivor_choice = kept.get(key)
        previous = survivor_choice.acceptance_value if survivor_choice is not None else None
        if survivor_choice is None:
            incoming.user_point_id = context.survivor_id
            kept[key] = changed[incoming.pk] = incoming
            winner, applied = incoming, True
        else:
            applied = incoming.choice_ts > survivor_choice.choice_ts
            if applied:
                survivor_choice.choice_ts = incoming.choice_ts
                survivor_choice.acceptance_value = incoming.acceptance_value
                survivor_choice.custom_fields = incoming.custom_fields
                survivor_choice.source = incoming.source
                survivor_choice.last_modified_ts = context.now
                changed[survivor_choice.pk] = survivor_choice
            winner = survivor_choice
            deleted.append(incoming.pk)
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
    # Deleted first: a moved choice may take the (point, processing) place of one that goes.
    Choice.objects.filter(pk__in=deleted).delete()
    Choice.objects.bulk_update(
        list(changed.values()),
        ["user_point", "choice_ts", "acceptance_value", "custom_fields", "source", "last_modified_ts"],
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
) -> tuple[Choice, ChoiceChangeLogEntry | None] | None:
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
