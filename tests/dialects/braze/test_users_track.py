"""POST /users/track through Django's test client, processed in-process by the pipeline (the `drain` fixture)."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import pytest

from apps.activities.models import Activity, InboxPayload, Source
from apps.datamarts.services import api_key_create
from apps.dialects.braze.ratelimit import bucket_of, rate_limit_clear
from apps.userpoints.identifiers import email_hash
from tests.dialects.helpers import profile_properties
from tests.factories import CompartmentFactory, datamart_setup

SEED = Path(__file__).with_name("seed_users_track.json").read_text()
NOW = "2024-05-01T10:00:00Z"


@pytest.fixture
def track(client):
    """POSTs to /users/track: track(body, key=...) -> the response (body: a dict, or str/bytes sent as is)."""

    def post(body, *, key: str | None = None, bearer: bool = True, **extra):
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        headers = dict(extra)
        if key is not None:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {key}" if bearer else key
        content_type = headers.pop("content_type", "application/json")
        return client.post("/users/track", data=data, content_type=content_type, **headers)

    return post


def identifiers_of(api, setup, selector):
    status, body = api(
        "get", f"/v1/datamarts/{setup.datamart.pk}/user_points/{selector}/user_identifiers", key=setup.key
    )
    assert status == 200, body
    return body["data"]


def assert_rate_headers(response, limit=None):
    for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert response.has_header(name), f"{name} missing on a {response.status_code}"
    if limit is not None:
        assert response["X-RateLimit-Limit"] == str(limit)
    reset = int(response["X-RateLimit-Reset"])
    assert time.time() - 1 <= reset <= time.time() + 61


def test_seed_sample_verbatim_every_object_processed(setup, track, api, drain):
    response = track(SEED, key=setup.key)
    assert response.status_code == 201, response.content
    assert response.json() == {
        "message": "success",
        "attributes_processed": 1,
        "events_processed": 1,
        "purchases_processed": 1,
    }
    assert_rate_headers(response, limit=50_000)
    assert InboxPayload.objects.filter(datamart=setup.datamart, source=Source.BRAZE).count() == 3
    assert drain() == 3

    c = setup.default_compartment.pk
    identifiers = identifiers_of(api, setup, "user_account_id=user_identifier")
    assert {"type": "USER_ACCOUNT", "compartment_id": str(c), "user_account_id": "user_identifier"}.items() <= (
        next(i for i in identifiers if i["type"] == "USER_ACCOUNT").items()
    )
    assert profile_properties(api, setup, "user_account_id=user_identifier", "user_identifier") == {
        "string_attribute": "fruit",
        "boolean_attribute_1": True,
        "integer_attribute": 25,
        "array_attribute": ["banana", "apple"],
    }
    activities = {a.document["$events"][0]["$event_name"]: a for a in Activity.objects.filter(datamart=setup.datamart)}
    assert set(activities) == {"watched_trailer", "$transaction_confirmed"}
    assert {a.source for a in activities.values()} == {Source.BRAZE}
    assert len({a.user_point_id for a in activities.values()}) == 1
    assert activities["watched_trailer"].ts == 1373998830000  # 2013-07-16T19:20:30+1:00
    purchase = activities["$transaction_confirmed"].document["$events"][0]["$properties"]
    assert (purchase["product_id"], purchase["currency"], purchase["price"], purchase["quantity"]) == (
        "product_name",
        "USD",
        12.12,
        6,
    )
    assert purchase["properties"]["string_property"] == "Russell"


def test_attribute_operations_apply_to_the_stored_profile_in_the_order_sent(setup, track, api, drain):
    user = {"external_id": "ops"}
    first = {"n": 1, "f": 2.5, "tags": ["a", "b"], "o": {"x": 1, "y": 2}, "gone": "soon", "keep": True}
    assert track({"attributes": [{**user, **first}]}, key=setup.key).status_code == 201
    drain()
    second = [
        {**user, "n": {"inc": 4}, "f": {"inc": -0.5}, "new_counter": {"inc": 2}},
        {**user, "tags": {"add": ["c", "a"], "remove": ["b"]}, "gone": None, "o": {"x": 9}},
        # Within one request, later objects see earlier ones: this increment applies after the one above.
        {**user, "n": {"inc": 10}},
    ]
    response = track({"attributes": second}, key=setup.key)
    assert response.json() == {"message": "success", "attributes_processed": 3}
    drain()
    assert profile_properties(api, setup, "user_account_id=ops", "ops") == {
        "n": 15,
        "f": 2.0,
        "new_counter": 2,
        "tags": ["a", "c"],
        "o": {"x": 9},
        "keep": True,
    }
    merged = {**user, "_merge_objects": True, "o": {"y": 3, "z": {"deep": 1}}}
    assert track({"attributes": [merged]}, key=setup.key).status_code == 201
    drain()
    properties = profile_properties(api, setup, "user_account_id=ops", "ops")
    assert properties is not None
    assert properties["o"] == {"x": 9, "y": 3, "z": {"deep": 1}}
    assert "_merge_objects" not in properties
    assert "external_id" not in properties


def test_update_existing_only_is_the_default_for_an_alias_and_is_reported(setup, track, api, drain):
    alias = {"user_alias": {"alias_name": "n1", "alias_label": "crm"}}
    response = track({"attributes": [{**alias, "plan": "free"}]}, key=setup.key)
    assert response.status_code == 201
    assert response.json() == {
        "message": "success",
        "attributes_processed": 0,
        "errors": [
            {
                "type": "user does not exist and '_update_existing_only' is true",
                "input_array": "attributes",
                "index": 0,
            }
        ],
    }
    assert not InboxPayload.objects.filter(datamart=setup.datamart).exists()

    # An event creates the alias-only user (events do not default to updating existing users only) ...
    track({"events": [{**alias, "name": "signed_up", "time": NOW}]}, key=setup.key)
    drain()
    # ... after which the same attributes apply; and `_update_existing_only: false` creates unknown users.
    response = track(
        {
            "attributes": [
                {**alias, "plan": "free"},
                {"user_alias": {"alias_name": "n2", "alias_label": "crm"}, "_update_existing_only": False, "x": 1},
                {"external_id": "nobody-yet", "_update_existing_only": True, "x": 1},
            ]
        },
        key=setup.key,
    )
    body = response.json()
    assert body["attributes_processed"] == 2
    assert body["errors"] == [
        {"type": "user does not exist and '_update_existing_only' is true", "input_array": "attributes", "index": 2}
    ]
    drain()
    assert profile_properties(api, setup, "user_agent_id=alias:crm:n1", "") == {"plan": "free"}
    identifiers_of(api, setup, "user_agent_id=alias:crm:n2")
    status, _ = api("get", f"/v1/datamarts/{setup.datamart.pk}/user_points/user_account_id=nobody-yet", key=setup.key)
    assert status == 404


def test_invalid_objects_are_skipped_and_listed_while_the_rest_is_processed(setup, track, api, drain):
    body = {
        "attributes": [{"plan": "no user"}, {"external_id": "good", "plan": "pro"}],
        "events": [
            {"external_id": "good", "name": "ok", "time": NOW},
            {"external_id": "good", "name": "bad time", "time": "20-11-23T22:28:55.111Z"},
            {"external_id": "good", "time": NOW},
        ],
        "purchases": [
            {"external_id": "good", "product_id": "p", "currency": "EURO", "price": 1, "time": NOW},
            {"email": "buyer@example.com", "product_id": "p", "currency": "eur", "price": 9.5, "time": NOW},
        ],
    }
    response = track(body, key=setup.key)
    assert response.status_code == 201
    result = response.json()
    assert (result["attributes_processed"], result["events_processed"], result["purchases_processed"]) == (1, 1, 1)
    assert [(e["input_array"], e["index"]) for e in result["errors"]] == [
        ("attributes", 0),
        ("events", 1),
        ("events", 2),
        ("purchases", 0),
    ]
    assert "time" in result["errors"][1]["type"]
    assert "name" in result["errors"][2]["type"]
    assert "currency" in result["errors"][3]["type"]
    assert drain() == 3
    assert Activity.objects.filter(datamart=setup.datamart).count() == 2
    identifiers = identifiers_of(api, setup, f"email_hash={email_hash('buyer@example.com')}")
    assert [i["email"] for i in identifiers if i["type"] == "USER_EMAIL"] == ["buyer@example.com"]


def test_76_objects_is_a_fatal_400_and_nothing_is_stored(setup, track):
    events = [{"external_id": f"u{i}", "name": "e", "time": NOW} for i in range(76)]
    response = track({"events": events}, key=setup.key)
    assert response.status_code == 400
    assert response.json() == {
        "message": "Max Input Length Exceeded",
        "errors": [{"type": "'events' holds 76 objects; at most 75 are allowed", "input_array": "events"}],
    }
    assert_rate_headers(response)
    assert not InboxPayload.objects.filter(datamart=setup.datamart).exists()
    assert track({"events": events[:75]}, key=setup.key).json()["events_processed"] == 75


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"events": [', "the body is not valid JSON"),
        (b"\xff\xfe", "the body is not valid JSON"),
        ("[1, 2]", "Invalid request body"),
        ('{"purchases": "p"}', "'purchases' must be an array"),
        ("{}", "Valid data must be provided"),
        ('{"events": ' + "[" * 100_000 + "]" * 100_000 + "}", "the body is not valid JSON: nested too deeply"),
        # JSON that Python reads but PostgreSQL cannot store: refused at once, not a 500 at commit.
        ('{"attributes": [{"external_id": "u", "x": NaN}]}', "the body is not valid JSON: NaN is not a JSON value"),
        (
            '{"attributes": [{"external_id": "u", "x": "a\\u0000b"}]}',
            "the body is not valid JSON: a string holds a NUL",
        ),
        (
            '{"attributes": [{"external_id": "u", "\\ud800": 1}]}',
            "the body is not valid JSON: a string holds an unpaired",
        ),
    ],
    ids=["truncated", "not-utf8", "array", "wrong-type", "empty", "deep", "nan", "nul", "surrogate"],
)
def test_fatal_bodies(setup, track, body, message):
    response = track(body, key=setup.key)
    assert response.status_code == 400
    assert response.json()["message"].startswith(message)
    assert response.json()["errors"]
    assert_rate_headers(response)


def test_gzip_body_and_wrong_content_type_and_method(setup, track, client):
    raw = gzip.compress(json.dumps({"events": [{"external_id": "z", "name": "e", "time": NOW}]}).encode())
    response = track(raw, key=setup.key, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 201
    assert response.json()["events_processed"] == 1
    response = track("a=1", key=setup.key, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert "JSON" in response.json()["message"]
    response = client.get("/users/track", HTTP_AUTHORIZATION=f"Bearer {setup.key}")
    assert response.status_code == 405
    assert_rate_headers(response)


def test_keys(setup, track, db):
    body = {"events": [{"external_id": "k", "name": "e", "time": NOW}]}
    for response in (track(body), track(body, key="not-a-key"), track(SEED, key="")):
        assert response.status_code == 401
        assert response.json() == {"message": "Invalid API key"}
        assert_rate_headers(response)
    # The key in the body (Braze's legacy form), and the other header forms of spec 0.
    assert track({**body, "api_key": setup.key}).status_code == 201
    assert track(body, key=setup.key, bearer=False).status_code == 201
    assert track(body, HTTP_X_API_KEY=setup.key).status_code == 201
    read_only = api_key_create(datamart=setup.datamart, name="reader", scopes=["read"]).raw_key
    response = track(body, key=read_only)
    assert response.status_code == 403
    assert "ingest" in response.json()["message"]


def test_external_ids_live_in_the_keys_compartment(track, api, drain, db):
    setup = datamart_setup()
    crm = CompartmentFactory(datamart=setup.datamart)
    key = api_key_create(datamart=setup.datamart, name="crm", scopes=["ingest"], compartment=crm).raw_key
    assert track({"attributes": [{"external_id": "c1", "a": 1}]}, key=key).status_code == 201
    drain()
    selector = f"compartment_id={crm.pk},user_account_id=c1"
    identifiers = identifiers_of(api, setup, selector)
    assert [i["compartment_id"] for i in identifiers if i["type"] == "USER_ACCOUNT"] == [str(crm.pk)]
    status, _ = api("get", f"/v1/datamarts/{setup.datamart.pk}/user_points/user_account_id=c1", key=setup.key)
    assert status == 404  # not in the default compartment


def test_rate_limit_429_and_headers(setup, track, settings):
    settings.BRAZE_RATE_LIMIT_PER_MINUTE = 2
    bucket = bucket_of("key", _key_hash(setup.key))
    rate_limit_clear(scope="braze", bucket=bucket)
    body = {"events": [{"external_id": "r", "name": "e", "time": NOW}]}
    try:
        first, second, third = (track(body, key=setup.key) for _ in range(3))
        assert [r.status_code for r in (first, second, third)] == [201, 201, 429]
        assert [r["X-RateLimit-Remaining"] for r in (first, second, third)] == ["1", "0", "0"]
        for response in (first, second, third):
            assert_rate_headers(response, limit=2)
        assert first["X-RateLimit-Reset"] == third["X-RateLimit-Reset"]
        assert third.json() == {"message": "Rate limit exceeded; retry after X-RateLimit-Reset"}
        assert 1 <= int(third["Retry-After"]) <= 60
        assert InboxPayload.objects.filter(datamart=setup.datamart).count() == 2
        # Another key has its own count.
        other = api_key_create(datamart=setup.datamart, name="other", scopes=["ingest"]).raw_key
        assert track(body, key=other).status_code == 201
        rate_limit_clear(scope="braze", bucket=bucket_of("key", _key_hash(other)))
    finally:
        rate_limit_clear(scope="braze", bucket=bucket)


def _key_hash(raw: str) -> str:
    from apps.datamarts.services import api_key_hash

    return api_key_hash(raw)
