"""Accepting a payload: commit it to the inbox, then nudge a worker (spec 0, durability)."""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from uuid_utils.compat import uuid7

from apps.activities.canonical import CanonicalPayload
from apps.activities.models import InboxKey, InboxPayload, InboxStatus
from apps.activities.tasks import DRAIN_PENDING_KEY, inbox_drain
from apps.core import fastjson
from apps.core.db import raw_cursor

logger = logging.getLogger(__name__)

# How long the mark of a queued drain task (tasks.DRAIN_PENDING_KEY) lasts if no task starts to delete it.
DRAIN_PENDING_SECONDS = 5

# Payload ids (and so activity ids, which are their payloads') are time-ordered: UUID version 7 (RFC 9562), the
# millisecond of acceptance in the first 48 bits, then 74 random bits. Each new id then goes to the right-hand end of
# the primary key's index instead of a random page of it: once that index outgrows PostgreSQL's shared buffers (an
# inbox month of a few million payloads), random ids made a batch of 100 write 3.7 times the WAL (a full page image
# for each page first touched after a checkpoint) and cost the database 39 % more CPU (bench/inbox_ids.py).
# In SQL, for the rows of one statement: the statement's millisecond and version (the text of `uuid7_prefix`), then
# the random digits of a version 4 id from its 14th on (its version digit, the 13th, is dropped; its variant stays).
UUID7_SQL = "(%s::text || substr(replace(gen_random_uuid()::text, '-', ''), 14))::uuid"


def uuid7_prefix(moment: datetime) -> str:
    """The first 13 hex digits of a version 7 UUID made at `moment`: its Unix time in milliseconds, then the version."""
    return f"{int(moment.timestamp() * 1000):012x}7"


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
    if connection.vendor == "postgresql":
        row_id = _insert_one_postgresql(datamart_id, source, unique_key, payload)
    else:
        row_id = _insert_one(datamart_id, source, unique_key, payload)
    if row_id is None:
        # The key's first payload, committed (a concurrent INSERT of the key was waited for): one index probe of
        # the key table, whichever month that payload is in, and answered even once it is erased.
        existing = InboxKey.objects.filter(datamart_id=datamart_id, unique_key=unique_key).values_list(
            "payload_id", flat=True
        )
        return Accepted(payload_id=existing[0], duplicate=True)
    drain_nudge()
    return Accepted(payload_id=row_id, duplicate=False)


def _insert_one_postgresql(
    datamart_id: int, source: str, unique_key: str | None, payload: CanonicalPayload
) -> uuid.UUID | None:
    """The new row's id, or None when the datamart has the unique key already (ON CONFLICT waits for a concurrent
    INSERT of the same key to commit or roll back, so the caller then reads the winner's id).

    One statement through psycopg with server-side binding: in autocommit it is its own transaction, committed on
    return (one round trip instead of BEGIN, INSERT, COMMIT), and inside a caller's transaction a duplicate does not
    break it (no savepoint needed). The ORM's INSERT cost about a quarter of the route's time (bench/ingest).

    The key goes to InboxKey in the same statement (a data-modifying CTE): the payload is inserted when it has no
    key or when its key row was, so both commit together or neither does. The inbox is partitioned by month
    (docs/partitioning.md): only the unpartitioned key table can hold a key across months.
    """
    row_id = uuid7()
    now = timezone.now()
    values = [row_id, datamart_id, source, unique_key, fastjson.dumps(payload), now, InboxStatus.PENDING.value]
    insert = (
        f"INSERT INTO {InboxPayload._meta.db_table} (id, datamart_id, source, unique_key, payload, received_at,"
        " status, attempts, last_error)"
        " SELECT %s::uuid, %s::bigint, %s::text, %s::text, %s::json, %s::timestamptz, %s::text, 0, ''"
    )
    with raw_cursor() as cursor:
        if unique_key is None:
            # Most single activities carry no key: the plain INSERT, without the key table's statement to plan.
            cursor.execute(f"{insert} RETURNING id", values)
        else:
            cursor.execute(
                f"WITH inserted AS (INSERT INTO {InboxKey._meta.db_table}"  # noqa: S608
                " (datamart_id, unique_key, payload_id, received_at) VALUES (%s, %s, %s, %s)"
                f" ON CONFLICT (datamart_id, unique_key) DO NOTHING RETURNING 1) {insert}"
                " WHERE EXISTS (SELECT FROM inserted) RETURNING id",
                [datamart_id, unique_key, row_id, now, *values],
            )
        inserted = cursor.fetchone()
    return None if inserted is None else cast(uuid.UUID, inserted[0])


