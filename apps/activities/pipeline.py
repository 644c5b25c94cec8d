"""The pipeline: drains the inbox and applies each canonical payload, whatever its dialect (spec 1.3).

A batch is claimed with `FOR UPDATE SKIP LOCKED`, so workers never share a payload, and resolved set-wise in one
transaction (the bulk path): payloads sharing an identifier or a point are one person (union-find in memory), a
person naming several existing points merges them into the oldest, and every merge, insert and update of the batch
is one statement per table. One batch per datamart is in the bulk path at a time (an advisory lock). A group that
would make a hyper point, a point that moved meanwhile, and a payload that failed before go one by one through
`identity_resolve`, each in its own transaction that re-checks the payload is still pending. A payload's effects
and its PROCESSED status commit together: a retried or duplicated task finds it processed and changes nothing.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Case, Count, DateTimeField, F, JSONField, Model, Q, TextField, Value, When
from django.db.models.functions import Cast, Coalesce, Greatest
from django.utils import timezone

from apps.activities.canonical import CanonicalPayload
from apps.activities.models import Activity, InboxPayload, InboxStatus, ProcessingError
from apps.choices.services import ChoiceWrite, choices_apply_bulk
from apps.core import fastjson
from apps.core.db import execute_with_arrays, fetch_with_arrays, rows_repoint
from apps.datamarts.models import Processing
from apps.profiles.services import ProfileWrite, profiles_apply_bulk
from apps.userpoints.identifiers import (
    USER_ACCOUNT,
    USER_AGENT,
    USER_EMAIL,
    Identifier,
    dedupe,
    identifier_from_canonical,
)
from apps.userpoints.models import UserIdentifier, UserPoint
from apps.userpoints.services import (
    IDENTIFIER_COLUMNS,
    MergeContext,
    PlannedMerge,
    identifier_values,
    identifiers_owners,
    identity_resolve,
    merge_moves,
    user_points_merge_many,
)

logger = logging.getLogger(__name__)


class PayloadRow(Protocol):
    """An inbox row as the pipeline reads it: a claimed row of the bulk path, or the model in the one-by-one path."""

    id: uuid.UUID
    datamart_id: int
    source: str
    payload: CanonicalPayload
    received_at: datetime
    attempts: int


@dataclass(slots=True)
class Claimed:
    """A claimed inbox row, read as values: 500 model instances a batch cost the drain more than its COPY."""

    id: uuid.UUID
    datamart_id: int
    source: str
    payload: CanonicalPayload
    received_at: datetime
    attempts: int


# What the bulk path writes with COPY, in the order its row builders give the values.
POINT_COLUMNS = ("id", "datamart_id", "creation_ts", "is_hyper")
ACTIVITY_COLUMNS = ("id", "datamart_id", "user_point_id", "type", "ts", "source", "document", "created_at")


@dataclass
class Item:
    row: PayloadRow
    identifiers: list[Identifier]
    # `link_if_known`: identifiers it joins to its person only when someone holds them already (Segment alias).
    known_only: list[Identifier] = field(default_factory=list)
    point_id: uuid.UUID | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def payload(self) -> CanonicalPayload:
        return self.row.payload

    @property
    def has_updates(self) -> bool:
        """Profile or choice updates, or errors to record, once its point is known."""
        payload = self.payload
        return bool(payload.get("profile_updates") or payload.get("choice_updates") or payload.get("errors"))


class _BulkAbort(Exception):
    """A payload's updates failed in the bulk path: the batch goes one by one, where that payload's failure is kept."""


def inbox_drain_batch(*, batch_size: int | None = None) -> int:
    """Processes up to one batch of pending payloads; returns how many it claimed."""
    now = timezone.now()
    size = batch_size or settings.PIPELINE_BATCH_SIZE
    one_by_one: list[Item] = []
    with transaction.atomic():
        _batch_transaction_settings()
        # The payload as text, parsed here with orjson: the JSON of 500 payloads was a tenth of a Segment batch's time.
        rows = [
            Claimed(row_id, datamart_id, source, fastjson.parse(text.encode())[0], received_at, attempts)
            for row_id, datamart_id, source, text, received_at, attempts in InboxPayload.objects.select_for_update(
                skip_locked=True
            )
            .filter(status=InboxStatus.PENDING)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .order_by("received_at")
            .annotate(payload_text=Cast("payload", TextField()))
            .values_list("id", "datamart_id", "source", "payload_text", "received_at", "attempts")[:size]
        ]
        if not rows:
            return 0
        items = []
        for row in rows:
            try:
                identifiers = [identifier_from_canonical(i) for i in row.payload["identifiers"]]
                known_only = [identifier_from_canonical(i) for i in row.payload.get("link_if_known", [])]
            except (KeyError, TypeError, ValueError) as exc:
                one_by_one.append(Item(row=row, identifiers=[], errors=[f"unreadable payload: {exc}"]))
                continue
            items.append(Item(row=row, identifiers=identifiers, known_only=known_only))
        # A payload that failed before goes alone: its retries never take a batch down with it (spec 7).
        bulk = [i for i in items if i.identifiers and i.row.attempts == 0]
        one_by_one.extend(i for i in items if not (i.identifiers and i.row.attempts == 0))
        _datamarts_lock(sorted({i.row.datamart_id for i in bulk}))
        one_by_one.extend(_bulk_isolating(bulk, now))
    for item in one_by_one:
        payload_process_one(payload_id=item.row.id)
    return len(rows)


# The key space of the drain's advisory locks (PostgreSQL's two-integer form: this number, then the datamart id).
DRAIN_LOCK_SPACE = 0x7463


def _datamarts_lock(datamart_ids: list[int]) -> None:
    """One bulk path at a time per datamart, until the batch commits (in id order, so drains never wait in a circle).

    Two drains running at once (bin/run's worker has two processes, and each accept may queue a drain) otherwise
    deadlock: one holds a person's point and waits to insert an identifier the other has just inserted, while the
    other waits for that point. PostgreSQL breaks each such circle after a second, and the bulk path then retries in
    halves: measured end to end, both drains stood still for 30 s at a time (bench/e2e.py)."""
    connection = transaction.get_connection()
    if connection.vendor != "postgresql" or not datamart_ids:
        return
    with connection.cursor() as cursor:
        for datamart_id in datamart_ids:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [DRAIN_LOCK_SPACE, datamart_id])


def _batch_transaction_settings() -> None:
    """The batch's COMMIT returns before its WAL is flushed (PostgreSQL's asynchronous commit, for this transaction
    only), and its statements are not JIT-compiled. Asynchronous commit is safe here, unlike at accept time: a
    crash can lose only whole batches committed in the last few hundred milliseconds, status included, so their
    payloads are pending again and processed once more from the inbox, which the routes committed synchronously.
    Nothing accepted is lost and nothing is applied twice."""
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
            # The batch's statements touch a few hundred rows each through indexes, but their estimated cost passes
            # the JIT threshold: compiling took 12 ms of a 150 ms statement (EXPLAIN ANALYZE), for nothing.
            cursor.execute("SET LOCAL jit TO OFF")


def _bulk_isolating(items: list[Item], now: datetime) -> list[Item]:
    """The bulk path, with a failure costing only its payload: when a batch fails (a payload's updates raise, or
    another worker raced on an identifier), it is split in halves, each tried in bulk again (in its own savepoint),
    down to the payloads that fail alone, which go one by one. Order is kept: the first half commits before the
    second is tried. Returns the payloads left for the one-by-one path."""
    if not items:
        return []
    try:
        with transaction.atomic():
            return _bulk_apply(items, now)
    except (IntegrityError, DatabaseError, _BulkAbort) as exc:
        if len(items) == 1:
            logger.info("bulk path failed for payload %s (%s): one by one", items[0].row.id, exc)
            return items
        half = len(items) // 2
        return _bulk_isolating(items[:half], now) + _bulk_isolating(items[half:], now)


def _bulk_apply(items: list[Item], now: datetime) -> list[Item]:
    """Resolves and stores a batch set-wise: the payloads of one person (sharing an identifier or a point) form a
    group, found in memory (union-find); a group naming several existing points merges them into the oldest, all the
    batch's merges at once. Returns the payloads left for the one-by-one path (a point that moved meanwhile, or a
    group that would make a hyper point, whose refusal the one-by-one path decides payload by payload), untouched."""
    if not items:
        return []
    by_datamart: dict[int, list[Item]] = {}
    for item in items:
        by_datamart.setdefault(item.row.datamart_id, []).append(item)
    deferred: list[Item] = []
    new_points: list[tuple[Any, ...]] = []
    new_identifiers: list[tuple[Any, ...]] = []
    merges: list[PlannedMerge] = []
    done: list[Item] = []
    for datamart_id, group in by_datamart.items():
        owners = identifiers_owners(datamart_id, [i for item in group for i in (*item.identifiers, *item.known_only)])
        _link_if_known(group, owners)
        # Lock the existing points in id order, as identity_resolve does: a point merged away meanwhile is missing.
        locked = _points_lock(sorted(set(owners.values())))
        plans: list[tuple[list[Item], list[UserPoint], list[Identifier]]] = []
        for component in _components(group, owners):
            identities = {i.identity: i for item in component for i in item.identifiers}
            point_ids = {owners[k] for k in identities if k in owners}
            if not point_ids.issubset(locked):
                deferred.extend(component)
                continue
            points = [locked[p] for p in point_ids]
            plans.append((component, points, [i for k, i in identities.items() if k not in owners]))
        # Only points that gain identifiers or merge can become a hyper point: count the identifiers of those alone.
        counts = _identifier_counts(
            sorted({p.id for _, points, missing in plans if missing or len(points) > 1 for p in points})
        )
        for component, points, missing in plans:
            if (missing or len(points) > 1) and _would_be_hyper([counts.get(p.id) for p in points], missing):
                deferred.extend(component)
                continue
            if not points:
                survivor_id = uuid.uuid4()
                new_points.append((survivor_id, datamart_id, now, False))
            else:
                survivor = min(points, key=lambda p: (p.creation_ts, str(p.id)))
                survivor_id = survivor.id
                if len(points) > 1:
                    trigger = _merge_trigger(component, owners)
                    losers = [p for p in points if p.id != survivor_id]
                    merges.append(PlannedMerge(survivor, losers, trigger.row.source, str(trigger.row.id)))
            new_identifiers.extend(identifier_values(datamart_id, survivor_id, i, now) for i in missing)
            for item in component:
                item.point_id = survivor_id
                done.append(item)
    user_points_merge_many(merges=merges, now=now)
    _copy_rows(UserPoint, POINT_COLUMNS, new_points)
    _copy_rows(UserIdentifier, IDENTIFIER_COLUMNS, new_identifiers)
    # Profile updates, in the order the payloads came, on points locked (or created) above, all at once; a payload
    # whose updates fail is set aside alone (it goes one by one, where its failure is recorded) and the rest of the
    # batch stays on this path (spec 7). Before the activities are written, so none is left behind.
    with_profiles = sorted((i for i in done if i.payload.get("profile_updates")), key=lambda i: i.row.received_at)
    refused = profiles_apply_bulk(
        writes=[_profile_writes(item.row, item.point_id) for item in with_profiles],  # type: ignore[arg-type]
        now=now,
    )
    failed = [with_profiles[index] for index in refused]
    for index, exc in refused.items():
        logger.info("payload %s failed in the bulk path (%s): set aside", with_profiles[index].row.id, exc)
    if failed:
        done = [i for i in done if i not in failed]
    _copy_rows(Activity, ACTIVITY_COLUMNS, [a for a in (_activity_values(item, now) for item in done) if a is not None])
    _touch_identifiers(done)
    with_updates = [(i.row, i.point_id) for i in sorted(done, key=lambda i: i.row.received_at) if i.has_updates]
    try:
        # Choices (consent signals on every event included) in a constant number of queries for the batch.
        _apply_choices_and_errors(with_updates, now)  # type: ignore[arg-type]
    except Exception as exc:
        raise _BulkAbort(f"choice updates: {type(exc).__name__}: {exc}") from exc
    _mark_processed(done, now)
    return deferred + failed


def _copy_rows(model: type[Model], columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """Inserts rows given as values in `columns` order (field attnames): through COPY on PostgreSQL, without model
    instances (in the drain, the ORM's INSERT of 500 rows cost more in Python than the database spent on it). A
    conflict raises IntegrityError all the same."""
    if not rows:
        return
    connection = transaction.get_connection()
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create([model(**dict(zip(columns, row, strict=True))) for row in rows])
        return
    fields = {f.attname: f for f in model._meta.concrete_fields}
    json_positions = [i for i, name in enumerate(columns) if isinstance(fields[name], JSONField)]
    qn = connection.ops.quote_name
    sql = f"COPY {qn(model._meta.db_table)} ({', '.join(qn(fields[c].column) for c in columns)}) FROM STDIN"
    with connection.cursor() as cursor, connection.wrap_database_errors, cursor.copy(sql) as copy:
        for row in rows:
            if json_positions:
                values = list(row)
                for i in json_positions:
                    values[i] = fastjson.dumps(values[i])
                copy.write_row(values)
            else:
                copy.write_row(row)


def _mark_processed(done: list[Item], now: datetime) -> None:
    """Marks the payloads PROCESSED with their user point, in one statement on PostgreSQL (rows locked by the claim)."""
    if not done:
        return
    connection = transaction.get_connection()
    if connection.vendor != "postgresql":
        for item in done:
            InboxPayload.objects.filter(id=item.row.id).update(
                status=InboxStatus.PROCESSED, processed_at=now, user_point_id=item.point_id, attempts=F("attempts") + 1
            )
        return
    # bulk_update builds a CASE WHEN per row and field: most of a batch's time went there (bench/ingest).
    table = connection.ops.quote_name(InboxPayload._meta.db_table)
    ids = [item.row.id for item in done]
    execute_with_arrays(
        f"UPDATE {table} SET status = %s, processed_at = %s, attempts = {table}.attempts + 1,"  # noqa: S608
        f" user_point_id = v.point FROM unnest(%b::uuid[], %b::uuid[], %b::timestamptz[]) AS v(id, point, received)"
        # Joined on the whole primary key of the partitioned inbox, (id, received_at): one probe of its index per
        # payload. (An extra `id = ANY(...)`, as in rows_repoint, became part of each probe: 500 x 500 descents,
        # 150 ms a batch, bench/e2e.py.)
        f" WHERE {table}.id = v.id AND {table}.received_at = v.received",
        [InboxStatus.PROCESSED.value, now, ids, [item.point_id for item in done], [r.row.received_at for r in done]],
    )


def _points_lock(point_ids: list[uuid.UUID]) -> dict[uuid.UUID, UserPoint]:
    """Locks the points (in id order, as identity_resolve does); a point merged away or erased meanwhile is missing."""
    if not point_ids:
        return {}
    if transaction.get_connection().vendor != "postgresql":
        return {p.id: p for p in UserPoint.objects.select_for_update().filter(id__in=point_ids).order_by("id")}
    table = UserPoint._meta.db_table
    rows = fetch_with_arrays(
        f"SELECT id, datamart_id, creation_ts, is_hyper FROM {table} WHERE id = ANY(%b) ORDER BY id FOR UPDATE",  # noqa: S608
        [point_ids],
    )
    return {row[0]: UserPoint(id=row[0], datamart_id=row[1], creation_ts=row[2], is_hyper=row[3]) for row in rows}


def _identifier_counts(point_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[int, dict[int | None, int]]]:
    """Per point: its number of identifiers and of user accounts per compartment."""
    if not point_ids:
        return {}
    counts: dict[uuid.UUID, tuple[int, dict[int | None, int]]] = {}
    if transaction.get_connection().vendor == "postgresql":
        table = UserIdentifier._meta.db_table
        rows = fetch_with_arrays(
            f"SELECT user_point_id, type, compartment_id, count(*) FROM {table}"  # noqa: S608
            " WHERE user_point_id = ANY(%b) GROUP BY 1, 2, 3",
            [point_ids],
        )
    else:
        rows = list(
            UserIdentifier.objects.filter(user_point_id__in=point_ids)
            .values_list("user_point_id", "type", "compartment_id")
            .annotate(n=Count("id"))
        )
    for point_id, kind, compartment_id, n in rows:
        total, accounts = counts.get(point_id, (0, {}))
        if kind == USER_ACCOUNT:
            accounts[compartment_id] = accounts.get(compartment_id, 0) + n
        counts[point_id] = (total + n, accounts)
    return counts


def _would_be_hyper(current: list[tuple[int, dict[int | None, int]] | None], missing: list[Identifier]) -> bool:
    """Whether one point holding the identifiers of these points (their counts) and `missing` would be a hyper point."""
    total = len(missing)
    accounts: dict[int | None, int] = {}
    for point_total, point_accounts in (c for c in current if c is not None):
        total += point_total
        for compartment_id, n in point_accounts.items():
            accounts[compartment_id] = accounts.get(compartment_id, 0) + n
    for identifier in missing:
        if identifier.type == USER_ACCOUNT:
            accounts[identifier.compartment_id] = accounts.get(identifier.compartment_id, 0) + 1
    return total > settings.HYPER_POINT_MAX_IDENTIFIERS or any(
        n > settings.HYPER_POINT_MAX_ACCOUNTS_PER_COMPARTMENT for n in accounts.values()
    )


def _link_if_known(group: list[Item], owners: dict[tuple[str, str], uuid.UUID]) -> None:
    """Adds to each payload's identifiers those of its `link_if_known` that someone holds when it is applied: held
    before the batch (`owners`), or named by a payload before it in the batch (`group` is in the order received)."""
    named: set[tuple[str, str]] = set()
    for item in group:
        if item.known_only:
            item.identifiers = dedupe(
                item.identifiers + [i for i in item.known_only if i.identity in owners or i.identity in named]
            )
        named.update(i.identity for i in item.identifiers)


class _UnionFind:
    """Disjoint sets of hashable nodes (with path halving): the batch's people, found in memory."""

    def __init__(self) -> None:
        self.parent: dict[object, object] = {}

    def find(self, node: object) -> object:
        parent = self.parent
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    def union(self, a: object, b: object) -> None:
        self.parent[self.find(a)] = self.find(b)


def _merge_trigger(component: list[Item], owners: dict[tuple[str, str], uuid.UUID]) -> Item:
    """The payload of the group after which two of its existing points are one person: the merge's trigger."""
    sets = _UnionFind()
    points: set[uuid.UUID] = set()
    for item in sorted(component, key=lambda i: i.row.received_at):
        for identifier in item.identifiers:
            sets.union(("id", identifier.identity), ("item", item.row.id))
            if identifier.identity in owners:
                points.add(owners[identifier.identity])
                sets.union(("point", owners[identifier.identity]), ("item", item.row.id))
        if len({sets.find(("point", p)) for p in points}) < len(points):
            return item
    return component[0]


def _components(items: list[Item], owners: dict[tuple[str, str], uuid.UUID]) -> list[list[Item]]:
    """Groups the payloads that share an identifier or a point (union-find): each group is one person."""
    sets = _UnionFind()
    for index, item in enumerate(items):
        for identifier in item.identifiers:
            sets.union(("item", index), ("id", identifier.identity))
            if identifier.identity in owners:
                sets.union(("item", index), ("point", owners[identifier.identity]))
    groups: dict[object, list[Item]] = {}
    for index, item in enumerate(items):
        groups.setdefault(sets.find(("item", index)), []).append(item)
    return list(groups.values())


def _activity_values(item: Item, now: datetime) -> tuple[Any, ...] | None:
    """The payload's activity as values in ACTIVITY_COLUMNS order, or None when it carries none."""
    activity = item.payload.get("activity")
    if not activity or item.point_id is None:
        return None
    row = item.row
    return (
        row.id,
        row.datamart_id,
        item.point_id,
        activity["type"],
        activity["ts"],
        row.source,
        activity["document"],
        now,
    )


def _touch_identifiers(items: list[Item]) -> None:
    """`last_activity_ts` of the e-mail and agent identifiers that came with an activity: the time of the newest
    activity they came with (its event time, not the time it was processed), never moved back by an older one."""
    newest: dict[tuple[int, str], int] = {}
    for item in items:
        activity = item.payload.get("activity")
        if not activity:
            continue
        for identifier in item.identifiers:
            if identifier.type != USER_ACCOUNT:
                key = (item.row.datamart_id, identifier.key)
                newest[key] = max(newest.get(key, activity["ts"]), activity["ts"])
    if not newest:
        return
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        # One UPDATE joined to the (datamart, key, time) triples, through the identifiers' unique index, and only where
        # the time moves forward: the ORM's CASE with a WHEN per key took half of the drain's time to build.
        table = connection.ops.quote_name(UserIdentifier._meta.db_table)
        execute_with_arrays(
            f"UPDATE {table} AS i SET last_activity_ts = v.seen"  # noqa: S608
            " FROM unnest(%b::bigint[], %b::text[], %b::timestamptz[]) AS v(datamart_id, key, seen)"
            " WHERE i.datamart_id = v.datamart_id AND i.key = v.key AND i.type IN (%b, %b)"
            " AND (i.last_activity_ts IS NULL OR i.last_activity_ts < v.seen)",
            [
                [datamart_id for datamart_id, _ in newest],
                [key for _, key in newest],
                [_from_epoch_ms(ts) for ts in newest.values()],
                USER_EMAIL,
                USER_AGENT,
            ],
        )
        return
    datamarts = sorted({datamart_id for datamart_id, _ in newest})
    # One UPDATE for the batch: each key's time in a CASE, kept when the stored one is newer.
    seen = Case(
        *[When(datamart_id=d, key=key, then=Value(_from_epoch_ms(ts))) for (d, key), ts in newest.items()],
        output_field=DateTimeField(),
    )
    UserIdentifier.objects.filter(
        datamart_id__in=datamarts, key__in=[key for _, key in newest], type__in=[USER_EMAIL, USER_AGENT]
    ).update(last_activity_ts=Greatest(Coalesce(F("last_activity_ts"), seen), seen))


def _from_epoch_ms(ts: int) -> datetime:
    return datetime.fromtimestamp(ts / 1000, tz=UTC)


def payload_process_one(*, payload_id: uuid.UUID) -> None:
    """Applies one payload in its own transaction, unless another worker already has; records a failure."""
    now = timezone.now()
    with transaction.atomic():
        row = InboxPayload.objects.select_for_update().filter(id=payload_id, status=InboxStatus.PENDING).first()
        if row is None:
            return  # processed by another worker, or erased
        try:
            with transaction.atomic():
                point_id = _apply(row, now)
        except Exception as exc:  # a payload that fails is kept with its reason, never dropped
            _record_failure(row, exc, now)
            return
        row.status = InboxStatus.PROCESSED
        row.processed_at = now
        row.user_point_id = point_id
        row.attempts += 1
        row.last_error = ""
        row.save(update_fields=["status", "processed_at", "user_point_id", "attempts", "last_error"])


def _record_failure(row: InboxPayload, exc: Exception, now: datetime) -> None:
    logger.exception("payload %s failed (attempt %s)", row.id, row.attempts + 1)
    row.attempts += 1
    row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    if row.attempts >= settings.PIPELINE_MAX_ATTEMPTS:
        row.status = InboxStatus.FAILED
    else:
        # Exponential backoff with jitter, so a payload that keeps failing does not block the others.
        delay = min(600.0, 2.0**row.attempts) * random.uniform(0.5, 1.5)
        row.next_attempt_at = now + timedelta(seconds=delay)
    row.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])
    ProcessingError.objects.create(datamart_id=row.datamart_id, payload=row, message=row.last_error)


