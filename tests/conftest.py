from __future__ import annotations

import json
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
