"""Each JavaScript library, unmodified but for its host, against a live server and a real Celery worker: every call
type it supports, read back through the UserPoint API (account, agent and e-mail identifiers, traits in the
profile, the event's own time). The browser libraries run in Chromium on a page of another origin (spec 5)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests

from apps.activities.models import InboxPayload, InboxStatus
from apps.datamarts.services import datamart_configure
from apps.userpoints.identifiers import email_hash
from tests.dialects.segment import helpers
from tests.e2e.conftest import wait_for
from tests.factories import datamart_setup

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
HOLD_MS = 3000


class Api:
    def __init__(self, base: str, setup) -> None:
        self.base = f"{base}/v1/datamarts/{setup.datamart.pk}"
        self.key = setup.key

    def get(self, path: str) -> tuple[int, Any]:
        response = requests.get(f"{self.base}/{path}", headers={"Authorization": self.key}, timeout=10)
        return response.status_code, response.json()


def processed(setup, count: int) -> None:
    wait_for(
        lambda: InboxPayload.objects.filter(datamart=setup.datamart, status=InboxStatus.PROCESSED).count() >= count,
        timeout=90,
        what=f"the worker to process {count} messages",
    )
    assert not InboxPayload.objects.filter(datamart=setup.datamart).exclude(status=InboxStatus.PROCESSED).exists()


def read_back(api: Api, run: str, *, anonymous_id: str) -> dict[str, Any]:
    """The person as the UserPoint API shows it: one point for the account, the agent and the address."""
    user = f"user_account_id={run}-user"
    point = helpers.point(api.get, user)
    assert point is not None, "the user's point"
    assert helpers.point(api.get, f"user_agent_id=anon:{anonymous_id}") == point
    assert helpers.point(api.get, f"email_hash={email_hash(f'{run}@example.com')}") == point
    assert {
        ("USER_ACCOUNT", f"{run}-user"),
        ("USER_AGENT", f"anon:{anonymous_id}"),
        ("USER_EMAIL", f"{run}@example.com"),
    } <= helpers.identifier_summary(helpers.identifiers(api.get, user))
    profiles = helpers.profiles(api.get, user)
    account_profile = next(p for p in profiles if p.get("$user_account_id") == f"{run}-user")
    assert account_profile["name"] == "Arthur Dent"
    assert account_profile["plan"] == "pro"
    assert account_profile["groups"]["g-1"]["name"] == "Team"
    return {"activities": helpers.activities(api.get, user)}


def assert_event_times(activities: list[dict[str, Any]], called_at_ms: int, *, tolerance_ms: int = 1500) -> None:
    """Each activity is stored at the time of its call, not of its arrival (HOLD_MS later for the Node scripts)."""
    for activity in activities:
        assert abs(activity["$ts"] - called_at_ms) <= tolerance_ms, (activity["type"], activity["$ts"] - called_at_ms)


@pytest.mark.parametrize(
    ("script", "library"),
    [("segment_node.js", "@segment/analytics-node"), ("rudder_node.js", "analytics-node")],
)
def test_node_library_delivers_every_call_type(script, library, worker_factory, live_server, run_node):
    worker_factory()
    setup = datamart_setup()
    run = f"{script[:6]}-{uuid.uuid4().hex[:6]}"
    report = run_node(script, live_server.url, setup.key, run, str(HOLD_MS))
    assert report["errors"] == []
    processed(setup, 7)
    person = read_back(Api(live_server.url, setup), run, anonymous_id=f"{run}-anon")
    activities = person["activities"]
    # alias merged the anonymous visitor's point (and its activity) into the user's.
    assert sorted(a["type"] for a in activities) == sorted(
        ["track", "alias", "identify", "track", "page", "screen", "group"]
    )
    assert {a["context"]["library"]["name"] for a in activities} == {library}
    assert_event_times(activities, report["calledAt"])
    if script == "rudder_node.js":  # RudderStack sends originalTimestamp and no timestamp (spec 5)
        assert all("originalTimestamp" in a for a in activities)
    # The library retrying the same messages (same messageIds) stores nothing new: run it again? Its ids are new
    # on every run, so dedupe is checked where ids can be repeated (tests/dialects/segment).


@pytest.mark.parametrize(
    ("script", "library"),
    [("segment_node.js", "@segment/analytics-node"), ("rudder_node.js", "analytics-node")],
)
def test_node_library_retries_a_backpressure_429_and_delivers(
    script, library, live_server, run_node, drain, workers_behind
):
    """Workers behind (apps/activities/backpressure.py): the library keeps its batch after the 429 and delivers it on
    a retry once the backlog is processed. analytics-node waits for Retry-After without counting the retry (up to
    12 hours); rudder-sdk-node counts it (3 retries of at least Retry-After each, then it drops the batch)."""
    setup = datamart_setup()
    run = f"{script[:6]}-429-{uuid.uuid4().hex[:6]}"
    report = workers_behind.send_through(
        lambda: run_node(script, live_server.url, setup.key, run, "0"), datamart=setup.datamart
    )
    assert report["errors"] == []
    assert InboxPayload.objects.filter(datamart=setup.datamart).count() == 7
    assert drain() == 7
    activities = read_back(Api(live_server.url, setup), run, anonymous_id=f"{run}-anon")["activities"]
    assert {a["context"]["library"]["name"] for a in activities} == {library}
    assert len(activities) == 7


def open_page(
    chromium,
    url: str,
    headers: dict[str, str] | None = None,
    *,
    while_open: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Opens the page, waits for its script's report and returns it; `while_open(report)` runs before the page is
    closed (its library's timers still running)."""
    page = chromium.new_page(extra_http_headers=headers)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(url)
        page.wait_for_function("window.__report !== undefined", timeout=30_000)
        report = page.evaluate("window.__report")
        assert "error" not in report, report
        if while_open is not None:
            while_open(report)
        time.sleep(0.5)
    finally:
        page.close()
    assert errors == [], errors
    return report


