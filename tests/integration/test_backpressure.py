"""Backpressure (apps/activities/backpressure.py): past INBOX_BACKLOG_LIMIT pending payloads, while workers drain,
every ingestion route a client can retry answers 429 in its dialect's format with Retry-After and stores nothing;
the routes whose senders never retry (pixel, beacon) still accept; with no drain running (workers or broker down)
everything is accepted, as the durable inbox was built for; below the limit again, the routes accept again."""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from apps.activities.backpressure import DRAINING_KEY, backlog_forget, draining_mark
from apps.activities.inbox import _throttle
from apps.activities.models import InboxPayload, InboxStatus, Source
from apps.activities.tasks import inbox_drain
from tests.dialects.segment.helpers import basic
from tests.factories import datamart_setup

pytestmark = pytest.mark.django_db(transaction=True)

LIMIT = 5


@pytest.fixture(autouse=True)
def _limit(settings):
    settings.INBOX_BACKLOG_LIMIT = LIMIT
    settings.INBOX_BACKLOG_CHECK_SECONDS = 0  # every request counts: the tests change the backlog between requests
    settings.INBOX_BACKLOG_RETRY_AFTER_SECONDS = 2
    backlog_forget()
    cache.delete(DRAINING_KEY)
    yield
    cache.delete(DRAINING_KEY)
    backlog_forget()
    if (trailing := _throttle.trailing) is not None:  # the nudge timer of an accepted payload: not into the next test
        trailing.join()


def _backlog(setup, n: int = LIMIT) -> None:
    """n pending payloads, as a burst the workers have not reached yet would leave."""
    InboxPayload.objects.bulk_create(
        InboxPayload(datamart=setup.datamart, source=Source.ACTIVITY, payload={"n": i}, received_at=timezone.now())
        for i in range(n)
    )


def _stored(setup) -> int:
    return InboxPayload.objects.filter(datamart=setup.datamart).count()


def _segment_message(n: int = 0) -> dict[str, Any]:
    return {"type": "track", "event": "Bought", "userId": f"u-{n}", "messageId": f"m-{n}-{time.monotonic_ns()}"}


class Routes:
    """One request per retryable ingestion route, each with what its dialect's 429 looks like."""

    def __init__(self, client: Client, setup) -> None:
        self.client = client
        self.setup = setup

    def mediarithmics(self):
        body = {"$ts": 1700000000000, "$type": "SITE_VISIT", "$user_agent_id": "vec:1"}
        return self.client.post(
            f"/v1/datamarts/{self.setup.datamart.pk}/user_activities",
            data=json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=self.setup.key,
        )

    def segment_track(self):
        return self.client.post(
            "/v1/track",
            data=json.dumps(_segment_message()),
            content_type="application/json",
            HTTP_AUTHORIZATION=basic(self.setup.key),
        )

    def segment_batch(self):
        body = {"batch": [_segment_message(n) for n in range(3)]}
        return self.client.post(
            "/v1/batch",
            data=json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=basic(self.setup.key),
        )

    def segment_webhook(self):
        return self.client.post(
            f"/v1/webhook?writeKey={self.setup.key}",
            data=json.dumps(_segment_message()),
            content_type="application/json",
        )

    def braze(self):
        body = {"events": [{"external_id": "u-1", "name": "Bought", "time": "2026-01-01T00:00:00Z"}]}
        return self.client.post(
            "/users/track",
            data=json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {self.setup.key}",
        )

    def thrivestack(self):
        body = {"event_name": "signed_up", "user_id": "u-1"}
        return self.client.post(
            "/api/track",
            data=json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {self.setup.key}",
        )


RETRYABLE = ["mediarithmics", "segment_track", "segment_batch", "segment_webhook", "braze", "thrivestack"]


def _assert_refused_in_dialect(route: str, response) -> None:
    assert response.status_code == 429, response.content
    assert response["Retry-After"] == "2"
    body = response.json()
    if route == "mediarithmics":
        assert body["status"] == "error"
        assert body["error_code"] == "RATE_LIMITED"
        assert "retry after 2 s" in body["error"]
    elif route == "segment_track" or route == "segment_webhook":
        assert body["code"] == "too_many_requests"
        assert body["Error"] == "Too Many Requests"
    elif route == "segment_batch":
        assert body["Success"] is False
        assert body["code"] == "too_many_requests"
    elif route == "braze":
        assert "retry after 2 s" in body["message"]
        # braze-client waits until X-RateLimit-Reset (epoch seconds) on a 429.
        assert 0 < int(response["X-RateLimit-Reset"]) - time.time() <= 3
    else:
        assert body["success"] is False
        assert "retry after 2 s" in body["message"]


