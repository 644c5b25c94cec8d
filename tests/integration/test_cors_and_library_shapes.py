"""Spec 5 through the real routes: CORS on every ingestion route (preflights, headers on answers and errors, a
datamart's allowed origins), none on the read/write API unless configured, and the request shapes client libraries
send by default (any Content-Type on the Segment routes, gzip and deflate everywhere, RudderStack's
originalTimestamp, the beacon and metrics routes, a large message inside a batch, JSON 404s)."""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from apps.activities.models import InboxPayload
from apps.datamarts.models import Datamart

pytestmark = pytest.mark.django_db

SITE = "https://www.example.com"
ASKED_HEADERS = "authorization, content-type, anonymousid, sentat, x-retry-count, rsa-retry-attempt"


def ingestion_routes(datamart_id: int) -> list[tuple[str, str]]:
    """(path, method) of every ingestion route."""
    return [
        (f"/v1/datamarts/{datamart_id}/user_activities", "POST"),
        *[(f"/v1/{call}", "POST") for call in ("identify", "track", "page", "screen", "group", "alias", "t")],
        ("/v1/batch", "POST"),
        ("/v1/import", "POST"),
        ("/v1/webhook", "POST"),
        ("/beacon/v1/batch", "POST"),
        ("/v1/m", "POST"),
        ("/v1/pixel/track", "GET"),
        ("/users/track", "POST"),
        ("/api/track", "POST"),
        ("/api/identify", "POST"),
        ("/api/group", "POST"),
    ]


def preflight(client: Client, path: str, method: str = "POST", origin: str = SITE) -> Any:
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": ASKED_HEADERS,
        },
    )


def test_every_ingestion_route_answers_its_preflight_without_a_key(setup, client):
    for path, method in ingestion_routes(setup.datamart.pk):
        response = preflight(client, path, method)
        assert response.status_code == 204, path
        assert response["Access-Control-Allow-Origin"] == SITE, path
        assert method in response["Access-Control-Allow-Methods"], path
        assert response["Access-Control-Allow-Headers"] == ASKED_HEADERS, path
        assert response["Access-Control-Max-Age"] == "86400"
        assert "Origin" in response["Vary"]
    assert InboxPayload.objects.count() == 0


def test_preflights_do_not_count_against_the_rate_limit(setup, client, settings):
    settings.BRAZE_RATE_LIMIT_PER_MINUTE = 2
    for _ in range(5):
        assert preflight(client, "/users/track").status_code == 204
    body = {"events": [{"external_id": "u1", "name": "e", "time": "2026-01-01T00:00:00Z"}]}
    answer = client.post(
        "/users/track",
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {setup.key}", "Origin": SITE},
    )
    assert answer.status_code == 201
    assert answer["X-RateLimit-Remaining"] == "1"
    assert answer["Access-Control-Allow-Origin"] == SITE
    exposed = {name.strip() for name in answer["Access-Control-Expose-Headers"].split(",")}
    assert {"X-RateLimit-Remaining", "Retry-After"} <= exposed  # a backpressure 429's wait, read by a browser library


def post(client: Client, path: str, body: Any, *, key: str | None, origin: str | None = SITE, **headers: str):
    if key is not None:
        headers.setdefault("Authorization", f"Bearer {key}")
    if origin is not None:
        headers["Origin"] = origin
    return client.post(path, json.dumps(body), content_type="application/json", headers=headers)


def valid_bodies(datamart_id: int) -> dict[str, Any]:
    return {
        f"/v1/datamarts/{datamart_id}/user_activities": {"$ts": 1, "$type": "TOUCH", "$user_agent_id": "vec:1"},
        "/v1/track": {"userId": "u1", "event": "Clicked"},
        "/v1/batch": {"batch": [{"type": "track", "userId": "u1", "event": "Clicked"}]},
        "/users/track": {"events": [{"external_id": "u1", "name": "e", "time": "2026-01-01T00:00:00Z"}]},
        "/api/track": {"event_name": "e", "user_id": "u1"},
    }


