"""The Segment-style routes over HTTP (Django test client), down to the UserPoint API (spec 2)."""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from apps.activities.models import InboxKey, InboxPayload, InboxStatus, ProcessingError
from apps.datamarts.services import api_key_create
from apps.dialects.segment.views import PIXEL_GIF
from tests.dialects.segment import helpers
from tests.dialects.segment.helpers import basic
from tests.factories import datamart_setup

CALLS = ["identify", "track", "page", "screen", "group", "alias"]


@pytest.fixture
def send(client: Client):
    """send(path, body, key=..., encoding=None, content_type=...) -> (status, parsed JSON)."""

    def call(
        path: str,
        body: Any,
        *,
        key: str | None = None,
        auth: str | None = None,
        encoding: str | None = None,
        content_type: str = "application/json",
        method: str = "post",
        **headers: str,
    ) -> tuple[int, Any]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        if encoding == "gzip":
            data = gzip.compress(data)
            headers["Content-Encoding"] = "gzip"
        if auth is not None:
            headers["Authorization"] = auth
        elif key is not None:
            headers["Authorization"] = basic(key)
        response = getattr(client, method)(path, data=data, content_type=content_type, headers=headers)
        parsed = json.loads(response.content) if response["Content-Type"].startswith("application/json") else None
        return response.status_code, parsed

    return call


@pytest.fixture
def get(client: Client, setup):
    def call(path: str) -> tuple[int, Any]:
        response = client.get(f"/v1/datamarts/{setup.datamart.pk}/{path}", headers={"Authorization": setup.key})
        return response.status_code, json.loads(response.content)

    return call


def message(call: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"userId": "u1"}
    extras: dict[str, dict[str, Any]] = {
        "track": {"event": "Added File", "properties": {"size": 42}},
        "identify": {"traits": {"name": "Arthur", "email": "arthur@example.com"}},
        "group": {"groupId": "g1", "traits": {"name": "Hitchhikers"}},
        "alias": {"previousId": "old-anon"},
        "page": {"name": "Home", "properties": {"path": "/"}},
        "screen": {"name": "Login"},
    }
    return {**base, **extras[call], **fields}


def pending(setup) -> int:
    return InboxPayload.objects.filter(datamart=setup.datamart, status=InboxStatus.PENDING).count()


# --- 1. Routes ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("call", CALLS)
def test_every_call_long_and_short_form_is_accepted_and_processed(setup, send, get, drain, call):
    for path in (f"/v1/{call}", f"/v1/{call[0]}"):
        status, body = send(path, message(call, messageId=f"{path}-1"), key=setup.key)
        assert (status, body) == (200, {"success": True})
    assert pending(setup) == 2
    assert drain() == 2
    activities = helpers.activities(get, "user_account_id=u1")
    assert [a["type"] for a in activities] == [call, call]
    expected_type = {"page": "SITE_VISIT", "screen": "APP_VISIT"}.get(call, "TOUCH")
    assert {a["$type"] for a in activities} == {expected_type}


@pytest.mark.parametrize("path", ["/v1/batch", "/v1/b", "/v1/import"])
def test_batch_routes(setup, send, get, drain, path):
    batch = [message(c, type=c, messageId=f"m-{c}") for c in CALLS]
    status, body = send(path, {"batch": batch}, key=setup.key)
    assert (status, body) == (200, {"success": True})
    drain()
    activities = helpers.activities(get, "user_account_id=u1")
    assert sorted(a["type"] for a in activities) == sorted(CALLS)
    assert {"type": "USER_EMAIL"}.items() <= next(
        i for i in helpers.identifiers(get, "user_account_id=u1") if i["type"] == "USER_EMAIL"
    ).items()


def test_webhook_takes_a_typed_message_or_a_batch_with_write_key_in_the_query(setup, send, get, drain):
    status, body = send(f"/v1/webhook?writeKey={setup.key}", message("track", type="track", anonymousId="w"))
    assert (status, body) == (200, {"success": True})
    status, body = send(f"/v1/w?writeKey={setup.key}", {"batch": [message("page", type="page")]})
    assert (status, body) == (200, {"success": True})
    status, body = send(f"/v1/w?writeKey={setup.key}", message("track"))  # no type
    assert status == 400
    assert "type" in body["Details"]
    drain()
    assert {a["type"] for a in helpers.activities(get, "user_account_id=u1")} == {"track", "page"}


