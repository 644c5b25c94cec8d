"""Time partitions of the two big tables on PostgreSQL, and the per-datamart retention (docs/partitioning.md).

`activities_activity` is partitioned by RANGE on `created_at` (when the row was stored) and the inbox by RANGE on
`received_at`, one partition a month (UTC) plus a DEFAULT partition, so that an insert never fails whatever its
time. Beat creates the partitions ahead (`partitions_maintain`); the retention drops a month's partition once every
datamart's retention has passed it, and deletes the rows of datamarts with a stricter retention in chunks.

The storage time, not the event time `ts`, is the partition key: clients send past and future event times, and a
retention counts from when the data was stored. Every insert lands in the current month's partition.

On SQLite (the embedded default) the tables are plain and everything here is a no-op.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypedDict

from django.db import connection, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

# How many months after the current one have their partition ready (beat runs daily: a margin of weeks).
MONTHS_AHEAD = 3
# Rows deleted by one statement of the stricter datamarts' retention: short transactions, bounded locks.
RETENTION_CHUNK = 10_000
_MONTH_SUFFIX = re.compile(r"_p(\d{4})(\d{2})$")


@dataclass(frozen=True)
class PartitionedTable:
    table: str
    key: str
    # No unique index but the primary key: one on a partitioned table must include the partition key, and one per
    # partition holds within a month only. The inbox's dedupe key is the unpartitioned InboxKey table.
    # The partitions' names start with this (the table's name unless it is being renamed, see table_partition).
    prefix: str = ""

    @property
    def partition_prefix(self) -> str:
        return self.prefix or self.table


ACTIVITY = PartitionedTable("activities_activity", "created_at")
INBOX = PartitionedTable("activities_inboxpayload", "received_at")
TABLES = (ACTIVITY, INBOX)


def enabled() -> bool:
    return connection.vendor == "postgresql"


def month_start(day: date) -> date:
    return date(day.year, day.month, 1)


def month_next(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def partition_name(spec: PartitionedTable, month: date) -> str:
    return f"{spec.partition_prefix}_p{month:%Y%m}"


def default_name(spec: PartitionedTable) -> str:
    return f"{spec.partition_prefix}_default"


def default_create(spec: PartitionedTable) -> None:
    name = default_name(spec)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {spec.table} DEFAULT")


def months_existing(spec: PartitionedTable) -> list[date]:
    """The months that have a partition of their own, oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = %s::regclass",
            [spec.table],
        )
        names = [row[0] for row in cursor.fetchall()]
    months = []
    for name in names:
        found = _MONTH_SUFFIX.search(name)
        if found and name == partition_name(spec, date(int(found[1]), int(found[2]), 1)):
            months.append(date(int(found[1]), int(found[2]), 1))
    return sorted(months)


@contextmanager
def _deferred_checks_done(cursor: Any) -> Iterator[None]:
    """PostgreSQL refuses DDL on a table with deferred foreign-key checks pending in the transaction: they are run
    first. Beat's task has none (a transaction of its own); a caller's transaction (a test) may."""
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    yield
    cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def month_create(spec: PartitionedTable, month: date) -> bool:
    """Creates the month's partition unless it exists; returns whether it did.

    Rows of that month already in the DEFAULT partition (a time far ahead, or beat stopped for months) would make
    CREATE ... PARTITION OF fail: they are moved into the new partition in the same transaction.
    """
    name = partition_name(spec, month)
    lower, upper = month, month_next(month)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        if cursor.fetchone()[0]:
            return False
        default = default_name(spec)
        # Blocks inserts into the table for this short transaction; nothing else waits on it (no row is moving).
        cursor.execute(f"LOCK TABLE {spec.table} IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {default} WHERE {spec.key} >= %s AND {spec.key} < %s)",  # noqa: S608
            [lower, upper],
        )
        moving = cursor.fetchone()[0]
        if moving:
            cursor.execute(f"CREATE TEMPORARY TABLE _partition_moving (LIKE {spec.table}) ON COMMIT DROP")
            cursor.execute(
                f"WITH moved AS (DELETE FROM {default} WHERE {spec.key} >= %s AND {spec.key} < %s RETURNING *)"  # noqa: S608
                " INSERT INTO _partition_moving SELECT * FROM moved",
                [lower, upper],
            )
        # DDL takes no bound parameters; the bounds are dates formatted here.
        with _deferred_checks_done(cursor):
            cursor.execute(
                f"CREATE TABLE {name} PARTITION OF {spec.table}"
                f" FOR VALUES FROM ('{lower.isoformat()} 00:00:00+00') TO ('{upper.isoformat()} 00:00:00+00')"
            )
        if moving:
            cursor.execute(f"INSERT INTO {spec.table} SELECT * FROM _partition_moving")  # noqa: S608
    logger.info("partition %s created", name)
    return True