@pytest.mark.parametrize("batching", [False, True], ids=["standard", "batching"])
def test_analytics_next_in_a_browser_on_another_origin(batching, worker_factory, live_server, website, chromium):
    worker_factory()
    setup = datamart_setup()
    collector = live_server.url.removeprefix("http://")
    assert website.split(":")[1] != live_server.url.split(":")[1]  # 127.0.0.1 against localhost: two origins
    run = f"next-{uuid.uuid4().hex[:6]}"
    query = f"collector={collector}&key={setup.key}&run={run}&batching={int(batching)}"
    report = open_page(chromium, f"{website}/segment_next.html?{query}")
    assert report["failed"] == []
    processed(setup, 6)
    person = read_back(Api(live_server.url, setup), run, anonymous_id=report["anonymousId"])
    activities = person["activities"]
    assert sorted(a["type"] for a in activities) == sorted(["alias", "identify", "track", "page", "screen", "group"])
    assert {a["context"]["library"]["name"] for a in activities} == {"analytics.js"}
    assert {a["context"]["page"]["url"].split("?")[0] for a in activities} == {f"{website}/segment_next.html"}
    assert_event_times(activities, report["calledAt"], tolerance_ms=3000)


def test_analytics_next_in_a_browser_waits_out_a_backpressure_429(
    live_server, website, chromium, drain, workers_behind
):
    """Workers behind (apps/activities/backpressure.py), a page on another origin: its own script can read the 429's
    Retry-After (the CORS headers expose it), and analytics-next keeps the six events through the refusals and
    delivers them once the workers have caught up, the page still open."""
    setup = datamart_setup()
    collector = live_server.url.removeprefix("http://")
    run = f"next429-{uuid.uuid4().hex[:6]}"
    query = f"collector={collector}&key={setup.key}&run={run}&batching=0&probe=1"
    report = deliver_through_backpressure(chromium, f"{website}/segment_next.html?{query}", setup, workers_behind)
    assert report["probe"] == {"status": 429, "retryAfter": "1"}, report
    assert report["failed"] == []
    assert drain() == 6
    activities = read_back(Api(live_server.url, setup), run, anonymous_id=report["anonymousId"])["activities"]
    assert sorted(a["type"] for a in activities) == sorted(["alias", "identify", "track", "page", "screen", "group"])


def test_rudderstack_analytics_js_in_a_browser_retries_a_backpressure_429(
    live_server, website, chromium, drain, workers_behind
):
    """The same with RudderStack's browser library (XHR): it keeps the refused events in its retry queue (it reads
    no Retry-After: its own backoff) and delivers them once the workers have caught up."""
    setup = datamart_setup()
    run = f"rsjs429-{uuid.uuid4().hex[:6]}"
    query = f"dataPlane={live_server.url}&key={setup.key}&run={run}&beacon=0"
    report = deliver_through_backpressure(chromium, f"{website}/rudder_js.html?{query}", setup, workers_behind)
    assert drain() == 6
    activities = read_back(Api(live_server.url, setup), run, anonymous_id=report["anonymousId"])["activities"]
    assert sorted(a["type"] for a in activities) == sorted(["track", "identify", "track", "page", "group", "alias"])


def deliver_through_backpressure(chromium, url: str, setup, workers_behind, expected: int = 6) -> dict[str, Any]:
    """Opens the page while the workers are behind: once its report is in, checks that requests were refused and
    nothing stored, lets the workers catch up, and keeps the page open until the library has delivered `expected`
    payloads (and not one more). Returns the page's report."""
    from apps.activities.backpressure import draining_mark

    def refused_then_delivered(report: dict[str, Any]) -> None:
        assert workers_behind.refusals() > 0
        assert not InboxPayload.objects.filter(datamart=setup.datamart).exists()
        workers_behind.catch_up()
        # The library retries on its own timers, the page still open.
        wait_for(
            lambda: InboxPayload.objects.filter(datamart=setup.datamart).count() >= expected,
            timeout=90,
            interval=0.2,
            what="the library to deliver its events after the 429s",
        )
        time.sleep(1)

    draining_mark()  # a drain at work: another datamart's backlog is over the limit
    report = open_page(chromium, url, while_open=refused_then_delivered)
    assert InboxPayload.objects.filter(datamart=setup.datamart).count() == expected  # each event once
    return report


