"""POST /api/track, /api/identify, /api/group through Django's test client, processed in-process (`drain`)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from apps.activities.models import Activity, InboxPayload, Source
from apps.datamarts.services import api_key_create, api_key_hash
from apps.dialects.braze.ratelimit import bucket_of, rate_limit_clear
from apps.userpoints.identifiers import email_hash
from tests.dialects.helpers import profile_properties

SEED = Path(__file__).with_name("seed_track.json").read_text()
USER = "3e474abe-5943-41fd-8b7b-4c87ad95b0c7"


@pytest.fixture
def thrive(client):
    """POSTs to /api/<kind>: thrive(kind, body, key=...) -> the response (body: a dict or list, or str sent as is)."""

    def post(kind: str, body, *, key: str | None = None, header: str = "bearer", **extra):
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        headers = dict(extra)
        if key is not None and header == "bearer":
            headers["HTTP_AUTHORIZATION"] = f"Bearer {key}"
        elif key is not None:
            headers["HTTP_X_API_KEY"] = key
        return client.post(f"/api/{kind}", data=data, content_type="application/json", **headers)

    return post


def assert_error(response, status: int, message_part: str):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["success"] is False
    assert message_part in body["message"]
    uuid.UUID(body["response_id"])


def test_seed_sample_verbatim_is_refused_naming_timestamp(setup, thrive):
    response = thrive("track", SEED, key=setup.key)
    assert_error(response, 400, "timestamp")
    assert response.json()["message"] == "timestamp: '20-11-23T22:28:55.111Z' is not an ISO 8601 date"
    assert not InboxPayload.objects.filter(datamart=setup.datamart).exists()


def test_seed_sample_with_a_valid_timestamp_reaches_the_user_point_api(setup, thrive, api, drain):
    body = json.loads(SEED)
    body["timestamp"] = "2023-11-20T22:28:55.111Z"
    response = thrive("track", body, key=setup.key)
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["success"] is True
    assert answer["message"] == "Event(s) tracked successfully"
    uuid.UUID(answer["response_id"])
    assert drain() == 1

    d = setup.datamart.pk
    status, point = api("get", f"/v1/datamarts/{d}/user_points/user_account_id={USER}", key=setup.key)
    assert status == 200, point
    status, identifiers = api(
        "get", f"/v1/datamarts/{d}/user_points/user_account_id={USER}/user_identifiers", key=setup.key
    )
    assert status == 200
    emails = [i for i in identifiers["data"] if i["type"] == "USER_EMAIL"]
    assert [(i["hash"], i["email"]) for i in emails] == [(email_hash("johndoe@acmalabs.com"), "JohnDoe@acmalabs.com")]
    # The e-mail selects the same point.
    status, same = api("get", f"/v1/datamarts/{d}/user_points/email_hash={emails[0]['hash']}", key=setup.key)
    assert same["data"]["user_point_id"] == point["data"]["user_point_id"]
    assert profile_properties(api, setup, f"user_account_id={USER}", USER) == {
        "email": "JohnDoe@acmalabs.com",
        "name": "John Doe",
        "first_name": "John",
        "last_name": "Doe",
    }
    (activity,) = Activity.objects.filter(datamart=setup.datamart)
    assert activity.source == Source.THRIVESTACK
    assert activity.ts == 1700519335111
    assert activity.document["$events"][0]["$event_name"] == "User Registered"


def test_identify_and_group_update_the_profile(setup, thrive, api, drain):
    calls = [
        ("identify", {"user_id": "u1", "traits": {"plan": "pro", "email": "u1@example.com"}}),
        ("group", {"user_id": "u1", "group_id": "acme", "traits": {"seats": 5}}),
        ("group", [{"user_id": "u1", "group_id": "beta", "traits": {"seats": 1}}]),
        ("group", {"user_id": "u1", "group_id": "acme", "traits": {"tier": "gold"}}),
    ]
    for kind, body in calls:
        assert thrive(kind, body, key=setup.key).status_code == 200
    drain()
    assert profile_properties(api, setup, "user_account_id=u1", "u1") == {
        "plan": "pro",
        "email": "u1@example.com",
        "groups": {"acme": {"seats": 5, "tier": "gold"}, "beta": {"seats": 1}},
    }
    d = setup.datamart.pk
    status, _ = api("get", f"/v1/datamarts/{d}/user_points/email_hash={email_hash('u1@example.com')}", key=setup.key)
    assert status == 200
    assert not Activity.objects.filter(datamart=setup.datamart).exists()  # identify and group are not activities


def test_an_array_is_accepted_whole_or_refused_whole(setup, thrive, drain):
    good = {"event_name": "a", "user_id": "u", "context": {"device_id": "dev1"}}
    response = thrive("track", [good, {"event": "b"}], key=setup.key)
    assert_error(response, 400, "[1].user_id is required")
    assert not InboxPayload.objects.filter(datamart=setup.datamart).exists()
    response = thrive("track", [good, {**good, "event_name": "b"}], key=setup.key, header="x-api-key")
    assert response.status_code == 200
    assert drain() == 2
    assert Activity.objects.filter(datamart=setup.datamart, user_point__identifiers__key="device:dev1").count() == 2


def test_refusals(setup, thrive, client):
    body = {"event_name": "e", "user_id": "u"}
    assert_error(thrive("track", body), 401, "Invalid API key")
    assert_error(thrive("track", body, key="nope"), 401, "Invalid API key")
    reader = api_key_create(datamart=setup.datamart, name="r", scopes=["read"]).raw_key
    assert_error(thrive("track", body, key=reader), 403, "ingest")
    assert_error(thrive("identify", "{not json", key=setup.key), 400, "not valid JSON")
    assert_error(thrive("identify", '{"user_id": "u", "traits": {"x": Infinity}}', key=setup.key), 400, "Infinity")
    assert_error(thrive("group", body, key=setup.key), 400, "group_id is required")
    response = client.get("/api/track", HTTP_AUTHORIZATION=f"Bearer {setup.key}")
    assert_error(response, 405, "use POST")


def test_rate_limit(setup, thrive, settings):
    settings.THRIVESTACK_RATE_LIMIT_PER_MINUTE = 1
    bucket = bucket_of("key", api_key_hash(setup.key))
    rate_limit_clear(scope="thrivestack", bucket=bucket)
    try:
        assert thrive("identify", {"user_id": "u"}, key=setup.key).status_code == 200
        response = thrive("identify", {"user_id": "u"}, key=setup.key)
        assert_error(response, 429, "Rate limit")
        assert response["X-RateLimit-Limit"] == "1"
        assert response["X-RateLimit-Remaining"] == "0"
    finally:
        rate_limit_clear(scope="thrivestack", bucket=bucket)
