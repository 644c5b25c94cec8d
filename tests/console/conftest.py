"""Console fixtures: users of each role made by the real command, people made by the real pipeline, and headless
Chromium signed in through the console's own form (screenshots go to test-artifacts/)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from playwright.sync_api import Browser, Page

from apps.datamarts.models import Processing
from apps.datamarts.services import processing_create
from apps.userpoints.identifiers import email_hash
from apps.userpoints.models import UserIdentifier
from tests.chromium import chromium_launched
from tests.factories import Setup, datamart_setup

PASSWORD = "console-pass-123"
EMAIL = "John.Doe@Example.com "  # as a person would type it: the pipeline trims and lower-cases it
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(autouse=True)
def _fresh_dashboard_cache():
    # The dashboard caches its figures per datamart id for a minute; tests must not see another test's.
    cache.clear()


def sign_in(username: str, password: str = PASSWORD) -> Client:
    """A client signed in through the console's own sign-in form, as a person does (and as the lockout counts)."""
    client = Client()
    response = client.post("/admin/login/", {"username": username, "password": password, "next": "/admin/"})
    assert response.status_code == 302, (username, response.status_code)
    assert response["Location"] == "/admin/"
    return client


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium_launched() as launched:
        ARTIFACTS.mkdir(exist_ok=True)
        yield launched


def browser_page(browser: Browser, **context_options: Any) -> Page:
    """A page in a context of its own (its own cookies), the size of a laptop screen."""
    context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000}, **context_options)
    return context.new_page()


def sign_in_form_submit(page: Page, username: str, password: str = PASSWORD) -> None:
    """Fills and submits the sign-in form the page shows."""
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")


def logged_in(browser: Browser, base: str, username: str, **context_options: Any) -> Page:
    page = browser_page(browser, **context_options)
    page.goto(f"{base}/admin/login/")
    sign_in_form_submit(page, username)
    page.wait_for_url(f"{base}/admin/")
    return page


def console_user(username: str, role: str, *datamart_ids: int) -> User:
    args = ["--username", username, "--password", PASSWORD, "--role", role]
    for datamart_id in datamart_ids:
        args += ["--datamart", str(datamart_id)]
    call_command("create_console_user", *args)
    return User.objects.get(username=username)


@dataclass
class World:
    setup: Setup
    other: Setup  # a second tenant, which no role user below may see
    processing: Processing
    other_processing: Processing
    admin: User
    officer: User
    marketer: User


@pytest.fixture
def world(db) -> World:
    setup, other = datamart_setup(), datamart_setup()
    return World(
        setup=setup,
        other=other,
        processing=processing_create(datamart=setup.datamart, name="Newsletter", legal_basis="CONSENT"),
        other_processing=processing_create(datamart=other.datamart, name="Other ads", legal_basis="CONSENT"),
        admin=console_user("ada", "administrator", setup.datamart.pk),
        officer=console_user("olivia", "privacy_officer", setup.datamart.pk),
        marketer=console_user("mark", "marketer", setup.datamart.pk),
    )


def activity(ts: int, *, events: list[dict] | None = None, email: str | None = None, agent: str | None = None) -> dict:
    identifiers = []
    if email:
        identifiers.append({"$type": "USER_EMAIL", "$email": email})
    if agent:
        identifiers.append({"$type": "USER_AGENT", "$user_agent_id": agent})
    return {"$ts": ts, "$type": "SITE_VISIT", "$user_identifiers": identifiers, "$events": events or []}


def choice_event(ts: int, processing_id: int, value: bool) -> dict:
    return {
        "$ts": ts,
        "$event_name": "$set_user_choice",
        "$properties": {"$processing_id": str(processing_id), "$choice_acceptance_value": value, "channel": "web"},
    }


def make_person(api, drain, setup: Setup, processing: Processing, *, email: str = EMAIL, agent: str = "vec:john"):
    """One person through the real route and pipeline: a profile with nested values, three consent writes (the
    third older than the second, so logged but not applied) and three activities. Returns the point id."""
    url = f"/v1/datamarts/{setup.datamart.pk}/user_activities"
    profile = {
        "$ts": 1_700_000_000_000,
        "$event_name": "$set_user_profile_properties",
        "$properties": {"first_name": "John", "address": {"city": "Lyon", "zip": "69001"}, "tags": ["a", "b"]},
    }
    bodies = [
        activity(
            1_700_000_000_000,
            email=email,
            agent=agent,
            events=[profile, choice_event(1_700_000_000_000, processing.pk, True)],
        ),
        activity(1_700_000_100_000, agent=agent, events=[choice_event(1_700_000_100_000, processing.pk, False)]),
        activity(1_700_000_200_000, agent=agent, events=[choice_event(1_700_000_050_000, processing.pk, True)]),
    ]
    for body in bodies:
        # One drain per activity: the consent order under test is by $choice_ts, but the change log is by arrival.
        status, answer = api("post", url, body, key=setup.key)
        assert status == 200, answer
        drain()
    return UserIdentifier.objects.get(datamart=setup.datamart, key=email_hash(email)).user_point_id
