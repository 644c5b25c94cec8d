"""Payload ids, and so activity ids, are time-ordered (UUID version 7) whichever route accepts them: a new id goes to
the right-hand end of the primary key's index rather than to a random page of it (apps/activities/inbox.py,
UUID7_SQL; what it saves: bench/inbox_ids.py)."""

from __future__ import annotations

import time
import uuid

import pytest

from apps.activities.inbox import inbox_accept, inbox_accept_many
from apps.activities.models import Activity, InboxPayload, Source
from tests.dialects.segment.helpers import basic
from tests.factories import site_visit

pytestmark = pytest.mark.django_db


def _millis(payload_id: uuid.UUID) -> int:
    """The Unix time in milliseconds a version 7 UUID was made at (its first 48 bits)."""
    return payload_id.int >> 80


def _segment_batch(with_ids: bool) -> dict:
    return {
        "batch": [
            {"type": "track", "userId": f"u{n}", "event": "Viewed", **({"messageId": f"m-{n}"} if with_ids else {})}
            for n in range(3)
        ]
    }


def _accept_by_every_route(client, setup) -> None:
    datamart = setup.datamart.pk
    for agent in ("vec:1", "vec:2"):
        response = client.post(
            f"/v1/datamarts/{datamart}/user_activities",
            site_visit(agent),
            content_type="application/json",
            **setup.auth,
        )
        assert response.status_code == 200, response.content
    for with_ids in (False, True):  # the plain INSERT and the one with the dedupe key table
        response = client.post(
            "/v1/batch", _segment_batch(with_ids), content_type="application/json", HTTP_AUTHORIZATION=basic(setup.key)
        )
        assert response.status_code == 200, response.content
    response = client.post(  # Braze: the model's default, through bulk_create
        "/users/track",
        {"attributes": [{"external_id": "b1", "plan": "pro"}]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {setup.key}",
    )
    assert response.status_code == 201, response.content
    inbox_accept(datamart_id=datamart, source=Source.API, payload={}, unique_key="k-1")
    inbox_accept_many(datamart_id=datamart, source=Source.API, payloads=[({}, None), ({}, "k-2")])


def test_every_accepted_payload_has_a_version_7_id_of_its_acceptance_time(client, setup):
    started = int(time.time() * 1000)
    _accept_by_every_route(client, setup)
    ended = int(time.time() * 1000)

    rows = list(InboxPayload.objects.filter(datamart=setup.datamart).order_by("received_at"))
    assert len(rows) == 2 + 6 + 1 + 3
    assert len({row.id for row in rows}) == len(rows)
    for row in rows:
        assert row.id.version == 7, row
        assert row.id.variant == uuid.RFC_4122, row
        assert started <= _millis(row.id) <= ended, row
    # In the order they were received, their ids' times never go back: each one lands at the end of the index.
    times = [_millis(row.id) for row in rows]
    assert times == sorted(times)


def test_activities_keep_their_payloads_time_ordered_ids(client, setup, drain):
    _accept_by_every_route(client, setup)
    drain()
    activities = {activity.id for activity in Activity.objects.filter(datamart=setup.datamart)}
    payloads = set(
        InboxPayload.objects.filter(datamart=setup.datamart, source=Source.SEGMENT).values_list("id", flat=True)
    )
    assert payloads  # the six Segment messages
    assert payloads <= activities
    assert all(activity_id.version == 7 for activity_id in activities)
