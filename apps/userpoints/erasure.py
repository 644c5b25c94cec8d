"""Erasure of a user point: the right to be forgotten (spec 1.7).

Every table that can name a point is handled here explicitly (activities, the inbox, the consent change log,
choices, profiles, identifiers, merges, hyper-point refusals, processing errors); deleting the point itself last
also cascades to any row that references it by foreign key, so a table added later cannot keep a dangling row.

The big tables are deleted in bounded chunks, each in its own short transaction, so that erasing a point with
millions of activities neither holds locks for long nor times out a request. The last step runs in one
transaction with the point locked: it deletes what arrived meanwhile, the identifiers and the point, and writes
the ErasureRecord. If anything fails half-way, running the erasure again finishes it (every step is idempotent).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from apps.activities.models import Activity, InboxPayload, InboxStatus, ProcessingError
from apps.choices.models import Choice, ChoiceChangeLogEntry
from apps.profiles.models import Profile
from apps.userpoints.identifiers import identifier_from_canonical
from apps.userpoints.models import ErasureRecord, HyperPointRefusal, UserIdentifier, UserPoint, UserPointMerge
from apps.userpoints.selectors import user_point_id_resolve

logger = logging.getLogger(__name__)

ERASURE_CHUNK = 1000

# Names of the counts in the ErasureRecord, by model; a model not listed (another app's table cascaded by the
# point's deletion) is counted under its label.
COUNT_NAMES: dict[type[models.Model], str] = {
    Activity: "activities",
    InboxPayload: "inbox_payloads",
    ChoiceChangeLogEntry: "change_log_entries",
    Choice: "choices",
    Profile: "profiles",
    UserIdentifier: "identifiers",
    UserPointMerge: "merges",
    HyperPointRefusal: "hyper_point_refusals",
    ProcessingError: "processing_errors",
    UserPoint: "user_points",
}


class UserPointNotFound(LookupError):
    pass


class _Counts:
    def __init__(self) -> None:
        self.by_name: dict[str, int] = {}

    def add(self, deleted: tuple[int, dict[str, int]]) -> int:
        from django.apps import apps

        for label, n in deleted[1].items():
            if n:
                name = COUNT_NAMES.get(apps.get_model(label), label)
                self.by_name[name] = self.by_name.get(name, 0) + n
        return deleted[0]


@contextmanager
def _change_log_erasure() -> Iterator[None]:
    """Lets this transaction delete consent change-log entries: the PostgreSQL trigger of choices/0002 refuses
    it unless `trackingconsole.erasure` is on. SET LOCAL ends with the transaction (or is undone with a rolled
    back savepoint); it is also switched off on the way out, so a caller's enclosing transaction does not keep
    the guard lifted after the erasure."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL trackingconsole.erasure = 'on'")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL trackingconsole.erasure = 'off'")


def _delete_in_chunks(queryset: models.QuerySet[Any], counts: _Counts) -> None:
    """Deletes the rows of `queryset` a chunk at a time, each chunk in its own transaction."""
    while True:
        with transaction.atomic(), _change_log_erasure():
            ids = list(queryset.order_by("pk").values_list("pk", flat=True)[:ERASURE_CHUNK])
            if not ids:
                return
            counts.add(queryset.model._default_manager.filter(pk__in=ids).delete())


def _identities_of(payload: Any) -> set[tuple[str, str]]:
    """The (type, key) of every identifier a canonical payload names, whatever its state; unreadable parts skipped."""
    found: set[tuple[str, str]] = set()
    if not isinstance(payload, dict):
        return found
    for name in ("identifiers", "link_if_known"):
        for item in payload.get(name) or []:
            try:
                found.add(identifier_from_canonical(item).identity)
            except (KeyError, TypeError, ValueError):
                continue
    return found


def _unprocessed_payloads_naming(
    datamart_id: int, identities: set[tuple[str, str]], point_ids: set[uuid.UUID]
) -> list[uuid.UUID]:
    """Pending and failed payloads have no user point yet: they are found by the identifiers in their JSON.

    The unprocessed part of the inbox is small (a backlog, or failures kept for review), so it is read in chunks
    and matched here rather than with JSON operators that differ between PostgreSQL and SQLite."""
    matched: list[uuid.UUID] = []
    rows = (
        InboxPayload.objects.filter(datamart_id=datamart_id)
        .exclude(status=InboxStatus.PROCESSED)
        .values_list("id", "payload", "user_point_id")
    )
    for payload_id, payload, point_id in rows.iterator(chunk_size=ERASURE_CHUNK):
        if point_id in point_ids or _identities_of(payload) & identities:
            matched.append(payload_id)
    return matched


def _refusals_naming(
    datamart_id: int, identities: set[tuple[str, str]], point_ids: set[uuid.UUID]
) -> list[HyperPointRefusal]:
    """Refusals recorded on other points that name this point or its identifiers (a refused link is a record of
    the two points meeting: it names both)."""
    named = {str(p) for p in point_ids}
    found = []
    for refusal in HyperPointRefusal.objects.filter(datamart_id=datamart_id).exclude(user_point_id__in=point_ids):
        others = set(refusal.other_user_point_ids or [])
        if others & named or _identities_of({"identifiers": refusal.refused_identifiers}) & identities:
            found.append(refusal)
    return found


