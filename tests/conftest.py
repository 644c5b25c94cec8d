from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from tests.factories import Setup, datamart_setup


@pytest.fixture(scope="session", autouse=True)
def _a_queue_of_the_tests_own():
    """Accepting a payload nudges a drain task onto the broker. The tests publish on a queue of their own, deleted
    at the end, never on the one a deployment's workers read (CELERY_TASK_DEFAULT_QUEUE)."""
    from trackingconsole.celery import app as celery_app

    queue = f"tc-test-{uuid.uuid4().hex[:8]}"
    saved = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue  # before anything is published: the router reads it then
    yield queue
    try:
        with celery_app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)
    except Exception as exc:  # a broker gone at the end leaves nothing to clean
        print(f"could not delete the test queue {queue}: {exc}")
    celery_app.conf.task_default_queue = saved


@pytest.fixture
def setup(db) -> Setup:
    return datamart_setup()


@pytest.fixture
def api(client: Client):
    """Sends JSON to the API: api("post", url, body, key=...) -> (status, parsed body)."""

    def call(method: str, url: str, body: Any = None, *, key: str | None = None, **extra: Any):
        headers = dict(extra)
        if key is not None:
            headers["HTTP_AUTHORIZATION"] = key
        data = body if isinstance(body, (bytes, str)) else json.dumps(body) if body is not None else None
        kwargs: dict[str, Any] = {"content_type": headers.pop("content_type", "application/json")}
        if data is not None:
            kwargs["data"] = data
        response = getattr(client, method)(url, **kwargs, **headers)
        try:
            parsed = json.loads(response.content) if response.content else None
        except ValueError:
            parsed = response.content
        return response.status_code, parsed

    return call


def pytest_collection_modifyitems(config, items):
    """Tests marked `postgres` need row locks and concurrent transactions: skipped, with the reason, on SQLite."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL (CI does)")
        for item in items:
            if "postgres" in item.keywords:
                item.add_marker(skip)


@pytest.fixture
def drain():
    """Runs the pipeline in-process until the inbox is empty (the e2e tests use a real worker instead)."""
    from apps.activities.pipeline import inbox_drain_batch

    def run() -> int:
        total = 0
        while (claimed := inbox_drain_batch()) > 0:
            total += claimed
        return total

    return run


@pytest.fixture
def vendor() -> str:
    return connection.vendor


class WorkersBehind:
    """Workers behind the front door (apps/activities/backpressure.py): another datamart's pending payloads at a
    small INBOX_BACKLOG_LIMIT, while a drain runs. The ingestion routes answer 429 until `catch_up()`."""

    LIMIT = 3

    def __init__(self, settings, caplog) -> None:
        from django.utils import timezone

        from apps.activities.backpressure import backlog_forget
        from apps.activities.models import InboxPayload, Source

        settings.INBOX_BACKLOG_LIMIT = self.LIMIT
        settings.INBOX_BACKLOG_CHECK_SECONDS = 0
        backlog_forget()
        self.busy = datamart_setup()
        InboxPayload.objects.bulk_create(
            InboxPayload(datamart=self.busy.datamart, source=Source.SEGMENT, payload={}, received_at=timezone.now())
            for _ in range(self.LIMIT)
        )
        self.caplog = caplog
        caplog.set_level("WARNING", logger="django.request")  # where Django logs each 4xx answer

    def refusals(self) -> int:
        return sum(1 for record in self.caplog.records if getattr(record, "status_code", None) == 429)

    def wait_for_refusal(self) -> None:
        from apps.activities.backpressure import draining_mark
        from tests.e2e.conftest import wait_for

        def refused() -> bool:
            draining_mark()  # a drain at work, for as long as the client takes to send its first request
            return self.refusals() > 0

        wait_for(refused, timeout=60, interval=0.05, what="a client's request to be refused with 429")

    def catch_up(self) -> None:
        from apps.activities.models import InboxPayload, InboxStatus

        InboxPayload.objects.filter(datamart=self.busy.datamart).update(status=InboxStatus.PROCESSED)

    def send_through(self, send: Any, *, datamart: Any) -> Any:
        """Runs `send()` (a client library sending to `datamart`) in a thread: once one of its requests is refused,
        checks that nothing of it was stored, lets the workers catch up, and returns what `send()` returned after
        its retries."""
        from apps.activities.models import InboxPayload

        result: list[Any] = []
        sender = threading.Thread(target=lambda: result.append(send()))
        sender.start()
        try:
            self.wait_for_refusal()
            assert not InboxPayload.objects.filter(datamart=datamart).exists()
            self.catch_up()
        finally:
            sender.join(timeout=120)
        assert result, "the client did not finish"
        return result[0]

    def close(self) -> None:
        from django.core.cache import cache

        from apps.activities.backpressure import DRAINING_KEY, backlog_forget

        cache.delete(DRAINING_KEY)
        backlog_forget()


@pytest.fixture
def workers_behind(settings, caplog, transactional_db):
    behind = WorkersBehind(settings, caplog)
    yield behind
    behind.close()