def _insert_one(datamart_id: int, source: str, unique_key: str | None, payload: CanonicalPayload) -> uuid.UUID | None:
    row = InboxPayload(
        datamart_id=datamart_id, source=source, unique_key=unique_key, payload=payload, received_at=timezone.now()
    )
    # One transaction for the key and the payload; a savepoint keeps a duplicate key from breaking a caller's.
    with transaction.atomic():
        if unique_key is not None:
            try:
                with transaction.atomic():
                    InboxKey.objects.create(
                        datamart_id=datamart_id, unique_key=unique_key, payload_id=row.id, received_at=row.received_at
                    )
            except IntegrityError:
                return None
        row.save(force_insert=True)
    return row.id


def inbox_accept_many(
    *, datamart_id: int, source: str, payloads: Sequence[tuple[CanonicalPayload, str | None]]
) -> None:
    """Commits (payload, unique_key) pairs in one statement; a `unique_key` seen before in the datamart, or earlier
    in `payloads`, is skipped (the first one stays). When this returns, every payload is durable, now or before.

    The n-th payload is received at `now` + n microseconds, so the pipeline, which drains in `received_at` order,
    keeps the order they came in.
    """
    if not payloads:
        return
    now = timezone.now()
    # ON CONFLICT DO NOTHING on the key table: its primary key decides, so concurrent retries are safe too.
    if connection.vendor == "postgresql":
        _insert_many_postgresql(datamart_id, source, payloads, now)
    else:
        _insert_many(datamart_id, source, payloads, now)
    drain_nudge()


def _insert_many(
    datamart_id: int, source: str, payloads: Sequence[tuple[CanonicalPayload, str | None]], now: datetime
) -> None:
    """SQLite: the keys first (INSERT OR IGNORE, in order, so the first of a key in the batch stays), then the
    payloads whose key row is theirs, in one transaction."""
    rows = [
        InboxPayload(
            datamart_id=datamart_id,
            source=source,
            unique_key=unique_key,
            payload=payload,
            received_at=now + timedelta(microseconds=index),
        )
        for index, (payload, unique_key) in enumerate(payloads)
    ]
    keyed = [(row, row.unique_key) for row in rows if row.unique_key is not None]
    with transaction.atomic():
        InboxKey.objects.bulk_create(
            [
                InboxKey(datamart_id=datamart_id, unique_key=key, payload_id=row.id, received_at=row.received_at)
                for row, key in keyed
            ],
            ignore_conflicts=True,
        )
        owners = set(
            InboxKey.objects.filter(datamart_id=datamart_id, unique_key__in={key for _, key in keyed}).values_list(
                "payload_id", flat=True
            )
        )
        InboxPayload.objects.bulk_create([r for r in rows if r.unique_key is None or r.id in owners])


