"""Consent signals through the real routes and the pipeline (spec 6): each rule, the bulk path's query count, and a
property test of signals mixed with API writes."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.activities.pipeline import inbox_drain_batch
from apps.choices.models import Choice, ChoiceChangeLogEntry
from apps.choices.services import ChoiceWrite, choice_apply, choices_apply_bulk
from apps.datamarts.services import processing_create
from apps.userpoints.models import UserPoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def processings(setup):
    d = setup.datamart
    return {
        "ads": processing_create(
            datamart=d, name="Ads", legal_basis="CONSENT", consent_categories=["Advertising", "C0004"], gpc_opt_out=True
        ),
        "analytics": processing_create(
            datamart=d, name="Analytics", legal_basis="CONSENT", consent_categories=["Analytics", "C0002"]
        ),
        "sharing": processing_create(
            datamart=d, name="Sharing", legal_basis="CONSENT", consent_categories=["Advertising"]
        ),
    }


def segment(client: Client, setup, path: str, body: Any, **headers: str):
    auth = "Basic " + base64.b64encode(f"{setup.key}:".encode()).decode()
    response = client.post(
        path, json.dumps(body), content_type="text/plain", headers={"Authorization": auth, **headers}
    )
    assert response.status_code == 200, response.content
    return response


def consented(user: str, n: int, preferences: dict[str, bool], ts: str = "2026-12-01T10:00:00Z") -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Viewed",
        "userId": user,
        "messageId": f"{user}-{n}-{ts}",
        "timestamp": ts,
        "context": {"consent": {"categoryPreferences": preferences}},
    }


def choices_of(api, setup, user: str) -> dict[str, Any]:
    status, body = api(
        "get", f"/v1/datamarts/{setup.datamart.pk}/user_points/user_account_id={user}/user_choices", key=setup.key
    )
    assert status == 200, body
    return {c["$processing_id"]: c for c in body["data"]}


def change_log(api, setup, user: str, processing) -> list[dict[str, Any]]:
    status, body = api(
        "get",
        f"/v1/datamarts/{setup.datamart.pk}/user_points/user_account_id={user}/user_choices/processing_id={processing.pk}/change_log",
        key=setup.key,
    )
    assert status == 200, body
    return body["data"]


def test_the_same_signal_repeated_a_thousand_times_adds_one_entry(setup, processings, client, api, drain):
    for start in (0, 500):
        batch = [consented("ann", n, {"Analytics": True}) for n in range(start, start + 500)]
        segment(client, setup, "/v1/batch", {"batch": batch})
    assert drain() == 1000
    analytics = processings["analytics"]
    [entry] = change_log(api, setup, "ann", analytics)
    assert (entry["$choice_acceptance_value"], entry["source"]) == (True, "SEGMENT")
    assert entry["custom_fields"] == {"signal": "categoryPreferences", "categories": {"Analytics": True}}
    assert entry["source_ref"] == "ann-0-2026-12-01T10:00:00Z"  # the message id
    assert choices_of(api, setup, "ann")[str(analytics.pk)]["$choice_acceptance_value"] is True
    # A change is logged; its repetition is not.
    for n in range(3):
        segment(client, setup, "/v1/track", consented("ann", 2000 + n, {"Analytics": False}, "2026-12-01T11:00:00Z"))
    drain()
    assert [e["$choice_acceptance_value"] for e in change_log(api, setup, "ann", analytics)] == [True, False]


def test_an_older_signal_is_logged_not_applied(setup, processings, client, api, drain):
    segment(client, setup, "/v1/track", consented("bob", 1, {"Analytics": True}, "2026-12-01T12:00:00Z"))
    drain()
    segment(client, setup, "/v1/track", consented("bob", 2, {"Analytics": False}, "2026-12-01T09:00:00Z"))
    drain()
    log = change_log(api, setup, "bob", processings["analytics"])
    assert [(e["$choice_acceptance_value"], e["applied"]) for e in log] == [(True, True), (False, False)]
    assert choices_of(api, setup, "bob")[str(processings["analytics"].pk)]["$choice_acceptance_value"] is True


def test_a_category_of_two_processings_sets_both_and_conflicts_refuse(setup, processings, client, api, drain):
    segment(client, setup, "/v1/track", consented("cy", 1, {"Advertising": True}))
    drain()
    choices = choices_of(api, setup, "cy")
    assert {choices[str(processings[k].pk)]["$choice_acceptance_value"] for k in ("ads", "sharing")} == {True}
    # Advertising accepted but C0004 (the same processing's other category) denied, in one message: refused.
    message = {
        "type": "track",
        "event": "e",
        "userId": "cy",
        "timestamp": "2026-12-01T11:00:00Z",
        "context": {
            "consent": {"categoryPreferences": {"Advertising": True}},
            "consentManagement": {"allowedConsentIds": [], "deniedConsentIds": ["C0004"]},
        },
    }
    segment(client, setup, "/v1/track", message)
    drain()
    choices = choices_of(api, setup, "cy")
    assert choices[str(processings["ads"].pk)]["$choice_acceptance_value"] is False
    assert choices[str(processings["sharing"].pk)]["$choice_acceptance_value"] is True


def test_global_privacy_control_on_every_dialect(setup, processings, client, api, drain):
    d = setup.datamart.pk
    bearer = {"Authorization": f"Bearer {setup.key}", "Sec-GPC": "1"}
    sent = [
        client.post(
            f"/v1/datamarts/{d}/user_activities",
            json.dumps(
                {
                    "$ts": 1_700_000_000_000,
                    "$type": "SITE_VISIT",
                    "$user_identifiers": [{"$type": "USER_ACCOUNT", "$user_account_id": "g-mics"}],
                }
            ),
            content_type="application/json",
            headers=bearer,
        ),
        client.post(
            "/v1/track", json.dumps({"userId": "g-seg", "event": "e"}), content_type="application/json", headers=bearer
        ),
        client.post(
            "/users/track",
            json.dumps({"attributes": [{"external_id": "g-braze", "plan": "pro"}]}),
            content_type="application/json",
            headers=bearer,
        ),
        client.post(
            "/api/track",
            json.dumps({"event_name": "e", "user_id": "g-thrive"}),
            content_type="application/json",
            headers=bearer,
        ),
    ]
    assert [r.status_code for r in sent] == [200, 200, 201, 200]
    drain()
    for user in ("g-mics", "g-seg", "g-braze", "g-thrive"):
        choices = choices_of(api, setup, user)
        assert list(choices) == [str(processings["ads"].pk)], user  # only the processing marked gpc_opt_out
        assert choices[str(processings["ads"].pk)]["$choice_acceptance_value"] is False
        [entry] = change_log(api, setup, user, processings["ads"])
        assert entry["custom_fields"]["signal"] == "Sec-GPC"
    sources = set(ChoiceChangeLogEntry.objects.values_list("source", flat=True))
    assert sources == {"ACTIVITY", "SEGMENT", "BRAZE", "THRIVESTACK"}


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="a constant number of queries is PostgreSQL's bulk path (COPY, arrays); SQLite's writes row by row",
)
def test_the_bulk_path_applies_signals_in_a_constant_number_of_queries(setup, processings, client):
    def drain_queries(users: int) -> int:
        batch = [consented(f"q{users}-{n}", 0, {"Analytics": True, "Advertising": n % 2 == 0}) for n in range(users)]
        segment(client, setup, "/v1/batch", {"batch": batch})
        with CaptureQueriesContext(connection) as queries:
            assert inbox_drain_batch() == users
        return len(queries)

    small, large = drain_queries(10), drain_queries(200)
    assert large == small, (small, large)
    assert Choice.objects.filter(datamart=setup.datamart).count() == 10 * 3 + 200 * 3


def test_the_console_shows_the_signal_and_counts_by_source(setup, processings, client, drain):
    from django.contrib.auth.models import User

    segment(client, setup, "/v1/track", consented("dee", 1, {"Analytics": False}))
    drain()
    root = User.objects.create_superuser("root", "root@example.com", "pw-123456789")
    client.force_login(root)
    point = UserPoint.objects.get(datamart=setup.datamart)
    page = client.get(f"/admin/userpoints/userpoint/{point.id}/change/").content.decode()
    assert '<td class="history-signal">categoryPreferences (Analytics: no)</td>' in page
    report = client.get("/admin/console/consent/").content.decode()
    segment_counts = (
        '<span class="source" data-source="SEGMENT">SEGMENT: <span class="source-accepted">0</span> / '
        '<span class="source-refused">1</span></span>'
    )
    assert segment_counts in report


steps = st.lists(
    st.tuples(st.integers(0, 10**6), st.booleans(), st.sampled_from(["signal", "api"]), st.booleans()),
    min_size=1,
    max_size=12,
    unique_by=lambda s: s[0],
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps)
def test_signals_and_api_writes_in_any_order(setup, steps):
    """The latest `$choice_ts` wins; every API write is logged; a signal is logged only when it changes the
    stored value (one entry per change), so a repeated signal adds none."""
    processing = processing_create(datamart=setup.datamart, name="P", legal_basis="CONSENT")
    point = UserPoint.objects.create(datamart=setup.datamart, creation_ts=timezone.now())
    api_writes = 0
    for choice_ts, value, kind, repeat in steps:
        for _ in range(2 if repeat else 1):
            if kind == "api":
                api_writes += 1
                choice_apply(
                    datamart_id=setup.datamart.pk,
                    user_point_id=point.id,
                    processing_id=processing.pk,
                    choice_ts=choice_ts,
                    acceptance_value=value,
                    custom_fields={},
                    source="API",
                    source_ref="k",
                    now=timezone.now(),
                )
            else:
                write = ChoiceWrite(
                    datamart_id=setup.datamart.pk,
                    user_point_id=point.id,
                    processing_id=processing.pk,
                    choice_ts=choice_ts,
                    acceptance_value=value,
                    custom_fields={"signal": "consent"},
                    source="SEGMENT",
                    source_ref="m",
                    signal=True,
                )
                choices_apply_bulk(writes=[write], now=timezone.now())
    latest_ts, latest_value, _, _ = max(steps)
    choice = Choice.objects.get(user_point=point, processing=processing)
    assert (choice.choice_ts, choice.acceptance_value) == (latest_ts, latest_value)
    entries = list(ChoiceChangeLogEntry.objects.filter(user_point=point, processing=processing).order_by("id"))
    assert sum(1 for e in entries if e.source == "API") == api_writes
    for entry in entries:
        if entry.source == "SEGMENT":
            assert entry.previous_acceptance_value != entry.acceptance_value  # a change, never a repeat