def test_text_plain_and_gzip_bodies(setup, send):
    assert send("/v1/t", message("track"), key=setup.key, content_type="text/plain")[0] == 200
    assert send("/v1/t", message("track"), key=setup.key, content_type="text/plain;charset=UTF-8")[0] == 200
    assert send("/v1/batch", {"batch": [message("track", type="track")]}, key=setup.key, encoding="gzip")[0] == 200
    deflated = zlib.compress(json.dumps(message("track")).encode())
    assert send("/v1/t", deflated, key=setup.key, **{"Content-Encoding": "deflate"})[0] == 200
    assert pending(setup) == 4


# --- 2. Authentication ----------------------------------------------------------------------------------------


def test_every_key_form_is_accepted(setup, send):
    forms = [
        {"auth": basic(setup.key)},
        {"auth": f"Bearer {setup.key}"},
        {"auth": setup.key},
        {"x-api-key": setup.key},
    ]
    for n, form in enumerate(forms):
        assert send("/v1/track", message("track", messageId=f"k{n}"), **form)[0] == 200, form
    assert send("/v1/track", message("track", messageId="body", writeKey=setup.key))[0] == 200
    assert send("/v1/batch", {"batch": [message("track", type="track")], "writeKey": setup.key})[0] == 200
    assert pending(setup) == 6
    stored = InboxPayload.objects.get(unique_key="segment:body").payload
    assert "writeKey" not in stored["activity"]["document"]


@pytest.mark.parametrize("path", ["/v1/track", "/v1/batch", "/v1/webhook"])
def test_missing_unknown_or_revoked_key_is_400_invalid_or_missing_writekey(setup, send, path):
    created = api_key_create(datamart=setup.datamart, name="revoked", scopes=["ingest"])
    created.api_key.revoked_at = timezone.now()
    created.api_key.save()
    body = {"batch": [message("track", type="track")]} if path == "/v1/batch" else message("track", type="track")
    for auth in (None, basic("nope"), basic(created.raw_key), "Basic !!!"):
        status, answer = send(path, body, auth=auth)
        assert status == 400, auth
        text = json.dumps(answer)
        assert "Invalid or missing writekey" in text
    assert pending(setup) == 0


def test_key_without_ingest_scope_is_403(setup, send):
    reader = api_key_create(datamart=setup.datamart, name="reader", scopes=["read"])
    status, body = send("/v1/track", message("track"), key=reader.raw_key)
    assert status == 403
    assert body["Error"] == "Forbidden"
    assert pending(setup) == 0


def test_key_in_query_only_on_webhook_and_pixel(setup, send):
    status, body = send(f"/v1/track?writeKey={setup.key}", message("track"))
    assert (status, body["Message"]) == (400, "Invalid or missing writekey")


def test_a_key_writes_into_its_own_datamart_and_compartment(setup, send, drain):
    other = datamart_setup()
    from tests.factories import CompartmentFactory

    compartment = CompartmentFactory(datamart=other.datamart)
    scoped = api_key_create(datamart=other.datamart, name="c", scopes=["ingest"], compartment=compartment)
    assert send("/v1/identify", message("identify"), key=scoped.raw_key)[0] == 200
    drain()
    row = InboxPayload.objects.get()
    assert row.datamart_id == other.datamart.pk
    assert row.payload["identifiers"][0]["compartment_id"] == compartment.pk
    assert row.payload["profile_updates"][0]["compartment_id"] == compartment.pk