def months_ensure(spec: PartitionedTable, *, now: datetime | None = None, ahead: int = MONTHS_AHEAD) -> list[str]:
    """Creates the partitions of the current month and the `ahead` next ones; returns the names it created."""
    month = month_start((now or timezone.now()).astimezone(UTC).date())
    created = []
    for _ in range(ahead + 1):
        if month_create(spec, month):
            created.append(partition_name(spec, month))
        month = month_next(month)
    return created


@dataclass
class RetentionResult:
    dropped: list[str]
    deleted: dict[str, int]


def _retentions() -> dict[int, int | None]:
    from apps.datamarts.models import Datamart

    return dict(Datamart.objects.values_list("id", "retention_days"))


def retention_apply(*, now: datetime | None = None) -> RetentionResult:
    """Applies every datamart's `retention_days` (null: kept forever) to activities and processed inbox payloads.

    A month's partition is dropped when it ends before the cut-off of the most lenient datamart, so when no datamart
    keeps anything in it; a pending payload in it keeps it (unprocessed data is never lost to retention). The rows of
    stricter datamarts are deleted by (datamart, time) in chunks. Without PostgreSQL partitions, only the DELETEs.

    The inbox's dedupe keys (InboxKey, not partitioned) go with their payloads: every datamart with a retention has
    its keys older than its cut-off deleted in chunks, which covers the dropped partitions too (a partition is
    dropped only once it is past every datamart's cut-off). A key thus holds as long as its payload is retained.
    """
    now = now or timezone.now()
    result = RetentionResult(dropped=[], deleted={})
    retentions = _retentions()
    if not retentions:
        return result
    if enabled() and None not in retentions.values():
        lenient_cutoff = now - timedelta(days=max(d for d in retentions.values() if d is not None))
        for spec in TABLES:
            result.dropped += _months_drop_before(spec, lenient_cutoff)
    for datamart_id, days in retentions.items():
        if days is None:
            continue
        cutoff = now - timedelta(days=days)
        result.deleted[f"activities:{datamart_id}"] = _activities_delete_before(datamart_id, cutoff)
        result.deleted[f"inbox:{datamart_id}"] = _inbox_delete_before(datamart_id, cutoff)
        result.deleted[f"inbox_keys:{datamart_id}"] = _inbox_keys_delete_before(datamart_id, cutoff)
    return result


def _months_drop_before(spec: PartitionedTable, cutoff: datetime) -> list[str]:
    dropped = []
    for month in months_existing(spec):
        if datetime(month_next(month).year, month_next(month).month, 1, tzinfo=UTC) > cutoff:
            break
        name = partition_name(spec, month)
        with transaction.atomic(), connection.cursor() as cursor:
            if spec is INBOX:
                cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {name} WHERE status = 'PENDING')")  # noqa: S608
                if cursor.fetchone()[0]:
                    logger.warning("partition %s is past retention but holds pending payloads: kept", name)
                    continue
                # ProcessingError.payload has no database constraint (it cannot reference a partitioned table's
                # id alone): its rows go first, as the ORM's cascade would have done.
                cursor.execute(
                    f"DELETE FROM activities_processingerror WHERE payload_id IN (SELECT id FROM {name})"  # noqa: S608
                )
            with _deferred_checks_done(cursor):
                cursor.execute(f"DROP TABLE {name}")
        logger.info("partition %s dropped by retention", name)
        dropped.append(name)
    return dropped


def _activities_delete_before(datamart_id: int, cutoff: datetime) -> int:
    from apps.activities.models import Activity

    deleted = 0
    while True:
        ids = list(
            Activity.objects.filter(datamart_id=datamart_id, created_at__lt=cutoff).values_list("id", flat=True)[
                :RETENTION_CHUNK
            ]
        )
        if not ids:
            return deleted
        # The time bound too, so that PostgreSQL prunes the partitions the cut-off excludes.
        deleted += Activity.objects.filter(id__in=ids, created_at__lt=cutoff)._raw_delete(connection.alias)