def user_point_erase(*, datamart_id: int, user_point_id: uuid.UUID, actor: str) -> ErasureRecord:
    """Deletes the user point and every row naming it, and returns the proof of erasure.

    Guarantees, once it returns: no row of any table holds the point's id, the ids of the points merged into it,
    or its identifiers (the inbox payloads that named them included, pending ones too; the consent change log
    too, through the erasure flag); the only trace left is the returned ErasureRecord (no personal data: the
    point id, `actor`, when, and counts by kind). A merged point's id erases its survivor. Raises
    UserPointNotFound when the datamart has no such point. Safe to run again after a failure.
    """
    point_id = user_point_id_resolve(datamart_id=datamart_id, point_id=user_point_id)
    if point_id is None:
        raise UserPointNotFound(str(user_point_id))
    counts = _Counts()
    # Bounded chunks first: the bulk of the rows, without holding the point's lock.
    _delete_in_chunks(Activity.objects.filter(user_point_id=point_id), counts)
    _delete_in_chunks(ChoiceChangeLogEntry.objects.filter(user_point_id=point_id), counts)

    with transaction.atomic(), _change_log_erasure():
        point = UserPoint.objects.select_for_update().filter(datamart_id=datamart_id, id=point_id).first()
        if point is None:
            # Merged into another point (or erased) while the chunks ran: erase where its rows went.
            survivor = user_point_id_resolve(datamart_id=datamart_id, point_id=point_id)
            if survivor is None:
                raise UserPointNotFound(str(user_point_id))
            return user_point_erase(datamart_id=datamart_id, user_point_id=survivor, actor=actor)
        merged_ids = set(
            UserPointMerge.objects.filter(survivor_id=point_id).values_list("merged_user_point_id", flat=True)
        )
        point_ids = {point_id} | merged_ids
        identities = set(UserIdentifier.objects.filter(user_point_id=point_id).values_list("type", "key"))

        refusals = _refusals_naming(datamart_id, identities, point_ids)
        # The payloads of refused links were processed onto the other point, but they name this one: they go,
        # with the activity they left there (activity id = payload id).
        refused_payload_ids = {r.trigger_ref for r in refusals if r.trigger_ref}
        payload_ids: set[Any] = set(_unprocessed_payloads_naming(datamart_id, identities, point_ids))
        payload_ids |= _valid_uuids(refused_payload_ids)
        own_refusal_payloads = HyperPointRefusal.objects.filter(user_point_id=point_id).values_list(
            "trigger_ref", flat=True
        )
        payload_ids |= _valid_uuids(own_refusal_payloads)

        counts.add(Activity.objects.filter(user_point_id=point_id).delete())
        counts.add(Activity.objects.filter(datamart_id=datamart_id, id__in=_valid_uuids(refused_payload_ids)).delete())
        counts.add(HyperPointRefusal.objects.filter(id__in=[r.id for r in refusals]).delete())
        counts.add(ProcessingError.objects.filter(user_point_id__in=point_ids).delete())
        counts.add(InboxPayload.objects.filter(datamart_id=datamart_id, id__in=payload_ids).delete())
        counts.add(InboxPayload.objects.filter(datamart_id=datamart_id, user_point_id__in=point_ids).delete())
        # The payloads' dedupe keys (InboxKey) stay: a key is the client's message id, not personal data, and it
        # keeps a late retry of an erased payload from being stored and applied again. The retention deletes it
        # when it would have deleted the payload (docs/partitioning.md).
        counts.add(ChoiceChangeLogEntry.objects.filter(user_point_id=point_id).delete())
        counts.add(Choice.objects.filter(user_point_id=point_id).delete())
        counts.add(Profile.objects.filter(user_point_id=point_id).delete())
        counts.add(UserIdentifier.objects.filter(user_point_id=point_id).delete())
        counts.add(UserPointMerge.objects.filter(survivor_id=point_id).delete())
        counts.add(HyperPointRefusal.objects.filter(user_point_id=point_id).delete())
        # Last, the point: its foreign-key cascade catches any row of a table not named above.
        counts.add(UserPoint.objects.filter(id=point_id).delete())
        record = ErasureRecord.objects.create(
            datamart_id=datamart_id,
            user_point_id=point_id,
            erased_at=timezone.now(),
            actor=actor[:255],
            counts=dict(sorted(counts.by_name.items())),
        )
    logger.info("user point %s erased by %s: %s", point_id, actor, record.counts)
    return record


def _valid_uuids(values: Iterable[Any]) -> set[uuid.UUID]:
    found = set()
    for value in values:
        try:
            found.add(uuid.UUID(str(value)))
        except ValueError:
            continue
    return found


def identifier_erase(*, datamart_id: int, identifier_type: str, key: str) -> int:
    """Detaches and deletes one identifier from its point (the point and its other data stay); returns how many
    identifiers were deleted (0 or 1)."""
    deleted, _ = UserIdentifier.objects.filter(datamart_id=datamart_id, type=identifier_type, key=key).delete()
    return deleted
