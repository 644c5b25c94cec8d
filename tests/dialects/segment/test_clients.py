"""The real Segment-style client libraries, each in its own virtualenv, pointed at a live server by their `host`
option, deliver every call type; what they sent is read back through the UserPoint API (spec 2)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from apps.activities.models import InboxPayload, InboxStatus
from apps.userpoints.identifiers import email_hash
from tests.dialects.segment.conftest import CLIENT_LIBRARIES
from tests.e2e.conftest import wait_for
from tests.factories import datamart_setup

CALL_TYPES = ["page", "track", "identify", "track", "screen", "group", "alias"]


class Api:
    """GETs on the live server's UserPoint API."""

    def __init__(self, base: str, setup) -> None:
        self.base = f"{base}/v1/datamarts/{setup.datamart.pk}"
        self.key = setup.key

    def get(self, path: str) -> tuple[int, Any]:
        response = requests.get(f"{self.base}/{path}", headers={"Authorization": self.key}, timeout=10)
        return response.status_code, response.json()


def assert_delivered(api: Api, setup, run: str) -> None:
    from tests.dialects.segment import helpers

    user = f"user_account_id={run}-user"
    point = helpers.point(api.get, user)
    assert point is not None, "the user's point"
    # alias merged the anonymous visitor's point into the user's: both selectors name one point.
    assert helpers.point(api.get, f"user_agent_id=anon:{run}-anon") == point
    assert helpers.point(api.get, f"email_hash={email_hash(f'{run}@example.com')}") == point
    assert {
        ("USER_ACCOUNT", f"{run}-user"),
        ("USER_AGENT", f"anon:{run}-anon"),
        ("USER_EMAIL", f"{run}@example.com"),
    } <= (helpers.identifier_summary(helpers.identifiers(api.get, user)))
    activities = helpers.activities(api.get, user)
    assert sorted(a["type"] for a in activities) == sorted(CALL_TYPES)
    assert {a["messageId"] for a in activities} == {f"{run}-{n}" for n in range(1, 8)}
    by_type = {a["type"]: a for a in activities}
    assert by_type["page"]["$type"] == "SITE_VISIT"
    assert by_type["screen"]["$type"] == "APP_VISIT"
    assert by_type["alias"]["previousId"] == f"{run}-anon"
    for activity in activities:
        assert activity["context"]["library"]["name"] == "analytics-python"  # what all three libraries send
        assert activity["receivedAt"].endswith("Z")
        assert "writeKey" not in activity
    (profile,) = helpers.profiles(api.get, user)
    assert profile["name"] == "Arthur Dent"
    assert profile["groups"] == {"g-1": {"name": "Team"}}


@pytest.mark.parametrize("mode", ["sync", "batch"])
@pytest.mark.parametrize("library", list(CLIENT_LIBRARIES))
def test_library_delivers_every_call_type(library, mode, live_server, run_client, drain, transactional_db):
    setup = datamart_setup()
    run = f"{library[:3]}-{mode}-{uuid.uuid4().hex[:6]}"
    report = run_client(library, live_server.url, setup.key, mode, run)
    assert report == {"sent": 7, "errors": []}
    assert InboxPayload.objects.filter(datamart=setup.datamart).count() == 7
    assert drain() == 7
    assert_delivered(Api(live_server.url, setup), setup, run)
    # Sending the same messages again (a client retrying) stores nothing new.
    assert run_client(library, live_server.url, setup.key, mode, run)["errors"] == []
    assert InboxPayload.objects.filter(datamart=setup.datamart).count() == 7


def test_library_reports_a_bad_write_key_as_a_failure(live_server, run_client, transactional_db):
    """The 400 for an unknown key reaches the application through the library (`code` / `message`)."""
    for library in CLIENT_LIBRARIES:
        with pytest.raises(AssertionError, match="Invalid or missing writekey"):
            run_client(library, live_server.url, "not-a-key", "sync", "bad")
    assert not InboxPayload.objects.exists()


@pytest.mark.e2e
def test_gzipping_library_through_a_real_celery_worker(worker_factory, live_server, run_client):
    worker_factory()
    setup = datamart_setup()
    run = f"e2e-{uuid.uuid4().hex[:6]}"
    assert run_client("rudder-sdk-python", live_server.url, setup.key, "batch", run)["errors"] == []
    wait_for(
        lambda: InboxPayload.objects.filter(datamart=setup.datamart, status=InboxStatus.PROCESSED).count() == 7,
        timeout=90,
        what="the worker to process the 7 messages",
    )
    assert_delivered(Api(live_server.url, setup), setup, run)


@pytest.mark.parametrize("library", list(CLIENT_LIBRARIES))
def test_library_retries_a_backpressure_429_and_delivers_once_the_backlog_drained(
    library, live_server, run_client, drain, workers_behind
):
    """The workers are behind (apps/activities/backpressure.py): the library, in its default batch mode and default
    retries, gets 429 and keeps its messages; once the backlog is processed its retry delivers every one, once."""
    setup = datamart_setup()
    run = f"{library[:3]}-429-{uuid.uuid4().hex[:6]}"
    report = workers_behind.send_through(
        lambda: run_client(library, live_server.url, setup.key, "batch", run, "default-retries"),
        datamart=setup.datamart,
    )
    assert report == {"sent": 7, "errors": []}
    assert InboxPayload.objects.filter(datamart=setup.datamart).count() == 7
    assert drain() == 7
    assert_delivered(Api(live_server.url, setup), setup, run)