# --- 3. Validation and limits ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "details"),
    [
        ("/v1/track", {"event": "e"}, "userId or anonymousId is required"),
        ("/v1/track", {"userId": None, "anonymousId": None, "event": "e"}, "userId or anonymousId is required"),
        ("/v1/track", {"userId": "u"}, "event: is required"),
        ("/v1/group", {"userId": "u"}, "groupId: is required"),
        ("/v1/alias", {"userId": "u"}, "previousId: is required"),
        ("/v1/alias", {"anonymousId": "a", "previousId": "p"}, "userId: is required"),
        ("/v1/identify", {"userId": "u", "timestamp": "not a date"}, "timestamp:"),
        ("/v1/identify", {"userId": "u", "traits": [1]}, "traits: must be an object"),
        ("/v1/identify", [1], "must be a JSON object"),
    ],
)
def test_invalid_single_message_is_400_naming_the_field(setup, send, path, body, details):
    status, answer = send(path, body, key=setup.key)
    assert status == 400
    assert answer["Error"] == "Bad Request"
    assert details in answer["Details"]
    assert answer["code"] == "bad_request"
    assert details in answer["message"]
    assert pending(setup) == 0


def test_malformed_bodies(setup, send, client):
    status, answer = send("/v1/track", b"{not json", key=setup.key)
    assert status == 400
    assert answer["Message"] == "Invalid JSON"
    status, answer = send("/v1/track", b"", key=setup.key)
    assert status == 400
    status, answer = send("/v1/track", b"\x1f\x8bnot gzip", key=setup.key, **{"Content-Encoding": "gzip"})
    assert (status, answer["Message"]) == (400, "Error reading request body")
    status, answer = send("/v1/track", b"x", key=setup.key, **{"Content-Encoding": "br"})
    assert status == 400
    # Whatever the Content-Type, only a body that is not JSON is refused (spec 5).
    status, answer = send("/v1/track", b"<track/>", key=setup.key, content_type="application/xml")
    assert (status, answer["Message"]) == (400, "Invalid JSON")
    status, answer = send("/v1/batch", {"batch": "nope"}, key=setup.key)
    assert status == 400
    assert answer["Success"] is False
    assert "batch:" in answer["Errors"][0]["Details"]
    response = client.get("/v1/track", headers={"Authorization": basic(setup.key)})
    assert (response.status_code, response.json()["Error"]) == (405, "Method Not Allowed")
    assert pending(setup) == 0


