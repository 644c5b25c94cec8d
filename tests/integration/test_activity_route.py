"""POST /v1/datamarts/{d}/user_activities: authentication, validation and durability (spec 0, 1.1, 1.3)."""

from __future__ import annotations

import gzip
import json
import uuid

import pytest

from apps.activities.models import InboxPayload, InboxStatus
from apps.datamarts.services import api_key_create, api_key_revoke
from tests.factories import datamart_setup, site_visit

pytestmark = pytest.mark.django_db


def url(setup) -> str:
    return f"/v1/datamarts/{setup.datamart.pk}/user_activities"


def assert_error(body, code: str):
    assert body["status"] == "error"
    assert body["error_code"] == code
    assert body["error"]
    uuid.UUID(body["error_id"])


def test_accepted_activity_is_committed_to_the_inbox_before_the_answer(setup, api):
    status, body = api("post", url(setup), site_visit(), key=setup.key)
    assert status == 200
    assert body["status"] == "ok"
    row = InboxPayload.objects.get(id=body["data"]["activity_id"])
    assert row.status == InboxStatus.PENDING
    assert row.datamart_id == setup.datamart.pk
    assert row.payload["activity"]["document"] == site_visit()


def test_every_key_form_is_accepted(setup, client):
    import base64

    for headers in (
        {"HTTP_AUTHORIZATION": setup.key},
        {"HTTP_AUTHORIZATION": f"Bearer {setup.key}"},
        {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{setup.key}:".encode()).decode()},
        {"HTTP_X_API_KEY": setup.key},
    ):
        response = client.post(url(setup), json.dumps(site_visit()), content_type="application/json", **headers)
        assert response.status_code == 200, headers


def test_no_key_unknown_key_and_revoked_key_are_401(setup, api):
    status, body = api("post", url(setup), site_visit())
    assert status == 401
    assert_error(body, "UNAUTHORIZED")
    status, body = api("post", url(setup), site_visit(), key="tck_unknown")
    assert status == 401
    created = api_key_create(datamart=setup.datamart, name="old", scopes=["ingest"])
    api_key_revoke(api_key=created.api_key)
    status, body = api("post", url(setup), site_visit(), key=created.raw_key)
    assert status == 401


def test_another_datamarts_key_and_a_key_without_ingest_are_403(setup, api):
    other = datamart_setup()
    status, body = api("post", url(setup), site_visit(), key=other.key)
    assert status == 403
    assert_error(body, "FORBIDDEN")
    read_only = api_key_create(datamart=setup.datamart, name="ro", scopes=["read"])
    status, body = api("post", url(setup), site_visit(), key=read_only.raw_key)
    assert status == 403
    assert InboxPayload.objects.count() == 0


@pytest.mark.parametrize(
    ("raw", "code", "field"),
    [
        ("{not json", "MALFORMED_JSON", None),
        ("", "MALFORMED_JSON", None),
        (json.dumps([site_visit()]), "VALIDATION_ERROR", "body"),
        (json.dumps(site_visit(**{"$ts": "yesterday"})), "VALIDATION_ERROR", "$ts"),
        (json.dumps({"$ts": 1, "$type": "SITE_VISIT"}), "VALIDATION_ERROR", "$user_identifiers"),
        (json.dumps(site_visit(**{"$events": "x"})), "VALIDATION_ERROR", "$events"),
    ],
)
def test_bad_bodies_are_400_with_details(setup, api, raw, code, field):
    status, body = api("post", url(setup), raw, key=setup.key)
    assert status == 400
    assert_error(body, code)
    if field:
        assert field in [d["field"] for d in body["details"]]
    assert InboxPayload.objects.count() == 0


def test_unknown_compartment_is_400(setup, api):
    status, body = api(
        "post",
        url(setup),
        {"$ts": 1, "$type": "TOUCH", "$compartment_id": "999999", "$user_account_id": "u"},
        key=setup.key,
    )
    assert status == 400
    assert body["details"][0]["field"] == "$compartment_id"


def test_oversize_body_is_413_and_gzip_is_measured_decompressed(setup, api, client):
    big = site_visit(padding="x" * (512 * 1024))
    status, body = api("post", url(setup), big, key=setup.key)
    assert status == 413
    assert_error(body, "PAYLOAD_TOO_LARGE")
    compressed = gzip.compress(json.dumps(big).encode())
    assert len(compressed) < 10_000
    response = client.post(
        url(setup),
        compressed,
        content_type="application/json",
        HTTP_CONTENT_ENCODING="gzip",
        HTTP_AUTHORIZATION=setup.key,
    )
    assert response.status_code == 413


def test_gzip_body_is_accepted(setup, client):
    response = client.post(
        url(setup),
        gzip.compress(json.dumps(site_visit()).encode()),
        content_type="application/json",
        HTTP_CONTENT_ENCODING="gzip",
        HTTP_AUTHORIZATION=setup.key,
    )
    assert response.status_code == 200
    assert InboxPayload.objects.count() == 1


def test_unique_key_makes_the_call_idempotent(setup, api):
    first = api("post", url(setup), site_visit(**{"$unique_key": "order-1"}), key=setup.key)
    second = api("post", url(setup), site_visit(**{"$unique_key": "order-1"}), key=setup.key)
    assert first[0] == second[0] == 200
    assert first[1]["data"]["activity_id"] == second[1]["data"]["activity_id"]
    assert InboxPayload.objects.count() == 1
    # The key is per datamart: another datamart may use the same one.
    other = datamart_setup()
    status, _ = api("post", url(other), site_visit(**{"$unique_key": "order-1"}), key=other.key)
    assert status == 200
    assert InboxPayload.objects.count() == 2


def test_wrong_media_type_is_415(setup, client):
    response = client.post(
        url(setup), "a=1", content_type="application/x-www-form-urlencoded", HTTP_AUTHORIZATION=setup.key
    )
    assert response.status_code == 415
    assert response.json()["error_code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_unknown_routes_and_wrong_methods_use_the_error_format(setup, api):
    status, body = api("get", f"/v1/datamarts/{setup.datamart.pk}/no_such_thing", key=setup.key)
    assert status == 404
    assert_error(body, "RESOURCE_NOT_FOUND")
    assert body["error"] == "Resource Not Found"
    status, body = api("get", url(setup), key=setup.key)
    assert status == 405
    assert_error(body, "METHOD_NOT_ALLOWED")
    status, body = api("delete", f"/v1/datamarts/{setup.datamart.pk}/compartments", key=setup.key)
    assert status == 405
    assert_error(body, "METHOD_NOT_ALLOWED")


def test_unexpected_exception_is_500_with_error_id_and_no_traceback(setup, client, monkeypatch):
    # A bug is injected into the inbox write (there is no real way to crash it): the answer must not leak it.
    from apps.activities import views

    def broken(**kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(views, "inbox_accept", broken)
    client.raise_request_exception = False
    response = client.post(
        url(setup), json.dumps(site_visit()), content_type="application/json", HTTP_AUTHORIZATION=setup.key
    )
    assert response.status_code == 500
    body = response.json()
    assert_error(body, "INTERNAL_ERROR")
    assert "secret internal detail" not in response.content.decode()
    assert "Traceback" not in response.content.decode()


def test_healthz_reports_database_and_broker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_a_body_over_djangos_own_limit_on_a_put_is_413(setup, client):
    response = client.put(
        f"/v1/datamarts/{setup.datamart.pk}/user_points/user_account_id=u/user_profiles/"
        f"compartment_id={setup.default_compartment.pk}/user_account_id=u",
        json.dumps({"blob": "x" * (9 * 1024 * 1024)}),
        content_type="application/json",
        HTTP_AUTHORIZATION=setup.key,
    )
    assert response.status_code == 413
    assert response.json()["error_code"] == "PAYLOAD_TOO_LARGE"


@pytest.mark.parametrize(
    "raw",
    [
        '{"$ts": 1, "$type": "SITE_VISIT", "$user_agent_id": "a", "x": NaN}',
        '{"$ts": 1, "$type": "SITE_VISIT", "$user_agent_id": "a\\u0000b"}',
        '{"$ts": 1, "$type": "SITE_VISIT", "$user_agent_id": "a", "x": "\\ud800"}',
        '{"$ts": 1, "$type": "SITE_VISIT", "$user_agent_id": "a", "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
    ],
    ids=["nan", "nul", "lone-surrogate", "deep-nesting"],
)
def test_json_the_database_cannot_store_is_400_not_500(setup, api, raw):
    status, body = api("post", url(setup), raw, key=setup.key)
    assert status == 400
    assert_error(body, "MALFORMED_JSON")
    assert InboxPayload.objects.count() == 0
