"""Backpressure at the front door: ask clients to retry (429) while the workers are behind (docs/scaling.md).

Accepting costs a fraction of what processing costs. On shared cores, a front door that takes everything starves the
drain, and the backlog grows without bound while clients are told "accepted". Past INBOX_BACKLOG_LIMIT pending
payloads, the routes whose clients retry answer 429 with Retry-After, so the waiting moves to the clients' own
queues and processing stays a few seconds behind accepting. Tested with the real libraries in their default
configuration (tests/dialects/segment/test_clients.py, tests/js_clients): the three Python Segment-style libraries
and analytics-node keep a refused batch and retry it (analytics-node for up to 12 hours); rudder-sdk-node retries
three times, at least Retry-After apart, then drops the batch.

Two choices:
- The backlog is the whole inbox's, not a datamart's: workers claim the oldest payloads of every datamart
  together, so one datamart's flood delays all of them, and refusing only that datamart would not stop it.
- It applies only while a drain has finished a batch within DRAINING_SECONDS. A backlog with no drain running
  means the workers or the broker are down; refusing then would turn their outage into an ingestion outage, while
  the inbox is durable and beat's sweep will drain it. Then every payload is accepted, as without a limit.

Routes whose clients cannot retry (the Segment pixel, RudderStack's sendBeacon transport) never refuse.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from django.conf import settings
from django.core.cache import cache

from apps.activities.models import InboxPayload, InboxStatus

logger = logging.getLogger(__name__)

# Written by every drain batch that claimed payloads (apps/activities/tasks.py); its presence means "draining".
DRAINING_KEY = "inbox:draining"
DRAINING_SECONDS = 5


def backlog_message(retry_after: int) -> str:
    """What every dialect's 429 says, in its own error format."""
    return f"Processing is behind: retry after {retry_after} s"


def draining_mark() -> None:
    """Called by the drain after each batch: the front door may push back only while this mark is fresh."""
    try:
        cache.set(DRAINING_KEY, 1, DRAINING_SECONDS)
    except Exception:  # the cache is down: the front door then accepts everything, as it did before the limit
        logger.warning("cache unreachable; backpressure off until it is back", exc_info=True)


def inbox_retry_after() -> int | None:
    """Seconds a client should wait before sending again, or None when the inbox accepts now.

    The count is shared by the threads of a process and refreshed by one of them at most once per
    INBOX_BACKLOG_CHECK_SECONDS, so the check costs one bounded count per process per interval, not one per request.
    Threads that find the count due wait for the one counting (a few milliseconds): no request is answered on a
    count older than the interval, a fresh process's first requests included.
    """
    limit = settings.INBOX_BACKLOG_LIMIT
    if limit <= 0:
        return None
    interval = settings.INBOX_BACKLOG_CHECK_SECONDS
    if time.monotonic() - _last.checked_at >= interval:
        with _last.lock:
            if time.monotonic() - _last.checked_at >= interval:  # not counted by another thread meanwhile
                _last.over_limit = _backlog_over(limit)
                _last.checked_at = time.monotonic()
    return settings.INBOX_BACKLOG_RETRY_AFTER_SECONDS if _last.over_limit else None


def backlog_forget() -> None:
    """Forgets this process's last count (tests change the limit and the backlog between requests)."""
    _last.reset()


def _backlog_over(limit: int) -> bool:
    # The mark first: one cache read, where the count reads up to `limit` index entries (9 ms for 10,000).
    try:
        if cache.get(DRAINING_KEY) is None:
            return False
    except Exception:
        logger.warning("cache unreachable; accepting past the backlog limit", exc_info=True)
        return False
    # At most `limit` rows (through the pending rows' partial index), whatever the backlog's size.
    return InboxPayload.objects.filter(status=InboxStatus.PENDING)[:limit].count() >= limit


class _LastCount:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.lock = threading.Lock()
        self.checked_at = -float("inf")
        self.over_limit = False


_last = _LastCount()
# A forked child (a gunicorn worker) counts for itself, with a fresh lock.
os.register_at_fork(after_in_child=_last.reset)