@pytest.mark.parametrize(
    ("raw", "details"),
    [
        (b'{"userId": "u", "event": "e", "properties": {"x": NaN}}', "NaN is not a JSON value"),
        (b'{"userId": "u", "event": "e", "properties": {"x": -Infinity}}', "Infinity is not a JSON value"),
        (b'{"userId": "u", "event": "e\\u0000"}', "NUL character"),
        (b'{"userId": "u", "event": "e", "properties": {"\\ud800": 1}}', "unpaired UTF-16 surrogate"),
        (b'{"userId": "u", "event": "e", "p": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nested too deeply"),
    ],
)
def test_json_the_database_cannot_store_is_400_not_500(setup, send, raw, details):
    status, answer = send("/v1/track", raw, key=setup.key)
    assert status == 400, answer
    assert details in answer["Details"]
    assert pending(setup) == 0


def test_nesting_just_under_the_parser_limit_is_never_a_500(setup, send):
    for depth in (900, 980, 995, 999):
        raw = b'{"userId": "u", "event": "e", "p": ' + b"[" * depth + b"]" * depth + b"}"
        status, _ = send("/v1/track", raw, key=setup.key)
        assert status in (200, 400), depth


def test_emoji_surrogate_pairs_are_stored_and_a_nul_spoils_only_its_message(setup, send):
    emoji = b'{"type": "track", "userId": "u", "event": "\\ud83d\\ude00", "messageId": "ok"}'
    nul = b'{"type": "track", "userId": "u", "event": "x\\u0000", "messageId": "nul"}'
    status, answer = send("/v1/batch", b'{"batch": [' + emoji + b", " + nul + b"]}", key=setup.key)
    assert status == 207
    assert answer["Errors"][0]["Details"] == "batch[1]: a string holds a NUL character (\\u0000)"
    (row,) = InboxPayload.objects.all()
    assert row.payload["activity"]["document"]["event"] == "\U0001f600"


def test_single_message_over_15_kb_is_413(setup, send):
    big = message("track", properties={"x": "y" * 15 * 1024})
    status, answer = send("/v1/track", big, key=setup.key)
    assert status == 413
    assert answer["Error"] == "Request Entity Too Large"
    # The limit applies after decompression: a small gzip body that inflates past it is refused too.
    status, _ = send("/v1/track", big, key=setup.key, encoding="gzip")
    assert status == 413
    assert pending(setup) == 0


def test_batch_limits_are_413(setup, send):
    small = message("track", type="track")
    status, answer = send("/v1/batch", {"batch": [small] * 2501}, key=setup.key)
    assert status == 413
    assert "2501 messages" in answer["Errors"][0]["Details"]
    status, answer = send("/v1/batch", {"batch": [small] * 2500}, key=setup.key)
    assert status == 200
    # One message over 15 KB is one entry of a 207; its neighbour is stored (spec 5).
    before = pending(setup)
    one_big = {"batch": [small, message("track", type="track", properties={"x": "y" * 16 * 1024})]}
    status, answer = send("/v1/batch", one_big, key=setup.key)
    assert status == 207
    assert [e["Details"] for e in answer["Errors"]] == [
        f"batch[1]: the message is {len(json.dumps(one_big['batch'][1], separators=(',', ':')))} bytes; "
        "the limit is 15360"
    ]
    assert pending(setup) == before + 1
    only_big = {"batch": [one_big["batch"][1]]}
    assert send("/v1/batch", only_big, key=setup.key)[0] == 400  # nothing valid in it
    many = {"batch": [message("track", type="track", properties={"x": "y" * 10_000})] * 60}  # ~600 KB
    assert send("/v1/batch", many, key=setup.key)[0] == 413
    assert send("/v1/batch", many, key=setup.key, encoding="gzip")[0] == 413


def test_gzip_bomb_is_413_without_inflating_it(setup, send):
    # 1 GiB of zeros compresses to ~1 MB; a few MB of it, sent, must be refused after reading at most the limit.
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 100_000
    status, answer = send("/v1/batch", bomb, key=setup.key, **{"Content-Encoding": "gzip"})
    assert status == 413
    assert answer["Success"] is False


def test_partly_valid_batch_is_207_with_valid_messages_stored_and_nothing_valid_is_400(setup, send):
    batch = [
        message("track", type="track", messageId="ok-1"),
        message("track", type="track", messageId="bad-1", event=None),
        message("identify", type="identify", messageId="ok-2"),
        {"type": "group", "userId": "u", "messageId": "bad-2"},
    ]
    status, answer = send("/v1/batch", {"batch": batch}, key=setup.key)
    assert status == 207
    assert answer["Success"] is False
    assert [e["Details"] for e in answer["Errors"]] == [
        "batch[1]: event: is required, a non-empty string",
        "batch[3]: groupId: is required",
    ]
    assert answer["Errors"][0]["Error"] == "Bad Request"
    assert set(InboxPayload.objects.values_list("unique_key", flat=True)) == {"segment:ok-1", "segment:ok-2"}
    status, answer = send("/v1/batch", {"batch": [batch[1], batch[3]]}, key=setup.key)
    assert status == 400
    assert len(answer["Errors"]) == 2
    assert InboxPayload.objects.count() == 2


# --- 4. Semantics ---------------------------------------------------------------------------------------------


def test_resending_a_batch_creates_no_duplicates(setup, send, get, drain):
    batch = {"batch": [message("track", type="track", messageId=f"dup-{n}") for n in range(5)]}
    batch["batch"].append(dict(batch["batch"][0]))  # the same messageId twice in one batch
    for _ in range(3):
        assert send("/v1/batch", batch, key=setup.key) == (200, {"success": True})
    assert InboxPayload.objects.filter(datamart=setup.datamart).count() == 5
    drain()
    # Resent after processing: still accepted, still not applied twice.
    assert send("/v1/batch", batch, key=setup.key) == (200, {"success": True})
    assert drain() == 0
    assert len(helpers.activities(get, "user_account_id=u1")) == 5


def test_message_ids_are_per_datamart(setup, send):
    other = datamart_setup()
    assert send("/v1/track", message("track", messageId="same"), key=setup.key)[0] == 200
    assert send("/v1/track", message("track", messageId="same"), key=other.key)[0] == 200
    assert InboxPayload.objects.filter(unique_key="segment:same").count() == 2


def test_missing_message_id_is_generated_each_time_and_needs_no_dedupe_key(setup, send, get, drain):
    """A message without `messageId` gets one drawn by the server, which no retry can repeat: it is stored without a
    dedupe key (no InboxKey row to write), so the same body sent twice is two messages, as a client that sends no
    id asks for; a batch mixing both kinds keeps dedupe for the messages that carry an id."""
    for _ in range(2):
        assert send("/v1/track", message("track"), key=setup.key)[0] == 200
    mixed = {"batch": [message("track", type="track"), message("track", type="track", messageId="sent-by-client")]}
    for _ in range(2):
        assert send("/v1/batch", mixed, key=setup.key) == (200, {"success": True})
    stored = InboxPayload.objects.filter(datamart=setup.datamart)
    assert sorted(stored.values_list("unique_key", flat=True), key=str) == [
        None,
        None,
        None,
        None,
        "segment:sent-by-client",
    ]
    assert list(InboxKey.objects.filter(datamart=setup.datamart).values_list("unique_key", flat=True)) == [
        "segment:sent-by-client"
    ]
    drain()
    message_ids = [a["messageId"] for a in helpers.activities(get, "user_account_id=u1")]
    assert len(message_ids) == 5
    assert len(set(message_ids)) == 5
    assert message_ids.count("sent-by-client") == 1


def test_batch_context_and_integrations_merged_and_timestamps_corrected(setup, send, get, drain):
    before = timezone.now()
    body = {
        "batch": [
            message(
                "track",
                type="track",
                timestamp="2020-03-02T18:29:27.333Z",
                context={"ip": "own"},
                messageId="ctx",
            )
        ],
        "context": {"ip": "batch", "page": {"path": "/cart"}},
        "integrations": {"All": False},
        "sentAt": "2020-03-02T18:29:53.661Z",
    }
    assert send("/v1/batch", body, key=setup.key)[0] == 200
    drain()
    (document,) = helpers.activities(get, "user_account_id=u1")
    assert document["context"] == {"ip": "own", "page": {"path": "/cart"}}
    assert document["integrations"] == {"All": False}
    assert document["originalTimestamp"] == "2020-03-02T18:29:27.333Z"
    assert document["sentAt"] == "2020-03-02T18:29:53.661Z"
    from apps.dialects.segment.translate import parse_timestamp

    received = parse_timestamp(document["receivedAt"], "receivedAt")
    corrected = parse_timestamp(document["timestamp"], "timestamp")
    assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= received <= timezone.now()
    # 26.328 s before the receipt: the delay the client measured between the event and sending it.
    assert round((received - corrected).total_seconds(), 3) == 26.328
    assert document["$ts"] == int(corrected.timestamp() * 1000)


def test_identify_profile_group_and_email_read_back(setup, send, get, drain):
    c = setup.default_compartment.pk
    send("/v1/identify", message("identify", context={"traits": {"plan": "pro"}}), key=setup.key)
    send("/v1/group", message("group"), key=setup.key)
    send("/v1/group", message("group", groupId="g2", traits={"size": 3}), key=setup.key)
    drain()
    assert helpers.identifier_summary(helpers.identifiers(get, "user_account_id=u1")) >= {
        ("USER_ACCOUNT", "u1"),
        ("USER_EMAIL", "arthur@example.com"),
    }
    (profile,) = [p for p in helpers.profiles(get, "user_account_id=u1")]
    assert str(profile["$compartment_id"]) == str(c)
    assert profile["$user_account_id"] == "u1"
    assert profile["name"] == "Arthur"
    assert profile["plan"] == "pro"
    assert profile["groups"] == {"g1": {"name": "Hitchhikers"}, "g2": {"size": 3}}


def test_alias_merges_previous_anonymous_point_into_the_user_point(setup, send, get, drain):
    send("/v1/page", {"anonymousId": "visitor-9", "name": "Home"}, key=setup.key)
    drain()
    anonymous = helpers.point(get, "user_agent_id=anon:visitor-9")
    assert anonymous is not None
    send("/v1/identify", {"userId": "arthur", "traits": {"x": 1}}, key=setup.key)
    drain()
    known = helpers.point(get, "user_account_id=arthur")
    assert known is not None
    assert known["user_point_id"] != anonymous["user_point_id"]
    assert send("/v1/alias", {"previousId": "visitor-9", "userId": "arthur"}, key=setup.key)[0] == 200
    drain()
    merged = helpers.point(get, "user_account_id=arthur")
    assert merged == helpers.point(get, "user_agent_id=anon:visitor-9")
    assert merged is not None
    assert merged["user_point_id"] == anonymous["user_point_id"]  # the older point survives
    assert {("USER_ACCOUNT", "arthur"), ("USER_AGENT", "anon:visitor-9")} <= helpers.identifier_summary(
        helpers.identifiers(get, "user_account_id=arthur")
    )
    types = [a["type"] for a in helpers.activities(get, "user_account_id=arthur")]
    assert sorted(types) == ["alias", "identify", "page"]


def test_alias_merges_two_user_ids(setup, send, get, drain):
    send("/v1/track", {"userId": "old", "event": "e"}, key=setup.key)
    send("/v1/track", {"userId": "new", "event": "e"}, key=setup.key)
    drain()
    send("/v1/alias", {"previousId": "old", "userId": "new"}, key=setup.key)
    drain()
    assert helpers.point(get, "user_account_id=old") == helpers.point(get, "user_account_id=new")


# --- The pixel ------------------------------------------------------------------------------------------------


def pixel(client: Client, call: str, data: Any, **query: str):
    encoded = base64.b64encode(json.dumps(data).encode()).decode() if not isinstance(data, str) else data
    return client.get(f"/v1/pixel/{call}", {"data": encoded, **query})


def test_pixel_accepts_every_call_and_answers_a_gif(setup, client, get, drain):
    for call in CALLS:
        response = pixel(client, call, {**message(call), "writeKey": setup.key})
        assert response.status_code == 200
        assert response["Content-Type"] == "image/gif"
        assert response.content == PIXEL_GIF
    # URL-safe base64 without padding, key in the query.
    data = base64.urlsafe_b64encode(json.dumps(message("track", properties={"q": "??>>"})).encode()).decode()
    assert pixel(client, "track", data.rstrip("="), writeKey=setup.key).content == PIXEL_GIF
    drain()
    types = sorted(a["type"] for a in helpers.activities(get, "user_account_id=u1"))
    assert types == sorted([*CALLS, "track"])


def test_pixel_errors_answer_a_gif_and_are_recorded(setup, client, caplog):
    refused = [
        pixel(client, "track", "!!!not base64", writeKey=setup.key),
        pixel(client, "track", base64.b64encode(b"not json").decode(), writeKey=setup.key),
        pixel(client, "track", {"userId": "u"}, writeKey=setup.key),  # no event
        pixel(client, "track", {"userId": "u", "event": "e", "x": "y" * 16 * 1024}, writeKey=setup.key),
        pixel(client, "track", {"userId": "u", "event": "e"}),  # no key: logged only
        client.get("/v1/pixel/track", {"writeKey": setup.key}),  # no data
    ]
    assert [r.status_code for r in refused] == [200] * 6
    assert all(r.content == PIXEL_GIF for r in refused)
    assert not InboxPayload.objects.filter(status=InboxStatus.PENDING).exists()
    errors = list(ProcessingError.objects.filter(datamart=setup.datamart).values_list("message", flat=True))
    assert len(errors) == 5
    assert any("event: is required" in e for e in errors)
    assert any("not base64" in e for e in errors)
    assert any("exceeds" in e for e in errors)
    assert InboxPayload.objects.filter(status=InboxStatus.FAILED).count() == 5
    assert sum("segment pixel track refused" in r.getMessage() for r in caplog.records) == 6
    assert not any(setup.key in r.getMessage() for r in caplog.records)


def test_openapi_schema_documents_the_routes(client):
    response = client.get("/v1/schema", {"format": "json"})
    assert response.status_code == 200
    schema = json.loads(response.content)
    for path in ("/v1/batch", "/v1/b", "/v1/import", "/v1/t", "/v1/identify", "/v1/pixel/track", "/v1/webhook"):
        assert path in schema["paths"], path
    assert "207" in schema["paths"]["/v1/batch"]["post"]["responses"]
    assert "SegmentBatch" in schema["components"]["schemas"]