def test_answers_and_errors_carry_the_origin(setup, client):
    for path, body in valid_bodies(setup.datamart.pk).items():
        accepted = post(client, path, body, key=setup.key)
        assert accepted.status_code in (200, 201), (path, accepted.content)
        assert accepted["Access-Control-Allow-Origin"] == SITE
        assert "Origin" in accepted["Vary"]
        refused = post(client, path, body, key="tck_not_a_key")
        assert refused.status_code in (400, 401), path
        assert refused["Access-Control-Allow-Origin"] == SITE
        # A server sends no Origin: no CORS header is needed, none is sent.
        assert "Access-Control-Allow-Origin" not in post(client, path, body, key=setup.key, origin=None)


def test_a_datamart_s_allowed_origins_refuse_the_others_in_each_dialect_s_format(setup, client):
    call_command(
        "configure_datamart", "--datamart", str(setup.datamart.pk), "--allowed-origin", "HTTPS://www.Example.com:443"
    )
    setup.datamart.refresh_from_db()
    assert setup.datamart.allowed_origins == [SITE]
    before = InboxPayload.objects.count()
    formats = {
        f"/v1/datamarts/{setup.datamart.pk}/user_activities": lambda b: b["error_code"] == "FORBIDDEN",
        "/v1/track": lambda b: b["Error"] == "Forbidden" and "not allowed" in b["message"],
        "/v1/batch": lambda b: b["Success"] is False and "not allowed" in b["message"],
        "/users/track": lambda b: "not allowed" in b["message"],
        "/api/track": lambda b: b["success"] is False and "not allowed" in b["message"],
    }
    for path, body in valid_bodies(setup.datamart.pk).items():
        refused = post(client, path, body, key=setup.key, origin="https://evil.example")
        assert refused.status_code == 403, path
        assert formats[path](refused.json()), (path, refused.json())
        assert refused["Access-Control-Allow-Origin"] == "https://evil.example"  # so the page can read why
    assert InboxPayload.objects.count() == before
    for path, body in valid_bodies(setup.datamart.pk).items():
        assert post(client, path, body, key=setup.key).status_code in (200, 201), path
        assert post(client, path, body, key=setup.key, origin=None).status_code in (200, 201), path
    read = client.get(f"/v1/datamarts/{setup.datamart.pk}", headers={"Authorization": setup.key})
    assert read.json()["data"]["allowed_origins"] == [SITE]
    call_command("configure_datamart", "--datamart", str(setup.datamart.pk), "--any-origin")
    assert (
        post(
            client, "/v1/track", {"userId": "u", "event": "e"}, key=setup.key, origin="https://evil.example"
        ).status_code
        == 200
    )


def test_the_commands_and_the_console_set_allowed_origins(db, client):
    call_command(
        "create_datamart",
        "--name",
        "Shop",
        "--allowed-origin",
        "https://shop.example",
        "--allowed-origin",
        "http://localhost:3000",
    )
    shop = Datamart.objects.get(name="Shop")
    assert shop.allowed_origins == ["https://shop.example", "http://localhost:3000"]
    for bad in ("https://shop.example/path", "shop.example", "ftp://x"):
        with pytest.raises(CommandError, match="not an origin"):
            call_command("configure_datamart", "--datamart", str(shop.pk), "--allowed-origin", bad)
    from django.contrib.auth.models import User

    root = User.objects.create_superuser("root", "root@example.com", "pw-123456789")
    client.force_login(root)
    url = f"/admin/datamarts/datamart/{shop.pk}/change/"
    refused = client.post(url, {"name": "Shop", "personal_properties": "email", "allowed_origins": "not an origin"})
    assert refused.status_code == 200
    assert "is not an origin" in refused.content.decode()
    saved = client.post(
        url, {"name": "Shop", "personal_properties": "email", "allowed_origins": "https://A.example\nhttps://b.example"}
    )
    assert saved.status_code == 302
    shop.refresh_from_db()
    assert shop.allowed_origins == ["https://a.example", "https://b.example"]


