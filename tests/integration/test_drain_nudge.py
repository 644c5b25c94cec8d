"""The drain nudge's per-process throttle (apps/activities/inbox.py): at most one nudge per interval, and a payload
accepted inside the interval is still followed by a nudge, after its commit, so a drain task reads it."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache

from apps.activities.inbox import _throttle, drain_nudge
from apps.activities.tasks import DRAIN_PENDING_KEY


def wait_for_key(timeout: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if cache.get(DRAIN_PENDING_KEY) is not None:
            return time.monotonic() - started
        time.sleep(0.01)
    return None


@pytest.fixture
def fresh_throttle(settings, db):
    settings.INBOX_NUDGE_INTERVAL_SECONDS = 0.5
    _throttle.reset()
    cache.delete(DRAIN_PENDING_KEY)
    yield
    if _throttle.trailing is not None:
        _throttle.trailing.join()
    cache.delete(DRAIN_PENDING_KEY)


def test_a_payload_accepted_after_a_drain_task_started_gets_a_trailing_nudge(fresh_throttle):
    drain_nudge()  # the first payload: a drain task is queued at once
    assert cache.get(DRAIN_PENDING_KEY) is not None
    cache.delete(DRAIN_PENDING_KEY)  # what the drain task does when it starts, before it reads the inbox

    drain_nudge()  # a payload committed meanwhile, inside the interval: no round trip now...
    drain_nudge()
    assert cache.get(DRAIN_PENDING_KEY) is None
    # ...but one nudge at the end of the interval queues the drain task that will read it.
    waited = wait_for_key(timeout=2.0)
    assert waited is not None, "no trailing nudge"
    assert waited <= 0.5 + 0.3


def test_nudges_further_apart_than_the_interval_are_sent_at_once(fresh_throttle, settings):
    settings.INBOX_NUDGE_INTERVAL_SECONDS = 0.05
    drain_nudge()
    assert cache.get(DRAIN_PENDING_KEY) is not None
    cache.delete(DRAIN_PENDING_KEY)
    time.sleep(0.1)
    drain_nudge()
    assert cache.get(DRAIN_PENDING_KEY) is not None
    assert _throttle.trailing is None


def test_without_throttle_every_payload_nudges(fresh_throttle, settings):
    settings.INBOX_NUDGE_INTERVAL_SECONDS = 0
    for _ in range(2):
        drain_nudge()
        assert cache.get(DRAIN_PENDING_KEY) is not None
        cache.delete(DRAIN_PENDING_KEY)