@pytest.mark.parametrize("beacon", [False, True], ids=["xhr", "beacon"])
def test_rudderstack_analytics_js_in_a_browser_on_another_origin(
    beacon, worker_factory, live_server, website, chromium
):
    worker_factory()
    setup = datamart_setup()
    # The datamart lists the site as its only allowed origin: the site's page may send.
    datamart_configure(datamart=setup.datamart, allowed_origins=[website])
    run = f"rsjs-{uuid.uuid4().hex[:6]}"
    query = f"dataPlane={live_server.url}&key={setup.key}&run={run}&beacon={int(beacon)}"
    report = open_page(chromium, f"{website}/rudder_js.html?{query}")
    processed(setup, 6)
    person = read_back(Api(live_server.url, setup), run, anonymous_id=report["anonymousId"])
    activities = person["activities"]
    # RudderStack's browser library has no screen call.
    assert sorted(a["type"] for a in activities) == sorted(["track", "identify", "track", "page", "group", "alias"])
    assert {a["context"]["library"]["name"] for a in activities} == {"RudderLabs JavaScript SDK"}
    assert all("originalTimestamp" in a for a in activities)
    assert_event_times(activities, report["calledAt"], tolerance_ms=3000)


def test_a_page_of_an_origin_the_datamart_does_not_list_sends_nothing(worker_factory, live_server, website, chromium):
    worker_factory()
    setup = datamart_setup()
    datamart_configure(datamart=setup.datamart, allowed_origins=["https://www.example.com"])
    run = f"deny-{uuid.uuid4().hex[:6]}"
    query = f"dataPlane={live_server.url}&key={setup.key}&run={run}&beacon=0"
    open_page(chromium, f"{website}/rudder_js.html?{query}")
    time.sleep(1)
    assert not InboxPayload.objects.filter(datamart=setup.datamart).exists()


def consent_by_processing(api: Api, run: str) -> dict[str, tuple[bool, str]]:
    status, body = api.get(f"user_points/user_account_id={run}-user/user_choices")
    assert status == 200, body
    return {c["$processing_id"]: (c["$choice_acceptance_value"], c["signal"]) for c in body["data"]}


def mapped_processings(setup) -> dict[str, str]:
    from apps.datamarts.services import processing_create

    made = {
        "ads": processing_create(
            datamart=setup.datamart, name="Ads", legal_basis="CONSENT", consent_categories=["Advertising", "C0004"]
        ),
        "analytics": processing_create(
            datamart=setup.datamart, name="Analytics", legal_basis="CONSENT", consent_categories=["Analytics", "C0002"]
        ),
    }
    return {name: str(p.pk) for name, p in made.items()}


def test_consent_signals_of_the_browser_libraries_become_choices(worker_factory, live_server, website, chromium):
    """RudderStack's own consent management (custom provider) and analytics-next carrying the consent wrapper's
    categoryPreferences: both set the mapped processings' choices (spec 6), through a real worker."""
    worker_factory()
    for page, query in (
        ("rudder_js.html", "dataPlane={url}&key={key}&run={run}&consent=1"),
        ("segment_next.html", "collector={host}&key={key}&run={run}&consent=1"),
    ):
        setup = datamart_setup()
        ids = mapped_processings(setup)
        run = f"consent-{uuid.uuid4().hex[:6]}"
        url = query.format(url=live_server.url, host=live_server.url.removeprefix("http://"), key=setup.key, run=run)
        report = open_page(chromium, f"{website}/{page}?{url}")
        count = 6 if page.startswith("rudder") else 2
        processed(setup, count)
        signal = "consentManagement" if page.startswith("rudder") else "categoryPreferences"
        assert consent_by_processing(Api(live_server.url, setup), run) == {
            ids["ads"]: (False, signal),
            ids["analytics"]: (True, signal),
        }, page
        assert report.get("failed", []) == []


def test_global_privacy_control_from_a_browser_refuses_the_opted_out_processing(
    worker_factory, live_server, website, chromium
):
    """A browser sending `Sec-GPC: 1` (as Firefox and Brave do when the person asks; Playwright adds the header
    here, since Chromium has no setting for it) refuses the processings marked gpc_opt_out."""
    from apps.datamarts.services import processing_create

    worker_factory()
    setup = datamart_setup()
    sale = processing_create(datamart=setup.datamart, name="Sale of data", legal_basis="CONSENT", gpc_opt_out=True)
    run = f"gpc-{uuid.uuid4().hex[:6]}"
    query = f"dataPlane={live_server.url}&key={setup.key}&run={run}"
    open_page(chromium, f"{website}/rudder_js.html?{query}", headers={"Sec-GPC": "1"})
    processed(setup, 6)
    assert consent_by_processing(Api(live_server.url, setup), run) == {str(sale.pk): (False, "Sec-GPC")}
