"""A payload that fails in the pipeline costs only itself (spec 7): the others of its batch keep the bulk path,
and its retries do not take a batch with them."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.activities.mics import Compartments, translate_activity
from apps.activities.models import InboxPayload, InboxStatus, ProcessingError
from apps.activities.pipeline import inbox_drain_batch, payload_process_one

pytestmark = pytest.mark.django_db


def fill(setup, users: range, poison_at: set[int] = frozenset()) -> list[InboxPayload]:  # type: ignore[assignment]
    compartments = Compartments(frozenset({setup.default_compartment.pk}), setup.default_compartment.pk)
    rows = []
    for n in users:
        activity = {"$ts": 1_700_000_000_000 + n, "$type": "TOUCH", "$user_agent_id": f"vec:{n}"}
        payload, _ = translate_activity(activity, compartments)
        if n in poison_at:
            # Accepted in shape, fails when applied: what a bug or a lost invariant would do.
            payload["profile_updates"] = [
                {
                    "compartment_id": setup.default_compartment.pk,
                    "user_account_id": None,
                    "properties": {"a": 1},
                    "strategy": "NO_SUCH_STRATEGY",
                    "merge_objects": False,
                }
            ]
        rows.append(
            InboxPayload(datamart=setup.datamart, source="ACTIVITY", payload=payload, received_at=timezone.now())
        )
    return InboxPayload.objects.bulk_create(rows)


def drain_queries() -> int:
    with CaptureQueriesContext(connection) as queries:
        while inbox_drain_batch():
            pass
    return len(queries)


def test_one_poison_payload_leaves_the_rest_of_the_batch_in_bulk(setup):
    fill(setup, range(0, 200))
    clean = drain_queries()
    rows = fill(setup, range(1000, 1200), poison_at={1100})
    poisoned = drain_queries()
    # One by one, as the whole batch used to go, 200 payloads cost this many queries:
    third = fill(setup, range(2000, 2200))
    with CaptureQueriesContext(connection) as one_by_one:
        for row in third:
            payload_process_one(payload_id=row.id)
    assert poisoned < len(one_by_one) / 4, (clean, poisoned, len(one_by_one))
    statuses = dict(InboxPayload.objects.filter(id__in=[r.id for r in rows]).values_list("id", "status"))
    poison = rows[100]
    assert statuses.pop(poison.id) == InboxStatus.PENDING  # kept, to be retried later with backoff
    assert set(statuses.values()) == {InboxStatus.PROCESSED}
    poison.refresh_from_db()
    assert poison.attempts == 1
    assert "unknown update strategy" in poison.last_error
    assert ProcessingError.objects.filter(payload=poison).exists()


def test_a_payload_that_failed_before_is_retried_alone(setup, settings):
    [poison] = fill(setup, range(0, 1), poison_at={0})
    inbox_drain_batch()
    InboxPayload.objects.filter(pk=poison.pk).update(next_attempt_at=None)  # due again
    good = fill(setup, range(10, 60))
    with CaptureQueriesContext(connection) as queries:
        inbox_drain_batch()
    assert InboxPayload.objects.filter(id__in=[g.id for g in good], status=InboxStatus.PROCESSED).count() == 50
    # The good ones went through the bulk path once: no bisection was needed, so few queries.
    assert len(queries) < 80, len(queries)
    poison.refresh_from_db()
    assert poison.attempts == 2
