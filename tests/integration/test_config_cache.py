"""The per-process cache of API keys and compartments (apps/core/localcache.py): a change is seen at once by the
process that made it, and within CONFIG_CACHE_SECONDS (at most 5 s) by every other process, such as a running
server."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core.localcache import TtlCache
from apps.datamarts.models import ApiKey
from apps.datamarts.services import api_key_create, api_key_revoke, compartment_create, datamart_configure
from tests.dialects.segment.helpers import basic
from tests.e2e.conftest import gunicorn_server
from tests.factories import datamart_setup, site_visit

ROOT = Path(__file__).resolve().parents[2]
REVOCATION_BOUND_SECONDS = 5.0


def url(setup) -> str:
    return f"/v1/datamarts/{setup.datamart.pk}/user_activities"


def post_batch(client, key: str):
    body = json.dumps({"batch": [{"type": "track", "event": "Viewed", "anonymousId": "a1"}]})
    return client.post("/v1/batch", body, content_type="application/json", HTTP_AUTHORIZATION=basic(key))


@pytest.mark.django_db
def test_a_key_in_use_revoked_by_this_process_is_refused_at_once(setup, api, client):
    created = api_key_create(datamart=setup.datamart, name="soon revoked", scopes=["ingest"])
    assert api("post", url(setup), site_visit(), key=created.raw_key)[0] == 200  # now cached
    segment = post_batch(client, created.raw_key)
    assert segment.status_code == 200
    api_key_revoke(api_key=ApiKey.objects.get(pk=created.api_key.pk))
    assert api("post", url(setup), site_visit(), key=created.raw_key)[0] == 401
    segment = post_batch(client, created.raw_key)
    assert segment.status_code == 400
    assert segment.json()["message"] == "Invalid or missing writekey"


@pytest.mark.django_db
def test_origins_and_compartments_changed_by_this_process_apply_at_once(setup, api):
    assert api("post", url(setup), site_visit(), key=setup.key, HTTP_ORIGIN="https://shop.example")[0] == 200
    datamart_configure(datamart=setup.datamart, allowed_origins=["https://other.example"])
    status, body = api("post", url(setup), site_visit(), key=setup.key, HTTP_ORIGIN="https://shop.example")
    assert status == 403, body

    compartment = compartment_create(datamart=setup.datamart, name="second")
    account = {"$type": "USER_ACCOUNT", "$compartment_id": str(compartment.pk), "$user_account_id": "u1"}
    status, body = api("post", url(setup), site_visit(**{"$user_identifiers": [account]}), key=setup.key)
    assert status == 200, body


@pytest.mark.django_db
def test_a_known_key_reads_no_configuration_table(setup, api):
    assert api("post", url(setup), site_visit(), key=setup.key)[0] == 200
    # On PostgreSQL the INSERT goes through psycopg directly (apps/core/db.py) and Django counts no query at all; on
    # SQLite it counts the inbox's writes. Either way neither the key, its datamart nor the compartments are read.
    with CaptureQueriesContext(connection) as queries:
        assert api("post", url(setup), site_visit(), key=setup.key)[0] == 200
    configuration = ("datamarts_", "compartment")
    assert not [q["sql"] for q in queries if any(table in q["sql"] for table in configuration)]


def test_a_value_read_before_a_clear_is_not_kept(settings):
    settings.CONFIG_CACHE_SECONDS = 3.0
    cache: TtlCache[str, str] = TtlCache()

    def load_while_someone_clears() -> str:
        cache.clear()  # the row changed while it was being read
        return "old"

    assert cache.get("k", load_while_someone_clears) == "old"
    assert cache.get("k", lambda: "new") == "new"
    assert cache.get("k", lambda: "newer") == "new"  # kept from now on


def test_values_expire_after_the_setting_and_none_is_never_kept(settings):
    settings.CONFIG_CACHE_SECONDS = 0.2
    cache: TtlCache[str, str] = TtlCache()
    assert cache.get("k", lambda: None) is None
    assert cache.get("k", lambda: "found") == "found"  # an unknown key that now exists is found at once
    assert cache.get("k", lambda: "changed") == "found"
    time.sleep(0.25)
    assert cache.get("k", lambda: "changed") == "changed"


@pytest.fixture
def server(transactional_db, tmp_path, _a_queue_of_the_tests_own):
    """A running web server: another process than the test's (the settings hold CONFIG_CACHE_SECONDS to 5 s)."""
    with gunicorn_server(tmp_path, _a_queue_of_the_tests_own) as base:
        yield base


def test_a_key_revoked_elsewhere_is_refused_by_a_running_server_within_the_bound(server):
    setup = datamart_setup()
    endpoint = f"{server}{url(setup)}"
    headers = {"Authorization": setup.key}
    for _ in range(3):  # the server now holds the key in its cache
        assert requests.post(endpoint, json=site_visit(), headers=headers, timeout=10).status_code == 200

    api_key_revoke(api_key=ApiKey.objects.get(datamart=setup.datamart))  # in this process, not the server's
    revoked = time.monotonic()
    statuses = []
    while time.monotonic() - revoked < REVOCATION_BOUND_SECONDS + 2:
        statuses.append(requests.post(endpoint, json=site_visit(), headers=headers, timeout=10).status_code)
        if statuses[-1] == 401:
            break
        time.sleep(0.1)
    refused_after = time.monotonic() - revoked
    assert statuses[-1] == 401, statuses
    assert set(statuses[:-1]) <= {200}, statuses
    assert refused_after <= REVOCATION_BOUND_SECONDS, f"refused only {refused_after:.1f} s after the revocation"
    assert settings.CONFIG_CACHE_SECONDS <= REVOCATION_BOUND_SECONDS