def _insert_many_postgresql(
    datamart_id: int, source: str, payloads: Sequence[tuple[CanonicalPayload, str | None]], now: datetime
) -> None:
    """One INSERT of the payloads as two binary arrays (keys, JSON texts), committed on return in autocommit; the
    database numbers them (WITH ORDINALITY) for `received_at` and draws their ids (UUID7_SQL).

    Not bulk_create, nor a VALUES list through Django's client-side binding: the first escapes each JSON text with a
    Python regex (~1 ms per payload), the second re-parses a query string as long as the batch. Binary parameters
    bound by the server cost neither.

    The keys go to InboxKey in the same statement (data-modifying CTEs, see _insert_one_postgresql): `u` draws the
    ids once (materialized), `inserted` inserts the first of each key in the batch (DISTINCT ON by ordinality) and
    returns the ids whose key it inserted; only those payloads, and the ones without a key, are stored. The keys are
    inserted in key order, so two concurrent batches sharing keys wait on each other in the same order (no deadlock).
    """
    keys = [unique_key for _, unique_key in payloads]
    texts = [fastjson.dumps(payload) for payload, _ in payloads]
    insert = (
        f"INSERT INTO {InboxPayload._meta.db_table} (id, datamart_id, source, unique_key, payload, received_at,"
        " status, attempts, last_error)"
    )
    # The n-th payload (WITH ORDINALITY counts from 1) is received n - 1 microseconds after `now`: the batch's order.
    received_at = "%s::timestamptz + (n - 1) * interval '1 microsecond'"
    with raw_cursor() as cursor:
        if all(key is None for key in keys):
            # No dedupe key in the batch (Segment messages whose id the server drew, for one): the plain INSERT,
            # without the key table's statement, its sort and its join.
            cursor.execute(
                f"{insert} SELECT {UUID7_SQL}, %s::bigint, %s::text, NULL, p::json, {received_at}, %s::text, 0, ''"  # noqa: S608
                " FROM unnest(%b::text[]) WITH ORDINALITY AS t(p, n)",
                [uuid7_prefix(now), datamart_id, source, now, InboxStatus.PENDING.value, texts],
            )
            return
        cursor.execute(
            f"WITH u AS MATERIALIZED (SELECT {UUID7_SQL} AS id, k, p, n, {received_at} AS at"  # noqa: S608
            " FROM unnest(%b::text[], %b::text[]) WITH ORDINALITY AS t(k, p, n)),"
            f" inserted AS (INSERT INTO {InboxKey._meta.db_table} (datamart_id, unique_key, payload_id, received_at)"
            " SELECT DISTINCT ON (k) %s::bigint, k, id, at FROM u WHERE k IS NOT NULL ORDER BY k, n"
            " ON CONFLICT (datamart_id, unique_key) DO NOTHING RETURNING payload_id)"
            f" {insert} SELECT id, %s::bigint, %s::text, k, p::json, at, %s::text, 0, '' FROM u"
            " WHERE k IS NULL OR id IN (SELECT payload_id FROM inserted)",
            [uuid7_prefix(now), now, keys, texts, datamart_id, datamart_id, source, InboxStatus.PENDING.value],
        )


def drain_nudge() -> None:
    """Makes sure a drain task will read the inbox after the payload just committed.

    A process sends at most one nudge per INBOX_NUDGE_INTERVAL_SECONDS: the Redis round trip (and maybe a publish)
    costs more than the rest of accepting. A payload committed within the interval of the last nudge arms one
    trailing nudge, sent at the end of the interval and so after the commit: whichever drain task it finds queued
    (or queues) deletes the pending key before it reads the inbox, so it sees the payload. A process that dies with
    a trailing nudge armed leaves its payloads to beat's sweep (INBOX_SWEEP_SECONDS), as a broker outage does.
    """
    interval = settings.INBOX_NUDGE_INTERVAL_SECONDS
    if interval <= 0:
        _nudge()
        return
    if _throttle.trailing is not None:
        # Read without the lock, which every thread of a busy process would otherwise queue on: the armed timer
        # clears this attribute before it nudges, so its nudge comes after this read, i.e. after our commit.
        return
    now = time.monotonic()
    with _throttle.lock:
        wait = _throttle.last + interval - now
        if wait <= 0:
            _throttle.last = now
        elif _throttle.trailing is None:
            _throttle.trailing = threading.Timer(wait, _nudge_trailing)
            _throttle.trailing.daemon = True
            _throttle.trailing.start()
    if wait <= 0:
        _nudge()


class _Throttle:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.lock = threading.Lock()
        self.last = -math.inf  # monotonic time of the last nudge sent
        self.trailing: threading.Timer | None = None


_throttle = _Throttle()
# A forked child (a prefork Celery worker, a gunicorn worker) starts with a fresh lock and without the parent's timer.
os.register_at_fork(after_in_child=_throttle.reset)


def _nudge_trailing() -> None:
    with _throttle.lock:
        _throttle.trailing = None
        _throttle.last = time.monotonic()
    _nudge()


def _nudge() -> None:
    """Queues one drain task unless one is already waiting. A broker that is down only delays processing."""
    try:
        if not cache.add(DRAIN_PENDING_KEY, 1, DRAIN_PENDING_SECONDS):
            return
    except Exception:  # the cache is an optimisation: without it, send the message anyway
        logger.warning("cache unreachable, sending a drain task for every payload", exc_info=True)
    try:
        inbox_drain.apply_async(retry=False)
    except Exception:
        # Accepted payloads are committed: the beat sweep re-queues them when the broker is back.
        logger.warning("broker unreachable; the inbox sweep will process the payload later", exc_info=True)
