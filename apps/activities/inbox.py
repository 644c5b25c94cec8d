"""Accepting a payload: commit it to the inbox, then nudge a worker (spec 0, durability)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.activities.canonical import CanonicalPayload
from apps.activities.models import InboxPayload

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
        with transaction.atomic():
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
        InboxPayload(
            datamart_id=datamart_id,
            source=source,
            unique_key=unique_key,
            payload=payload,
            received_at=now + timedelta(microseconds=index),
        )
        for index, (payload, unique_key) in enumerate(payloads)
    ]
    # ON CONFLICT DO NOTHING: the database's unique constraint decides, so concurrent retries are safe too.
    InboxPayload.objects.bulk_create(rows, ignore_conflicts=True)
    drain_nudge()


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