def _apply(row: InboxPayload, now: datetime) -> uuid.UUID | None:
    payload: CanonicalPayload = row.payload
    identifiers = [identifier_from_canonical(i) for i in payload["identifiers"]]
    if not identifiers:
        raise ValueError("the payload names no user identifier")
    known_only = [identifier_from_canonical(i) for i in payload.get("link_if_known", [])]
    if known_only:
        owners = identifiers_owners(row.datamart_id, known_only)
        identifiers = dedupe(identifiers + [i for i in known_only if i.identity in owners])
    resolution = identity_resolve(
        datamart_id=row.datamart_id,
        identifiers=identifiers,
        now=now,
        trigger_source=row.source,
        trigger_ref=str(row.id),
    )
    point_id = resolution.user_point_id
    item = Item(row=row, identifiers=identifiers, point_id=point_id)
    activity = _activity_values(item, now)
    if activity is not None:
        _copy_rows(Activity, ACTIVITY_COLUMNS, [activity])
        _touch_identifiers([item])
    _apply_updates(row, point_id, now)
    return point_id


def _apply_updates(row: PayloadRow, point_id: uuid.UUID, now: datetime) -> None:
    """A payload's profile and choice updates and its processing errors, once its point is resolved and locked."""
    _apply_profile_updates(row, point_id, now)
    _apply_choices_and_errors([(row, point_id)], now)