def _inbox_delete_before(datamart_id: int, cutoff: datetime) -> int:
    from apps.activities.models import InboxPayload, InboxStatus

    deleted = 0
    while True:
        ids = list(
            InboxPayload.objects.filter(datamart_id=datamart_id, received_at__lt=cutoff)
            .exclude(status=InboxStatus.PENDING)
            .values_list("id", flat=True)[:RETENTION_CHUNK]
        )
        if not ids:
            return deleted
        with transaction.atomic():
            # The ORM's delete cascades to ProcessingError (no database constraint does, see above).
            InboxPayload.objects.filter(id__in=ids).delete()
        deleted += len(ids)


def _inbox_keys_delete_before(datamart_id: int, cutoff: datetime) -> int:
    """Deletes the datamart's dedupe keys received before `cutoff`, but those of the payloads still in the inbox
    (pending ones, which the retention keeps: their retry must still be answered as a duplicate). The keys of
    erased payloads go here too, with the retention they would have had."""
    from apps.activities.models import InboxKey, InboxPayload

    # After the deletes above, what is left of the inbox before the cut-off is the pending payloads: few.
    kept = set(
        InboxPayload.objects.filter(datamart_id=datamart_id, received_at__lt=cutoff, unique_key__isnull=False)
        .values_list("unique_key", flat=True)
        .distinct()
    )
    deleted = 0
    while True:
        # By the (datamart, received_at) index, oldest first: each chunk starts where the last one ended.
        keys = [
            key
            for key in InboxKey.objects.filter(datamart_id=datamart_id, received_at__lt=cutoff)
            .order_by("received_at")
            .values_list("unique_key", flat=True)[: RETENTION_CHUNK + len(kept)]
            if key not in kept
        ][:RETENTION_CHUNK]
        if not keys:
            return deleted
        deleted += InboxKey.objects.filter(datamart_id=datamart_id, unique_key__in=keys)._raw_delete(connection.alias)


def table_partition(spec: PartitionedTable, *, now: datetime | None = None) -> None:
    """Turns the plain table into a partitioned one with the same columns, indexes and foreign keys (migration
    activities 0005). Existing rows are copied: one partition for each month since the oldest row, then the months
    ahead. The primary key becomes (id, key), as PostgreSQL requires of a partitioned table; Django still knows `id`
    as the primary key. Unique indexes are not copied: the inbox's dedupe key is the InboxKey table (0008)."""
    table, new = spec.table, f"{spec.table}__partitioned"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s",
            [table],
        )
        indexes = [(n, d) for n, d in cursor.fetchall() if not n.endswith("_pkey") and " UNIQUE " not in d]
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass"
            " AND contype = 'f'",
            [table],
        )
        foreign_keys = cursor.fetchall()
        cursor.execute(f"SELECT min({spec.key}) FROM {table}")  # noqa: S608
        oldest = cursor.fetchone()[0]
        cursor.execute(
            f"CREATE TABLE {new} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
            f" PARTITION BY RANGE ({spec.key})"
        )
        cursor.execute(f"ALTER TABLE {new} ADD PRIMARY KEY (id, {spec.key})")
    # The partitions are named after the final table, which they keep through the rename below.
    building = replace(spec, table=new, prefix=spec.table)
    default_create(building)
    current = month_start((now or timezone.now()).astimezone(UTC).date())
    month = min(month_start(oldest.astimezone(UTC).date()), current) if oldest is not None else current
    while month <= current:
        month_create(building, month)
        month = month_next(month)
    months_ensure(building, now=now)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {new} SELECT * FROM {table}")  # noqa: S608
        cursor.execute(f"DROP TABLE {table}")
        cursor.execute(f"ALTER TABLE {new} RENAME TO {table}")
        cursor.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {new}_pkey TO {table}_pkey")
        for name, definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
        for _name, definition in indexes:
            cursor.execute(definition)


class Maintenance(TypedDict):
    created: list[str]
    dropped: list[str]
    deleted: dict[str, int]


def partitions_maintain(*, now: datetime | None = None) -> Maintenance:
    """Beat's daily task: the partitions ahead, then the retention."""
    created: list[str] = []
    if enabled():
        for spec in TABLES:
            created += months_ensure(spec, now=now)
    retention = retention_apply(now=now)
    return {"created": created, "dropped": retention.dropped, "deleted": retention.deleted}
