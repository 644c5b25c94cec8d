"""Two drains at once over the same people (bin/run's worker has two processes, and each accept may queue a drain):
neither deadlocks nor falls back to one payload at a time, and every payload is applied once. PostgreSQL only."""

from __future__ import annotations

import logging
import random
import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from apps.activities.models import Activity, InboxPayload, InboxStatus
from apps.activities.pipeline import inbox_drain_batch
from apps.userpoints.models import UserIdentifier, UserPoint

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def agent(value: str) -> dict:
    return {"type": "USER_AGENT", "user_agent_id": value}


def test_two_drains_over_the_same_people_never_deadlock(setup, caplog):
    rng = random.Random(7)
    start = timezone.now()
    rows = []
    for n in range(1200):
        # 600 people, most still new when two batches name them at once; some payloads name two people (merges).
        people = {rng.randrange(600) for _ in range(rng.choice((1, 1, 1, 2)))}
        rows.append(
            InboxPayload(
                datamart=setup.datamart,
                source="ACTIVITY",
                payload={
                    "identifiers": [agent(f"p{p}") for p in sorted(people)],
                    "activity": {"type": "SITE_VISIT", "ts": n, "document": {"$ts": n}},
                },
                received_at=start + timedelta(microseconds=n),
            )
        )
    InboxPayload.objects.bulk_create(rows)
    errors: list[BaseException] = []

    def drain() -> None:
        try:
            while inbox_drain_batch(batch_size=60):
                pass
        except BaseException as exc:  # reported by the assertions below
            errors.append(exc)
        finally:
            connections.close_all()

    with caplog.at_level(logging.INFO, logger="apps.activities.pipeline"):
        threads = [threading.Thread(target=drain) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert not errors
    assert not [r for r in caplog.records if "bulk path failed" in r.getMessage()]
    assert InboxPayload.objects.filter(status=InboxStatus.PROCESSED).count() == 1200
    assert Activity.objects.count() == 1200
    # Each person's identifier stored once, on one point; no point left without identifiers.
    mentioned = {i["user_agent_id"] for row in rows for i in row.payload["identifiers"]}
    assert sorted(UserIdentifier.objects.values_list("key", flat=True)) == sorted(mentioned)
    assert UserPoint.objects.count() == UserIdentifier.objects.values("user_point_id").distinct().count()
