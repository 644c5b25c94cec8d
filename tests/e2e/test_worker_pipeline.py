"""Activities posted over HTTP to a live server, processed by a real Celery worker on the real broker, and
observed through the API."""

from __future__ import annotations

import pytest
import requests
from django.utils import timezone

from apps.activities.mics import Compartments, translate_activity
from apps.activities.models import InboxPayload, InboxStatus
from tests.e2e.conftest import wait_for
from tests.factories import datamart_setup

pytestmark = pytest.mark.e2e


def post_activity(base: str, setup, body: dict) -> requests.Response:
    return requests.post(
        f"{base}/v1/datamarts/{setup.datamart.pk}/user_activities",
        json=body,
        headers={"Authorization": setup.key},
        timeout=10,
    )


def get(base: str, setup, path: str) -> requests.Response:
    return requests.get(
        f"{base}/v1/datamarts/{setup.datamart.pk}/{path}", headers={"Authorization": setup.key}, timeout=10
    )


def activity(ts: int, identifiers: list[dict], **extra) -> dict:
    return {"$ts": ts, "$type": "APP_VISIT", "$user_identifiers": identifiers, **extra}


def test_worker_resolves_and_merges_what_was_posted(worker_factory, live_server):
    setup = datamart_setup()
    c = setup.default_compartment.pk
    worker_factory()
    base = live_server.url
    # Two people, then an activity that proves they are one: the worker must merge them into the older point.
    first = post_activity(base, setup, activity(1, [{"$type": "USER_AGENT", "$user_agent_id": "vec:A"}]))
    assert first.status_code == 200, first.text
    older = wait_for(
        lambda: get(base, setup, "user_points/user_agent_id=vec:A").json()["data"]["user_point_id"]
        if get(base, setup, "user_points/user_agent_id=vec:A").status_code == 200
        else None,
        what="the first point",
    )
    post_activity(
        base, setup, activity(2, [{"$type": "USER_ACCOUNT", "$compartment_id": str(c), "$user_account_id": "bob"}])
    )
    wait_for(lambda: get(base, setup, "user_points/user_account_id=bob").status_code == 200, what="the second point")
    younger = get(base, setup, "user_points/user_account_id=bob").json()["data"]["user_point_id"]
    assert younger != older

    post_activity(
        base,
        setup,
        activity(
            3,
            [
                {"$type": "USER_ACCOUNT", "$compartment_id": str(c), "$user_account_id": "bob"},
                {"$type": "USER_AGENT", "$user_agent_id": "vec:A"},
            ],
        ),
    )
    merged = wait_for(
        lambda: (r := get(base, setup, f"user_points/{younger}")).status_code == 200
        and r.json()["data"]["user_point_id"] == older
        and r.json()["data"],
        what="the merge",
    )
    assert merged["merged_user_point_ids"] == [younger]
    identifiers = get(base, setup, "user_points/user_account_id=bob/user_identifiers").json()["data"]
    assert {i["type"] for i in identifiers} == {"USER_POINT", "USER_ACCOUNT", "USER_AGENT"}
    assert identifiers[0]["user_point_id"] == older


def test_activity_accepted_while_broker_is_down_is_processed_when_it_returns(worker_factory, live_server, settings):
    """The payload is committed before the 200 even though the task cannot be sent; beat's sweep finds it."""
    from trackingconsole.celery import app as celery_app

    setup = datamart_setup()
    real_url = celery_app.conf.broker_url
    # Point this (web) process at a broker that refuses connections: the accept must still answer 200.
    celery_app.conf.broker_url = "redis://127.0.0.1:1/0"
    celery_app.pool.force_close_all()
    try:
        response = post_activity(
            live_server.url, setup, activity(5, [{"$type": "USER_AGENT", "$user_agent_id": "vec:offline"}])
        )
    finally:
        celery_app.conf.broker_url = real_url
        celery_app.pool.force_close_all()
    assert response.status_code == 200, response.text
    payload_id = response.json()["data"]["activity_id"]
    assert InboxPayload.objects.get(id=payload_id).status == InboxStatus.PENDING

    worker_factory(beat=True)  # the broker is back: beat's sweep (every 2 s here) queues the drain
    wait_for(
        lambda: InboxPayload.objects.get(id=payload_id).status == InboxStatus.PROCESSED,
        timeout=60,
        what="the sweep to process the payload",
    )
    assert get(live_server.url, setup, "user_points/user_agent_id=vec:offline").status_code == 200


def test_a_bare_worker_with_embedded_beat_sweeps_without_a_var_directory(worker_factory, tmp_path, settings):
    """`celery -A trackingconsole worker -B` where no var/ exists yet (a fresh clone nobody ran bin/run in): beat's
    schedule file has a directory, and the sweep picks up a payload whose drain task was never queued (spec 0)."""
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        pytest.skip("the filesystem broker's folders live in the var directory the test makes; CI uses Redis")
    setup = datamart_setup()
    fresh_var = tmp_path / "var-that-does-not-exist-yet"
    assert not fresh_var.exists()
    # Committed to the inbox directly, without the drain nudge a route would send: only the sweep can find it.
    row = InboxPayload.objects.create(
        datamart=setup.datamart,
        source="ACTIVITY",
        received_at=timezone.now(),
        payload=translate_activity(
            {"$ts": 1_700_000_000_000, "$type": "TOUCH", "$user_agent_id": "vec:swept"},
            Compartments(frozenset({setup.default_compartment.pk}), setup.default_compartment.pk),
        )[0],
    )
    worker_factory(var_dir=fresh_var)
    wait_for(
        lambda: InboxPayload.objects.get(pk=row.pk).status == InboxStatus.PROCESSED,
        timeout=60,
        what="the sweep of a worker started with -B to process the payload",
    )
    assert (fresh_var / "celerybeat-schedule").exists() or any(fresh_var.glob("celerybeat-schedule*"))
