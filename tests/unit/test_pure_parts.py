"""Selector parsing, identifier normalisation, key extraction and bounded body reading, without a database."""

from __future__ import annotations

import base64
import gzip
import uuid

import pytest
from django.test import RequestFactory

from apps.core.bodies import BodyTooLarge, BodyUnreadable, body_bytes, json_loads
from apps.datamarts.keys import key_from_body, key_from_headers
from apps.userpoints.identifiers import (
    account_identifier,
    agent_identifier,
    dedupe,
    email_hash,
    email_identifier,
    identifier_from_canonical,
)
from apps.userpoints.selector_syntax import ACCOUNT, AGENT, EMAIL_HASH, POINT_ID, SelectorInvalid, selector_parse

POINT = str(uuid.uuid4())


@pytest.mark.parametrize(
    ("text", "kind", "value", "compartment"),
    [
        (POINT, POINT_ID, POINT, None),
        (f"user_point_id={POINT}", POINT_ID, POINT, None),
        ("user_agent_id=vec:123", AGENT, "vec:123", None),
        ("email_hash=abc", EMAIL_HASH, "abc", None),
        ("user_account_id=u1", ACCOUNT, "u1", None),
        ("compartment_id=7,user_account_id=u1", ACCOUNT, "u1", 7),
        ("compartment_id=7/user_account_id=u1", ACCOUNT, "u1", 7),
        ("user_account_id=john%40example.com", ACCOUNT, "john@example.com", None),
        ("user_agent_id=vec%3A9", AGENT, "vec:9", None),
    ],
)
def test_selector_forms(text, kind, value, compartment):
    selector = selector_parse(text)
    assert (selector.kind, selector.value, selector.compartment_id) == (kind, value, compartment)


@pytest.mark.parametrize(
    "text",
    [
        "not-a-uuid",
        "user_point_id=42",
        "cookie=1",
        "user_agent_id=",
        "compartment_id=x,user_account_id=u",
        "compartment_id=7",
    ],
)
def test_invalid_selectors(text):
    with pytest.raises(SelectorInvalid):
        selector_parse(text)


def test_identifier_identities():
    assert account_identifier(3, "u").identity == ("USER_ACCOUNT", "3:u")
    assert agent_identifier("vec:1").identity == ("USER_AGENT", "vec:1")
    assert email_identifier(email=" A@B.c ").identity == ("USER_EMAIL", email_hash("a@b.c"))
    assert email_identifier(hash_value="h", email="a@b.c").key == "h"
    with pytest.raises(ValueError, match="hash or an address"):
        email_identifier()


def test_canonical_round_trip_and_dedupe():
    items = [
        account_identifier(3, "u"),
        email_identifier(email="a@b.c"),
        agent_identifier("x"),
        account_identifier(3, "u"),
    ]
    assert [identifier_from_canonical(i.to_canonical()) for i in items] == items
    assert dedupe(items) == items[:3]


@pytest.mark.parametrize(
    ("headers", "key"),
    [
        ({"Authorization": "k1"}, "k1"),
        ({"Authorization": "Bearer k2"}, "k2"),
        ({"Authorization": "Basic " + base64.b64encode(b"k3:").decode()}, "k3"),
        ({"x-api-key": "k4"}, "k4"),
        ({"Authorization": "Basic !!!"}, None),
        ({}, None),
    ],
)
def test_key_forms(headers, key):
    assert key_from_headers(headers) == key


def test_write_key_in_body():
    assert key_from_body({"writeKey": "w"}) == "w"
    assert key_from_body({"writeKey": 5}) is None
    assert key_from_body([1]) is None


def post(body: bytes, **headers):
    return RequestFactory().post("/x", data=body, content_type="application/json", **headers)


def test_body_limits_plain_and_gzip():
    assert body_bytes(post(b"x" * 100), limit=100) == b"x" * 100
    with pytest.raises(BodyTooLarge):
        body_bytes(post(b"x" * 101), limit=100)
    assert body_bytes(post(gzip.compress(b'{"a":1}'), HTTP_CONTENT_ENCODING="gzip"), limit=100) == b'{"a":1}'


def test_gzip_bomb_is_refused_without_inflating_it():
    bomb = gzip.compress(b"0" * (50 * 1024 * 1024))  # 50 MiB of zeros in about 50 KiB
    assert len(bomb) < 100 * 1024
    with pytest.raises(BodyTooLarge):
        body_bytes(post(bomb, HTTP_CONTENT_ENCODING="gzip"), limit=512 * 1024)


def test_unreadable_bodies():
    with pytest.raises(BodyUnreadable):
        body_bytes(post(b"not gzip", HTTP_CONTENT_ENCODING="gzip"), limit=100)
    with pytest.raises(BodyUnreadable):
        body_bytes(post(b"x", HTTP_CONTENT_ENCODING="br"), limit=100)
    with pytest.raises(BodyUnreadable):
        json_loads(b"{not json")