def test_the_read_write_api_sends_no_cors_headers_unless_configured(setup, client, settings):
    path = f"/v1/datamarts/{setup.datamart.pk}/user_points/user_agent_id=vec:1"
    headers = {"Authorization": setup.key, "Origin": SITE}
    assert "Access-Control-Allow-Origin" not in client.get(path, headers=headers)
    assert "Access-Control-Allow-Origin" not in preflight(client, path, "GET")
    settings.CORS_ALLOWED_ORIGINS = [SITE]
    assert client.get(path, headers=headers)["Access-Control-Allow-Origin"] == SITE
    assert preflight(client, path, "GET")["Access-Control-Allow-Origin"] == SITE
    assert "Access-Control-Allow-Origin" not in preflight(client, path, "GET", origin="https://evil.example")


def stored(setup) -> list[dict[str, Any]]:
    return [p.payload for p in InboxPayload.objects.filter(datamart=setup.datamart).order_by("id")]


def test_rudder_sdk_node_s_default_gzip_upload_is_accepted(setup, client):
    # What @rudderstack/rudder-sdk-node sends by default: a gzip batch labelled as a form, Basic auth.
    body = {
        "batch": [
            {
                "type": "track",
                "event": "Order Completed",
                "userId": "u1",
                "messageId": "m-1",
                "originalTimestamp": "2026-12-01T10:00:00.000Z",
                "sentAt": "2026-12-01T10:00:05.000Z",
            }
        ],
        "sentAt": "2026-12-01T10:00:05.000Z",
    }
    response = client.post(
        "/v1/batch",
        gzip.compress(json.dumps(body).encode()),
        content_type="application/x-www-form-urlencoded",
        headers={
            "Content-Encoding": "gzip",
            "Authorization": "Basic " + base64.b64encode(f"{setup.key}:".encode()).decode(),
        },
    )
    assert response.status_code == 200, response.content
    [payload] = stored(setup)
    document = payload["activity"]["document"]
    # The event's own time, corrected by the 5 s the library held it: not the arrival time.
    assert document["originalTimestamp"] == "2026-12-01T10:00:00.000Z"
    received_ms = payload["activity"]["ts"]
    from datetime import datetime

    received = datetime.fromisoformat(document["receivedAt"].replace("Z", "+00:00"))
    assert int(received.timestamp() * 1000) - received_ms == 5000


def test_deflate_and_gzip_on_every_dialect(setup, client):
    for path, body in valid_bodies(setup.datamart.pk).items():
        for encoding, compress in (("gzip", gzip.compress), ("deflate", zlib.compress)):
            response = client.post(
                path,
                compress(json.dumps(body).encode()),
                content_type="application/json",
                headers={"Content-Encoding": encoding, "Authorization": f"Bearer {setup.key}"},
            )
            assert response.status_code in (200, 201), (path, encoding, response.content)


def test_beacon_metrics_and_unknown_routes(setup, client):
    beacon = {
        "batch": [
            {"type": "page", "anonymousId": "a1", "messageId": "b-1", "originalTimestamp": "2026-12-01T10:00:00Z"}
        ]
    }
    response = client.post(
        f"/beacon/v1/batch?writeKey={setup.key}", json.dumps(beacon), content_type="text/plain;charset=UTF-8"
    )
    assert response.status_code == 200, response.content
    assert stored(setup)[-1]["activity"]["document"]["messageId"] == "b-1"
    count = InboxPayload.objects.count()
    metrics = client.post(
        "/v1/m",
        json.dumps({"series": [{"type": "Counter", "metric": "analytics_js.invoke"}]}),
        content_type="text/plain",
    )
    assert (metrics.status_code, metrics.json()) == (200, {"success": True})
    assert InboxPayload.objects.count() == count
    for path in ("/v1/nope", "/v1/datamarts/1/nope", "/users/nope", "/api/nope", "/beacon/v2/batch"):
        missing = client.post(path, "{}", content_type="application/json")
        assert missing.status_code == 404, path
        assert missing["Content-Type"].startswith("application/json"), path
    assert client.post("/v1/nope", "{}", content_type="application/json").json()["code"] == "not_found"
