"""Bursts of activities posted to a running server whose drain nudges are throttled are all processed by a real
worker without beat's sweep: the trailing nudge, not the backstop, brings in what a drain task had already passed."""

from __future__ import annotations

import pytest
import requests
from django.core.cache import cache

from apps.activities.inbox import _throttle
from apps.activities.models import InboxPayload, InboxStatus
from apps.activities.tasks import DRAIN_PENDING_KEY
from tests.e2e.conftest import gunicorn_server, wait_for
from tests.factories import datamart_setup

pytestmark = pytest.mark.e2e


def test_throttled_nudges_still_get_every_burst_processed(worker_factory):
    setup = datamart_setup()
    worker = worker_factory(beat=False)  # no sweep: only the server's nudges make the worker drain
    # A nudge from an earlier test of this process went to another queue: its pending key would make the server
    # believe a drain task is already queued for this worker.
    if _throttle.trailing is not None:
        _throttle.trailing.join()
    cache.delete(DRAIN_PENDING_KEY)
    pending = InboxPayload.objects.filter(datamart=setup.datamart).exclude(status=InboxStatus.PROCESSED)
    # A web process of its own (the test process's broker pool is the fixture's to manage), in the worker's
    # directory: on the embedded defaults the filesystem broker's folders are there.
    with gunicorn_server(worker.var_dir, worker.queue, INBOX_NUDGE_INTERVAL_SECONDS="0.3") as base:
        endpoint = f"{base}/v1/datamarts/{setup.datamart.pk}/user_activities"
        for burst in range(3):
            for n in range(15):
                body = {"$ts": 1_700_000_000_000 + n, "$type": "TOUCH", "$user_agent_id": f"vec:{burst}-{n}"}
                response = requests.post(endpoint, json=body, headers={"Authorization": setup.key}, timeout=10)
                assert response.status_code == 200, response.text
            wait_for(lambda: not pending.exists(), timeout=60, what=f"burst {burst} to be processed")
    assert InboxPayload.objects.filter(datamart=setup.datamart, status=InboxStatus.PROCESSED).count() == 45
