"""Identity resolution and merge (spec 1.3 steps 1 and 2).

Concurrency is held by the database: identifiers are unique per datamart, user points are locked in id order
before they are changed, and every step re-reads under those locks and starts again when another worker moved
something in between. A race ends in a retry, never in two points for one identifier.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Count

from apps.core.db import fetch_with_arrays, rows_repoint
from apps.userpoints.identifiers import USER_ACCOUNT, Identifier
from apps.userpoints.models import HyperPointRefusal, UserIdentifier, UserPoint, UserPointMerge

logger = logging.getLogger(__name__)

RESOLVE_ATTEMPTS = 20


@dataclass(frozen=True)
class MergeContext:
    datamart_id: int
    survivor_id: uuid.UUID
    merged_ids: list[uuid.UUID]
    now: datetime
    trigger_source: str
    trigger_ref: str


# Each app that keeps rows on a user point registers how they move to the survivor of a merge (in its ready()),
# so that identity resolution does not depend on every app and a new app cannot be forgotten by it. A handler gets
# every merge of a batch at once (disjoint points, one transaction) and should move their rows set-wise.
MERGE_HANDLERS: list[Callable[[Sequence[MergeContext]], None]] = []


def merge_handler_register(handler: Callable[[Sequence[MergeContext]], None]) -> None:
    if handler not in MERGE_HANDLERS:
        MERGE_HANDLERS.append(handler)


@dataclass
class Resolution:
    user_point_id: uuid.UUID
    created: bool = False
    merged_ids: list[uuid.UUID] = field(default_factory=list)
    attached: int = 0
    hyper_refused: bool = False


class _Moved(Exception):
    """Another transaction changed the points we read; read again."""


def identifiers_owners(datamart_id: int, identifiers: Iterable[Identifier]) -> dict[tuple[str, str], uuid.UUID]:
    """The user point holding each identifier that exists, keyed by (type, key)."""
    wanted = {i.identity for i in identifiers}
    if not wanted:
        return {}
    keys = sorted({k for _, k in wanted})
    if transaction.get_connection().vendor == "postgresql":
        # The drain asks for ~700 keys a batch: bound by the server, not quoted one by one in Python.
        table = UserIdentifier._meta.db_table
        rows = fetch_with_arrays(
            f"SELECT type, key, user_point_id FROM {table} WHERE datamart_id = %b AND key = ANY(%b)",  # noqa: S608
            [datamart_id, keys],
        )
    else:
        rows = list(
            UserIdentifier.objects.filter(datamart_id=datamart_id, key__in=keys).values_list(
                "type", "key", "user_point_id"
            )
        )
    return {(t, k): p for t, k, p in rows if (t, k) in wanted}


def identifier_row(datamart_id: int, point_id: uuid.UUID, identifier: Identifier, now: datetime) -> UserIdentifier:
    return UserIdentifier(
        datamart_id=datamart_id,
        user_point_id=point_id,
        type=identifier.type,
        key=identifier.key,
        compartment_id=identifier.compartment_id,
        user_account_id=identifier.user_account_id,
        email_hash=identifier.email_hash,
        email=identifier.email,
        user_agent_id=identifier.user_agent_id,
        creation_ts=now,
    )


# The columns `identifier_values` fills, in its order: the drain writes new identifiers with COPY, without models.
IDENTIFIER_COLUMNS = (
    "datamart_id",
    "user_point_id",
    "type",
    "key",
    "compartment_id",
    "user_account_id",
    "email_hash",
    "email",
    "user_agent_id",
    "creation_ts",
)


def identifier_values(datamart_id: int, point_id: uuid.UUID, identifier: Identifier, now: datetime) -> tuple[Any, ...]:
    return (
        datamart_id,
        point_id,
        identifier.type,
        identifier.key,
        identifier.compartment_id,
        identifier.user_account_id,
        identifier.email_hash,
        identifier.email,
        identifier.user_agent_id,
        now,
    )


def hyper_violation(datamart_id: int, point_ids: list[uuid.UUID], new_identifiers: list[Identifier]) -> str | None:
    """Why linking these points and identifiers would make a hyper point, or None (one query)."""
    total = len(new_identifiers)
    accounts: dict[int | None, int] = {}
    rows = (
        UserIdentifier.objects.filter(user_point_id__in=point_ids)
        .values_list("type", "compartment_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    for kind, compartment_id, n in rows:
        total += n
        if kind == USER_ACCOUNT:
            accounts[compartment_id] = accounts.get(compartment_id, 0) + n
    if total > settings.HYPER_POINT_MAX_IDENTIFIERS:
        return f"{total} identifiers (limit {settings.HYPER_POINT_MAX_IDENTIFIERS})"
    for identifier in new_identifiers:
        if identifier.type == USER_ACCOUNT:
            accounts[identifier.compartment_id] = accounts.get(identifier.compartment_id, 0) + 1
    limit = settings.HYPER_POINT_MAX_ACCOUNTS_PER_COMPARTMENT
    for compartment_id, n in accounts.items():
        if n > limit:
            return f"{n} user accounts in compartment {compartment_id} (limit {limit})"
    return None


def identity_resolve(
    *, datamart_id: int, identifiers: list[Identifier], now: datetime, trigger_source: str, trigger_ref: str = ""
) -> Resolution:
    """The user point of these identifiers, created, extended or merged so that each identifier has exactly one.

    Call inside a transaction; the point returned is locked until it ends.
    """
    if not identifiers:
        raise ValueError("identity resolution needs at least one identifier")
    for attempt in range(RESOLVE_ATTEMPTS):
        try:
            with transaction.atomic():
                return _resolve_once(datamart_id, identifiers, now, trigger_source, trigger_ref)
        except (IntegrityError, _Moved) as exc:
            logger.debug("identity resolution raced (%s), attempt %s", type(exc).__name__, attempt + 1)
        except OperationalError as exc:
            # A deadlock between two workers aborts one of them; its savepoint is rolled back and it tries again.
            if "deadlock" not in str(exc).lower():
                raise
            logger.info("identity resolution deadlocked, attempt %s", attempt + 1)
    raise RuntimeError("identity resolution did not settle after many concurrent changes")


def _lock_points(point_ids: Iterable[uuid.UUID]) -> list[UserPoint]:
    wanted = sorted(set(point_ids))
    locked = list(UserPoint.objects.select_for_update().filter(id__in=wanted).order_by("id"))
    if len(locked) != len(wanted):
        raise _Moved()  # merged away or erased since we read it
    return locked


def _resolve_once(
    datamart_id: int, identifiers: list[Identifier], now: datetime, trigger_source: str, trigger_ref: str
) -> Resolution:
    owners = identifiers_owners(datamart_id, identifiers)
    missing = [i for i in identifiers if i.identity not in owners]
    if not owners:
        point = UserPoint.objects.create(datamart_id=datamart_id, creation_ts=now)
        UserIdentifier.objects.bulk_create([identifier_row(datamart_id, point.id, i, now) for i in identifiers])
        return Resolution(user_point_id=point.id, created=True, attached=len(identifiers))

    points = _lock_points(owners.values())
    if identifiers_owners(datamart_id, identifiers) != owners:
        raise _Moved()

    reason = hyper_violation(datamart_id, [p.id for p in points], missing)
    if reason is not None:
        return _refuse_hyper_link(datamart_id, identifiers, owners, now, reason, trigger_ref)

    survivor = min(points, key=lambda p: (p.creation_ts, str(p.id)))
    losers = [p for p in points if p.id != survivor.id]
    if losers:
        user_points_merge(
            survivor=survivor, losers=losers, now=now, trigger_source=trigger_source, trigger_ref=trigger_ref
        )
    if missing:
        UserIdentifier.objects.bulk_create([identifier_row(datamart_id, survivor.id, i, now) for i in missing])
    return Resolution(user_point_id=survivor.id, merged_ids=[p.id for p in losers], attached=len(missing))


def _refuse_hyper_link(
    datamart_id: int,
    identifiers: list[Identifier],
    owners: dict[tuple[str, str], uuid.UUID],
    now: datetime,
    reason: str,
    trigger_ref: str,
) -> Resolution:
    """The activity goes to the point of its first identifier; the refused link is kept for review."""
    first = identifiers[0]
    point_id = owners.get(first.identity)
    created = False
    if point_id is None:
        point = UserPoint.objects.create(datamart_id=datamart_id, creation_ts=now, is_hyper=True)
        UserIdentifier.objects.bulk_create([identifier_row(datamart_id, point.id, first, now)])
        point_id, created = point.id, True
    else:
        UserPoint.objects.filter(id=point_id).update(is_hyper=True)
    HyperPointRefusal.objects.create(
        datamart_id=datamart_id,
        user_point_id=point_id,
        refused_identifiers=[i.to_canonical() for i in identifiers if i.identity != first.identity],
        other_user_point_ids=sorted({str(p) for p in owners.values() if p != point_id}),
        reason=reason,
        trigger_ref=trigger_ref,
    )
    logger.warning("hyper-point guard refused a link on %s: %s", point_id, reason)
    return Resolution(user_point_id=point_id, created=created, hyper_refused=True)


def user_points_merge(
    *, survivor: UserPoint, losers: list[UserPoint], now: datetime, trigger_source: str, trigger_ref: str
) -> None:
    """Folds `losers` into `survivor`: every row moves, the merge is recorded, the merged ids keep resolving.

    The caller holds the locks of all the points.
    """
    user_points_merge_many(merges=[PlannedMerge(survivor, losers, trigger_source, trigger_ref)], now=now)


@dataclass(frozen=True)
class PlannedMerge:
    survivor: UserPoint
    losers: list[UserPoint]
    trigger_source: str
    trigger_ref: str


def user_points_merge_many(*, merges: Sequence[PlannedMerge], now: datetime) -> None:
    """Several merges of disjoint points at once, in a constant number of queries per table (the drain resolves a
    batch's merges together: one at a time, each cost ~25 queries). The caller holds the locks of all the points."""
    merges = [m for m in merges if m.losers]
    if not merges:
        return
    contexts = [
        MergeContext(
            datamart_id=m.survivor.datamart_id,
            survivor_id=m.survivor.id,
            merged_ids=[p.id for p in m.losers],
            now=now,
            trigger_source=m.trigger_source,
            trigger_ref=m.trigger_ref,
        )
        for m in merges
    ]
    moves = merge_moves(contexts)
    rows_repoint(UserIdentifier, "user_point", moves)
    rows_repoint(HyperPointRefusal, "user_point", moves)
    # Points merged earlier into a loser now resolve to the survivor directly.
    rows_repoint(UserPointMerge, "survivor", moves)
    for handler in MERGE_HANDLERS:
        handler(contexts)
    now_hyper = [m.survivor.id for m in merges if any(p.is_hyper for p in m.losers) and not m.survivor.is_hyper]
    if now_hyper:
        UserPoint.objects.filter(id__in=now_hyper).update(is_hyper=True)
    UserPointMerge.objects.bulk_create(
        [
            UserPointMerge(
                datamart_id=m.survivor.datamart_id,
                survivor_id=m.survivor.id,
                merged_user_point_id=p.id,
                merged_creation_ts=p.creation_ts,
                merged_at=now,
                trigger_source=m.trigger_source,
                trigger_ref=m.trigger_ref,
            )
            for m in merges
            for p in m.losers
        ]
    )
    # Every row of the merged points has moved, so a plain DELETE suffices: the ORM's collector would look for
    # related rows in every table first (nine empty queries). A row a handler forgot would fail the foreign key.
    UserPoint.objects.filter(id__in=list(moves))._raw_delete(UserPoint.objects.db)


def merge_moves(contexts: Sequence[MergeContext]) -> dict[uuid.UUID, uuid.UUID]:
    """Each merged point's survivor."""
    return {merged: c.survivor_id for c in contexts for merged in c.merged_ids}