@pytest.mark.parametrize("route", RETRYABLE)
def test_over_the_limit_while_draining_each_route_answers_429_in_its_format_and_stores_nothing(client, route):
    setup = datamart_setup()
    _backlog(setup)
    draining_mark()
    response = getattr(Routes(client, setup), route)()
    _assert_refused_in_dialect(route, response)
    assert _stored(setup) == LIMIT


@pytest.mark.parametrize("route", RETRYABLE)
def test_below_the_limit_each_route_accepts(client, route):
    setup = datamart_setup()
    _backlog(setup, LIMIT - 1)
    draining_mark()
    response = getattr(Routes(client, setup), route)()
    assert response.status_code in (200, 201), response.content
    assert _stored(setup) > LIMIT - 1


@pytest.mark.parametrize("route", RETRYABLE)
def test_with_no_drain_running_a_backlog_over_the_limit_is_still_accepted(client, route):
    """Workers or broker down: the inbox is the buffer (beat's sweep drains it later); refusing would be an outage."""
    setup = datamart_setup()
    _backlog(setup, LIMIT + 3)
    response = getattr(Routes(client, setup), route)()
    assert response.status_code in (200, 201), response.content
    assert _stored(setup) > LIMIT + 3


def test_the_pixel_and_the_beacon_accept_over_the_limit_their_senders_never_retry(client):
    setup = datamart_setup()
    _backlog(setup)
    draining_mark()
    data = base64.b64encode(json.dumps(_segment_message()).encode()).decode()
    pixel = client.get("/v1/pixel/track", {"data": data, "writeKey": setup.key})
    assert pixel.status_code == 200
    assert pixel["Content-Type"] == "image/gif"
    beacon = client.post(
        f"/beacon/v1/batch?writeKey={setup.key}",
        data=json.dumps({"batch": [_segment_message(1), _segment_message(2)]}),
        content_type="text/plain",
    )
    assert beacon.status_code == 200, beacon.content
    assert _stored(setup) == LIMIT + 3


def test_a_drain_marks_draining_and_the_routes_accept_again_once_it_caught_up(client):
    """The real drain task: it marks that it is draining (so the limit applies), and processing the backlog brings
    it under the limit, after which the same request is accepted."""
    setup = datamart_setup()
    routes = Routes(client, setup)
    for _ in range(LIMIT):
        assert routes.segment_track().status_code == 200  # real payloads, which the drain can process
    assert cache.get(DRAINING_KEY) is None
    assert routes.segment_track().status_code == 200  # over the limit, but no drain runs yet: accepted
    assert inbox_drain.run() == LIMIT + 1
    assert cache.get(DRAINING_KEY) is not None
    assert InboxPayload.objects.filter(status=InboxStatus.PENDING).count() == 0
    assert routes.segment_track().status_code == 200
    _backlog(setup)
    _assert_refused_in_dialect("segment_track", routes.segment_track())


def test_a_process_counts_once_per_interval_not_once_per_request(client, settings):
    settings.INBOX_BACKLOG_CHECK_SECONDS = 60
    setup = datamart_setup()
    _backlog(setup)
    draining_mark()
    routes = Routes(client, setup)
    _assert_refused_in_dialect("segment_track", routes.segment_track())
    InboxPayload.objects.all().delete()
    # Within the interval the last count stands: still refused, although the backlog is gone.
    _assert_refused_in_dialect("segment_track", routes.segment_track())
    backlog_forget()
    assert routes.segment_track().status_code == 200


def test_concurrent_clients_of_two_dialects_are_refused_together_and_accepted_together(live_server, settings):
    """Threads of one server process share the count: 8 clients of two dialects at once, over the limit then under
    it. None is accepted while the backlog is over, every one once it is under; nothing refused is stored."""
    import requests

    settings.INBOX_BACKLOG_CHECK_SECONDS = 0.05
    setup = datamart_setup()
    _backlog(setup)
    draining_mark()

    def send(n: int) -> int:
        if n % 2:
            return requests.post(
                f"{live_server.url}/v1/track",
                json=_segment_message(n),
                headers={"Authorization": basic(setup.key)},
                timeout=10,
            ).status_code
        return requests.post(
            f"{live_server.url}/api/track",
            json={"event_name": "signed_up", "user_id": f"u-{n}"},
            headers={"Authorization": f"Bearer {setup.key}"},
            timeout=10,
        ).status_code

    def round_of(n: int) -> list[int]:
        statuses: list[int] = [0] * n
        barrier = threading.Barrier(n)

        def one(i: int) -> None:
            barrier.wait()
            statuses[i] = send(i)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return statuses

    assert round_of(8) == [429] * 8
    assert _stored(setup) == LIMIT
    InboxPayload.objects.filter(datamart=setup.datamart).update(status=InboxStatus.PROCESSED)
    time.sleep(0.1)  # past the check interval
    assert round_of(8) == [200] * 8
    assert InboxPayload.objects.filter(datamart=setup.datamart, status=InboxStatus.PENDING).count() == 8