def _apply_profile_updates(row: PayloadRow, point_id: uuid.UUID, now: datetime) -> None:
    """One payload's profile updates, through the bulk path's implementation; its failure is raised, to be recorded."""
    refused = profiles_apply_bulk(writes=[_profile_writes(row, point_id)], now=now)
    if refused:
        raise refused[0]


def _profile_writes(row: PayloadRow, point_id: uuid.UUID) -> list[ProfileWrite]:
    return [
        ProfileWrite(
            datamart_id=row.datamart_id,
            user_point_id=point_id,
            compartment_id=update["compartment_id"],
            user_account_id=update["user_account_id"],
            properties=update["properties"],
            strategy=update["strategy"],
            merge_objects=update["merge_objects"],
        )
        for update in row.payload.get("profile_updates", [])
    ]


def _apply_choices_and_errors(rows: list[tuple[PayloadRow, uuid.UUID]], now: datetime) -> None:
    """The choice updates of these payloads (in this order) and their processing errors. A choice naming a processing
    that is not one of its datamart's is that choice's error alone (spec 1.3, step 5)."""
    wanted = {
        int(c["processing_id"])
        for row, _ in rows
        for c in row.payload.get("choice_updates", [])
        if _is_id(c["processing_id"])
    }
    valid = set(Processing.objects.filter(pk__in=wanted).values_list("datamart_id", "pk")) if wanted else set()
    writes: list[ChoiceWrite] = []
    errors: list[ProcessingError] = []
    for row, point_id in rows:
        messages = list(row.payload.get("errors", []))
        for choice in row.payload.get("choice_updates", []):
            processing_id = choice["processing_id"]
            if not (_is_id(processing_id) and (row.datamart_id, int(processing_id)) in valid):
                messages.append(f"$set_user_choice: processing {processing_id} is not a processing of this datamart")
                continue
            writes.append(
                ChoiceWrite(
                    datamart_id=row.datamart_id,
                    user_point_id=point_id,
                    processing_id=int(processing_id),
                    choice_ts=choice["choice_ts"],
                    acceptance_value=choice["acceptance_value"],
                    custom_fields=choice["custom_fields"],
                    source=row.source,
                    source_ref=choice.get("source_ref") or str(row.id),
                    signal=bool(choice.get("signal")),
                )
            )
        errors.extend(
            ProcessingError(datamart_id=row.datamart_id, payload_id=row.id, user_point_id=point_id, message=m)
            for m in messages
        )
    choices_apply_bulk(writes=writes, now=now)
    ProcessingError.objects.bulk_create(errors)


def _is_id(value: object) -> bool:
    text = str(value)
    return text.isascii() and text.isdigit() and len(text) < 19


def activities_merge(contexts: Sequence[MergeContext]) -> None:
    moves = merge_moves(contexts)
    rows_repoint(Activity, "user_point", moves)
    rows_repoint(InboxPayload, "user_point_id", moves)
    rows_repoint(ProcessingError, "user_point", moves)


def inbox_sweep_due() -> bool:
    """Whether any payload is pending and due: the sweep queues a drain when there is one."""
    return (
        InboxPayload.objects.filter(status=InboxStatus.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=timezone.now()))
        .exists()
    )
