"""The real braze-client library (in its own virtualenv, in a subprocess) against a live test server."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from apps.activities.models import Activity, InboxPayload, InboxStatus
from apps.datamarts.services import api_key_hash
from apps.dialects.braze.ratelimit import bucket_of, rate_limit_clear
from tests.dialects.helpers import profile_properties
from tests.e2e.conftest import wait_for
from tests.factories import datamart_setup

SEED = json.loads(Path(__file__).with_name("seed_users_track.json").read_text())
NOW = "2024-05-01T10:00:00Z"


@pytest.fixture
def http_api(live_server):
    """GET on the live server: (status, parsed body), like the `api` fixture but over real HTTP."""
    import requests

    def get(setup, path: str):
        response = requests.get(
            f"{live_server.url}/v1/datamarts/{setup.datamart.pk}/{path}",
            headers={"Authorization": setup.key},
            timeout=10,
        )
        return response.status_code, response.json()

    return get


def test_seed_sample_and_library_behaviours(live_server, braze_client, drain, api):
    setup = datamart_setup()
    base = live_server.url
    seed_call = {"key": setup.key, **SEED}
    results = braze_client(
        base,
        [
            seed_call,
            # Braze's legacy form: the key in the body.
            {"key": setup.key, "use_auth_header": False, "events": [{"braze_id": "b1", "name": "e", "time": NOW}]},
            # One invalid event among valid objects: a success with a non-fatal error.
            {
                "key": setup.key,
                "attributes": [{"external_id": "user_identifier", "visits": {"inc": 2}}],
                "events": [{"external_id": "user_identifier", "name": "e", "time": NOW}, {"name": "no user"}],
            },
            {"key": "wrong", "events": [{"external_id": "x", "name": "e", "time": NOW}]},
            {"key": setup.key, "events": [{"external_id": "x", "name": "e", "time": NOW}] * 76},
        ],
    )
    seed, in_body, partial, bad_key, too_many = results

    assert seed["response"]["message"] == "success"
    assert seed["response"]["success"] is True
    assert seed["response"]["status_code"] == 201
    assert (
        seed["response"]["attributes_processed"],
        seed["response"]["events_processed"],
        seed["response"]["purchases_processed"],
    ) == (1, 1, 1)

    assert in_body["response"]["success"] is True
    assert in_body["response"]["events_processed"] == 1

    # The library counts a response with errors as not successful, and returns them.
    assert partial["response"]["success"] is False
    assert partial["response"]["status_code"] == 201
    assert partial["response"]["events_processed"] == 1
    assert partial["response"]["errors"] == [
        {
            "type": "'external_id', 'braze_id', 'user_alias', 'email' or 'phone' is required",
            "input_array": "events",
            "index": 1,
        }
    ]

    assert bad_key == {"error": "BrazeClientError", "args": ["Invalid API key", []]}
    assert too_many["error"] == "BrazeClientError"
    assert too_many["args"][0] == "Max Input Length Exceeded"

    # 3 (seed) + 1 (key in body) + 2 (partial): nothing of the refused calls.
    assert drain() == 6
    assert profile_properties(api, setup, "user_account_id=user_identifier", "user_identifier") == {
        "string_attribute": "fruit",
        "boolean_attribute_1": True,
        "integer_attribute": 25,
        "array_attribute": ["banana", "apple"],
        "visits": 2,
    }
    assert Activity.objects.filter(datamart=setup.datamart).count() == 4


def test_rate_limit_seen_by_the_library(live_server, braze_client, settings):
    """Over the limit, the library reads X-RateLimit-Reset (epoch seconds) and, as the reset is more than its
    1.25 s of patience away, raises BrazeRateLimitError carrying it."""
    settings.BRAZE_RATE_LIMIT_PER_MINUTE = 1
    setup = datamart_setup()
    bucket = bucket_of("key", api_key_hash(setup.key))
    rate_limit_clear(scope="braze", bucket=bucket)
    call = {"key": setup.key, "events": [{"external_id": "r", "name": "e", "time": NOW}]}
    try:
        first, second = braze_client(live_server.url, [call, call])
    finally:
        rate_limit_clear(scope="braze", bucket=bucket)
    assert first["response"]["success"] is True
    assert second["error"] == "BrazeRateLimitError"
    assert time.time() < second["reset_epoch_s"] <= time.time() + 60
    assert InboxPayload.objects.filter(datamart=setup.datamart).count() == 1


@pytest.mark.e2e
def test_library_to_real_worker(live_server, braze_client, worker_factory, http_api, api):
    """braze-client → live server → inbox → a real Celery worker on the real broker → the UserPoint API."""
    setup = datamart_setup()
    worker_factory()
    alias = {"alias_name": "lead-7", "alias_label": "crm"}
    (result,) = braze_client(
        live_server.url,
        [
            {
                "key": setup.key,
                "attributes": [
                    {"external_id": "w1", "email": "w1@example.com", "score": 10, "tags": ["a"]},
                    {"external_id": "w1", "score": {"inc": 5}, "tags": {"add": ["b"]}},
                ],
                "events": [{"user_alias": alias, "name": "visited", "time": "2024-05-01T12:00:00+2:00"}],
                "purchases": [{"external_id": "w1", "product_id": "p1", "currency": "EUR", "price": 3.5, "time": NOW}],
            }
        ],
    )
    assert result["response"]["success"] is True
    wait_for(
        lambda: not InboxPayload.objects.filter(datamart=setup.datamart).exclude(status=InboxStatus.PROCESSED).exists(),
        what="the worker to process the four payloads",
    )
    status, identifiers = http_api(setup, "user_points/user_account_id=w1/user_identifiers")
    assert status == 200
    assert {i["type"] for i in identifiers["data"]} == {"USER_POINT", "USER_ACCOUNT", "USER_EMAIL"}
    status, alias_point = http_api(setup, "user_points/user_agent_id=alias:crm:lead-7")
    assert status == 200
    assert profile_properties(api, setup, "user_account_id=w1", "w1") == {
        "email": "w1@example.com",
        "score": 15,
        "tags": ["a", "b"],
    }
    visit = Activity.objects.get(datamart=setup.datamart, document__braze__name="visited")
    assert visit.ts == 1714557600000  # 2024-05-01T12:00:00+02:00
    assert str(visit.user_point_id) == alias_point["data"]["user_point_id"]


def test_backpressure_429_is_waited_for_and_retried_by_the_library(live_server, braze_client, workers_behind):
    """Workers behind (apps/activities/backpressure.py): the 429's X-RateLimit-Reset is at most a second away, within
    the library's 1.25 s of patience, so it waits and retries (3 attempts in all) and the call succeeds once the
    backlog is processed; a backlog longer than its attempts would reach the application as BrazeRateLimitError."""
    setup = datamart_setup()
    call = {"key": setup.key, "events": [{"external_id": "bp", "name": "e", "time": NOW}]}
    results = workers_behind.send_through(lambda: braze_client(live_server.url, [call]), datamart=setup.datamart)
    assert results[0]["response"]["success"] is True
    assert InboxPayload.objects.filter(datamart=setup.datamart).count() == 1
