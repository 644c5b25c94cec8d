"""Reads racing merges (spec 7): while an alias merges a newer point into an older one (both directions of age),
a reader of `GET .../user_points/user_account_id=U/user_profiles` always finds the person and the profile, and a
reader of the same person's timeline (`.../user_activities`, one SQL statement) sees the activities as they were
before the merge or as they are after it, never a part: the selector and the data are read in one snapshot.
PostgreSQL only (a real concurrent writer)."""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

import pytest
from django.db import connections
from django.test import Client

from apps.activities.pipeline import inbox_drain_batch

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROUNDS = 25


def post(client: Client, key: str, path: str, body: dict) -> None:
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    response = client.post(path, json.dumps(body), content_type="application/json", headers={"Authorization": auth})
    assert response.status_code == 200, response.content


def drain() -> None:
    while inbox_drain_batch():
        pass


@pytest.mark.parametrize("survivor", ["anonymous", "account"])
def test_a_read_during_a_merge_never_misses_the_person(setup, survivor):
    client = Client()
    key, d = setup.key, setup.datamart.pk
    failures: list[str] = []
    reads = timeline_reads = 0
    for n in range(ROUNDS):
        user, anonymous = f"u-{survivor}-{n}", f"a-{survivor}-{n}"
        visit: dict[str, Any] = {"type": "track", "event": "Visit", "anonymousId": anonymous}
        identify: dict[str, Any] = {"type": "identify", "userId": user, "traits": {"plan": "pro"}}
        first, second = (visit, identify) if survivor == "anonymous" else (identify, visit)
        post(client, key, f"/v1/{first['type']}", first)
        drain()  # the first point is the older one: it survives the merge
        post(client, key, f"/v1/{second['type']}", second)
        drain()
        post(client, key, "/v1/alias", {"userId": user, "previousId": anonymous})
        stop = threading.Event()
        url = f"/v1/datamarts/{d}/user_points/user_account_id={user}/user_profiles"
        timeline_url = f"/v1/datamarts/{d}/user_points/user_account_id={user}/user_activities"
        before_merge = _timeline(client, timeline_url, key)
        timelines: list[frozenset[str]] = []

        def read(url: str, timeline_url: str, user: str, stop: threading.Event, seen: list[frozenset[str]]) -> None:
            nonlocal reads
            reader = Client()
            try:
                while not stop.is_set():
                    response = reader.get(url, HTTP_AUTHORIZATION=key)
                    reads += 1
                    body = response.json()
                    if response.status_code != 200 or [p.get("plan") for p in body["data"]] != ["pro"]:
                        failures.append(f"{user}: {response.status_code} {body}")
                    try:
                        seen.append(_timeline(reader, timeline_url, key))
                    except AssertionError as exc:
                        failures.append(f"{user}: timeline {exc}")
            finally:
                connections.close_all()

        readers = [threading.Thread(target=read, args=(url, timeline_url, user, stop, timelines)) for _ in range(2)]
        for thread in readers:
            thread.start()
        drain()  # the merge, while the readers read
        stop.set()
        for thread in readers:
            thread.join(timeout=30)
        after_merge = _timeline(client, timeline_url, key)
        assert after_merge > before_merge, "the merge brings the other point's activities"
        failures.extend(f"{user}: a timeline of {sorted(t)}" for t in timelines if t not in (before_merge, after_merge))
        timeline_reads += len(timelines)
    assert reads >= ROUNDS * 2
    assert timeline_reads >= ROUNDS * 2
    assert failures == [], f"{len(failures)} of {reads} reads missed the person: {failures[:3]}"


def _timeline(client: Client, url: str, key: str) -> frozenset[str]:
    """The ids of the activities the timeline answers (a 404 or a full page would be a failure of this test)."""
    response = client.get(url, HTTP_AUTHORIZATION=key)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["total"] == len(body["data"]), body  # a page that is not full: the one-statement read
    return frozenset(a["$activity_id"] for a in body["data"])
