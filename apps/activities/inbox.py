"""Accepting a payload: commit it to the inbox, then nudge a worker (spec 0, durability)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.activities.canonical import CanonicalPayload
from apps.activities.models import InboxPayload, InboxStatus

logger = logging.getLogger(__name__)

# While this cache key exists a drain task is queued and not yet started, so accepting needs no new message.
# The drain task deletes it before it reads the inbox, so a payload committed after that read sends a new one.
DRAIN_PENDING_KEY = "inbox:drain-queued"
DRAIN_PENDING_SECONDS = 5


@dataclass(frozen=True)
class Accepted:
    payload_id: uuid.UUID
    duplicate: bool


def inbox_accept(
    *, datamart_id: int, source: str, payload: CanonicalPayload, unique_key: str | None = None
) -> Accepted:
    """Commits the payload; a `unique_key` seen before in the datamart answers the first payload's id instead.

    When this returns, the payload is durable: whatever happens to the broker, the sweep will process it.
    """
    row = InboxPayload(
        datamart_id=datamart_id, source=source, unique_key=unique_key, payload=payload, received_at=timezone.now()
    )
    try:
        if transaction.get_connection().in_atomic_block:
            # Inside a caller's transaction, a savepoint keeps a duplicate key from breaking that transaction.
            with transaction.atomic():
                row.save(force_insert=True)
        else:
            # In autocommit the INSERT is a transaction of its own, committed when it returns: one round trip
            # instead of BEGIN, INSERT, COMMIT (the route's hot path; see bench/ingest).
            row.save(force_insert=True)
    except IntegrityError:
        if unique_key is None:
            raise
        existing = InboxPayload.objects.filter(datamart_id=datamart_id, unique_key=unique_key).values_list(
            "id", flat=True
        )
        return Accepted(payload_id=existing[0], duplicate=True)
    drain_nudge()
    return Accepted(payload_id=row.id, duplicate=False)


def inbox_accept_many(
    *, datamart_id: int, source: str, payloads: Sequence[tuple[CanonicalPayload, str | None]]
) -> None:
    """Commits (payload, unique_key) pairs in one statement; a `unique_key` seen before in the datamart, or earlier
    in `payloads`, is skipped (the first one stays). When this returns, every payload is durable, now or before.
    """
    if not payloads:
        return
    now = timezone.now()
    # One microsecond apart, so the pipeline, which drains in `received_at` order, keeps the order they came in.
    rows = [
        (uuid.uuid4(), unique_key, payload, now + timedelta(microseconds=index))
        for index, (payload, unique_key) in enumerate(payloads)
    ]
    # ON CONFLICT DO NOTHING: the database's unique constraint decides, so concurrent retries are safe too.
    if connection.vendor == "postgresql":
        _insert_many_postgresql(datamart_id, source, rows)
    else:
        InboxPayload.objects.bulk_create(
            [
                InboxPayload(
                    id=row_id,
                    datamart_id=datamart_id,
                    source=source,
                    unique_key=unique_key,
                    payload=payload,
                    received_at=received_at,
                )
                for row_id, unique_key, payload, received_at in rows
            ],
            ignore_conflicts=True,
        )
    drain_nudge()


def _insert_many_postgresql(
    datamart_id: int, source: str, rows: list[tuple[uuid.UUID, str | None, CanonicalPayload, datetime]]
) -> None:
    """One INSERT of the rows as binary arrays, committed on return in autocommit.

    Not bulk_create, nor a VALUES list through Django's client-side binding: the first escapes each JSON text with a
    Python regex (~1 ms per payload), the second re-parses a query string as long as the batch. Binary parameters
    bound by the server cost neither.
    """
    import psycopg

    table = InboxPayload._meta.db_table
    ids, keys, texts, received = [], [], [], []
    for row_id, unique_key, payload, received_at in rows:
        ids.append(row_id)
        keys.append(unique_key)
        texts.append(json.dumps(payload))
        received.append(received_at)
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            f"INSERT INTO {table} (id, datamart_id, source, unique_key, payload, received_at, status, attempts,"  # noqa: S608
            " last_error) SELECT i, %s, %s, k, p::jsonb, r, %s, 0, ''"
            " FROM unnest(%b::uuid[], %b::text[], %b::text[], %b::timestamptz[]) AS u(i, k, p, r)"
            " ON CONFLICT DO NOTHING",
            [datamart_id, source, InboxStatus.PENDING.value, ids, keys, texts, received],
        )


def drain_nudge() -> None:
    """Queues one drain task unless one is already waiting. A broker that is down only delays processing."""
    try:
        if not cache.add(DRAIN_PENDING_KEY, 1, DRAIN_PENDING_SECONDS):
            return
    except Exception:  # the cache is an optimisation: without it, send the message anyway
        logger.warning("cache unreachable, sending a drain task for every payload", exc_info=True)
    from apps.activities.tasks import inbox_drain

    try:
        inbox_drain.apply_async(retry=False)
    except Exception:
        # Accepted payloads are committed: the beat sweep re-queues them when the broker is back.
        logger.warning("broker unreachable; the inbox sweep will process the payload later", exc_info=True)
