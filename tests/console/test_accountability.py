"""Accountability and sign-in (spec 8): the access log written by each access, read by privacy officers and
administrators only, immutable; the sign-in lockout; the Content-Security-Policy; the production mode."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.test import Client
from django.utils import timezone

from apps.activities.models import Activity
from apps.choices.models import AppendOnlyError
from apps.console.models import AccessLogEntry
from apps.profiles.models import Profile
from tests.console.conftest import PASSWORD, make_person, sign_in
from tests.factories import site_visit

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def person(world, api, drain):
    return make_person(api, drain, world.setup, world.processing)


def entries_since(before: int) -> list[AccessLogEntry]:
    return list(AccessLogEntry.objects.filter(pk__gt=before).order_by("pk"))


def last_id() -> int:
    latest = AccessLogEntry.objects.order_by("-pk").first()
    return latest.pk if latest else 0


def test_every_access_appends_an_entry_in_the_same_request(world, person):
    officer = sign_in(world.officer.username)
    marketer = sign_in(world.marketer.username)
    datamart = world.setup.datamart.pk
    cases = [
        (marketer, "get", f"/admin/userpoints/userpoint/{person}/change/", {}, "VIEW_POINT", "mark"),
        (officer, "get", f"/admin/userpoints/userpoint/{person}/change/", {}, "VIEW_POINT", "olivia"),
        (marketer, "get", "/admin/userpoints/userpoint/", {"q": "john.doe@example.com"}, "SEARCH", "mark"),
        (officer, "get", "/admin/userpoints/useridentifier/", {"q": "vec:john"}, "SEARCH", "olivia"),
        (officer, "get", f"/admin/userpoints/userpoint/{person}/export/", {}, "EXPORT", "olivia"),
        (
            officer,
            "post",
            f"/admin/userpoints/userpoint/{person}/choice/",
            {"processing_id": world.processing.pk, "acceptance_value": "true"},
            "RECORD_CHOICE",
            "olivia",
        ),
    ]
    profile = Profile.objects.filter(user_point_id=person).first()
    activity = Activity.objects.filter(user_point_id=person).first()
    assert profile is not None
    assert activity is not None
    cases += [
        (marketer, "get", f"/admin/profiles/profile/{profile.pk}/change/", {}, "VIEW_RECORD", "mark"),
        (marketer, "get", f"/admin/activities/activity/{activity.pk}/change/", {}, "VIEW_RECORD", "mark"),
    ]
    for client, method, url, data, event, username in cases:
        before = last_id()
        response = getattr(client, method)(url, data, REMOTE_ADDR="192.0.2.44")
        assert response.status_code in (200, 302), url
        written = entries_since(before)
        assert len(written) == 1, (url, written)
        entry = written[0]
        assert (entry.event, entry.username, entry.datamart_id, entry.ip) == (event, username, datamart, "192.0.2.44")
        assert timezone.now() - entry.at < timedelta(seconds=30)
        if event == "SEARCH":
            assert data["q"] in entry.query
        else:
            assert entry.user_point_id == person
    # Erasure last: the entry outlives the point it names.
    before = last_id()
    assert officer.post(f"/admin/userpoints/userpoint/{person}/erase/").status_code == 302
    [erasure] = entries_since(before)
    assert (erasure.event, erasure.user_point_id, erasure.username) == ("ERASURE", person, "olivia")
    # Browsing lists without a search, or the access log itself, is not an access to someone's data.
    before = last_id()
    officer.get("/admin/userpoints/userpoint/")
    officer.get("/admin/console/accesslogentry/", {"q": "mark"})
    assert entries_since(before) == []


def test_officers_and_administrators_read_and_filter_the_log_marketers_cannot(world, person):
    sign_in(world.marketer.username).get(f"/admin/userpoints/userpoint/{person}/change/")
    sign_in(world.officer.username).get("/admin/userpoints/userpoint/", {"q": "vec:john"})
    url = "/admin/console/accesslogentry/"
    for user in (world.officer, world.admin):
        client = sign_in(user.username)
        assert 'id="access-log-link"' in client.get("/admin/").content.decode()
        assert set(listed(client.get(url))) >= {"opened a user point", "searched"}
        assert listed(client.get(url, {"username": "mark"})) == ["opened a user point"]
        assert listed(client.get(url, {"q": str(person)})) == ["opened a user point"]
        today = timezone.now().date().isoformat()
        assert "opened a user point" in listed(client.get(url, {"at__since": today, "at__until": today}))
        assert listed(client.get(url, {"at__until": "2000-01-01"})) == []
        entry = AccessLogEntry.objects.first()
        assert entry is not None
        assert client.get(f"{url}{entry.pk}/change/").status_code == 200
        assert client.post(f"{url}{entry.pk}/change/", {"username": "x"}).status_code == 403
        assert client.get(f"{url}{entry.pk}/delete/").status_code == 403
    marketer = sign_in(world.marketer.username)
    assert marketer.get(url).status_code == 403
    assert 'id="access-log-link"' not in marketer.get("/admin/").content.decode()
    # Another datamart's officer sees none of these entries.
    assert listed(sign_in_new_officer(world).get(url)) == []


def listed(response) -> list[str]:
    """The events of the rows of an access-log list page."""
    assert response.status_code == 200
    return re.findall(r'<td class="field-event">([^<]*)</td>', response.content.decode())


def sign_in_new_officer(world) -> Client:
    from tests.console.conftest import console_user

    console_user("otto", "privacy_officer", world.other.datamart.pk)
    return sign_in("otto")


def test_the_log_refuses_changes_and_deletions(world, person):
    sign_in(world.marketer.username).get(f"/admin/userpoints/userpoint/{person}/change/")
    entry = AccessLogEntry.objects.get()
    entry.username = "someone else"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AccessLogEntry.objects.filter(pk=entry.pk).update(username="x")
    with pytest.raises(AppendOnlyError):
        AccessLogEntry.objects.filter(pk=entry.pk).delete()


@pytest.mark.postgres
def test_the_database_itself_refuses_changes_and_deletions(world, person):
    sign_in(world.marketer.username).get(f"/admin/userpoints/userpoint/{person}/change/")
    entry = AccessLogEntry.objects.get()
    for sql in (
        "UPDATE console_accesslogentry SET username = 'x' WHERE id = %s",
        "DELETE FROM console_accesslogentry WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [entry.pk])
    assert AccessLogEntry.objects.get().username == "mark"


def failed_sign_in(username: str) -> int:
    return Client().post("/admin/login/", {"username": username, "password": "wrong", "next": "/admin/"}).status_code


def test_five_failed_sign_ins_lock_the_username_out_for_fifteen_minutes(world):
    assert settings.AXES_FAILURE_LIMIT == 5
    assert timedelta(minutes=15) == settings.AXES_COOLOFF_TIME
    for _ in range(4):
        assert failed_sign_in("mark") == 200  # the form again, with its error
    sign_in("mark")  # four failures: still allowed (and a success starts the count again)
    for _ in range(5):
        failed_sign_in("mark")
    locked = Client().post("/admin/login/", {"username": "mark", "password": PASSWORD, "next": "/admin/"})
    assert locked.status_code == 429
    assert 'id="locked-out"' in locked.content.decode()
    assert "Content-Security-Policy" in locked.headers
    sign_in("olivia")  # another username is not affected
    # Fifteen minutes later the username may sign in again.
    AccessAttempt.objects.filter(username="mark").update(attempt_time=timezone.now() - timedelta(minutes=16))
    sign_in("mark")


def test_programs_get_a_strict_policy_and_none_of_the_console_state(world):
    """The APIs' answers skip the console's session, user and messages (apps/core/people_only.py): a console
    session cookie sent along changes nothing, no answer sets or varies on a cookie, and each carries a fixed policy
    stricter than the pages' (it loads nothing and may not be framed), errors made before any view included."""
    signed_in = sign_in(world.officer.username)
    key = {"HTTP_AUTHORIZATION": world.setup.key}
    activity_route = f"/v1/datamarts/{world.setup.datamart.pk}/user_activities"
    batch = {"batch": [{"type": "track", "event": "Viewed", "anonymousId": "a-1", "messageId": "m-1"}]}
    answers = {
        "health": signed_in.get("/healthz"),
        "activity": signed_in.post(activity_route, site_visit(), "application/json", **key),
        "segment batch": signed_in.post("/v1/batch", batch, "application/json", **key),
        "segment refusal": signed_in.post("/v1/batch", batch, "application/json"),
        "read without a key": signed_in.get(f"/v1/datamarts/{world.setup.datamart.pk}/compartments"),
        "no such route": Client().get("/v1/nothing-here"),
        "a NUL in the query": Client().get("/v1/batch?x=%00"),
        "pixel": Client().get("/v1/pixel/track?data=e30"),
    }
    assert [(name, r.status_code) for name, r in answers.items()] == [
        ("health", 200),
        ("activity", 200),
        ("segment batch", 200),
        ("segment refusal", 400),
        ("read without a key", 401),
        ("no such route", 404),
        ("a NUL in the query", 400),
        ("pixel", 200),
    ]
    for name, response in answers.items():
        assert response.headers.get("Content-Security-Policy") == "default-src 'none'; frame-ancestors 'none'", name
        assert response.headers.get("X-Content-Type-Options") == "nosniff", name
        assert not response.cookies, name
        assert "cookie" not in response.headers.get("Vary", "").lower(), name
    # The same session still opens the console, under the console's own policy.
    page = signed_in.get("/admin/")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]


def test_console_pages_carry_a_content_security_policy(world, person):
    client = sign_in(world.officer.username)
    for url in ("/admin/login/", "/admin/", f"/admin/userpoints/userpoint/{person}/change/", "/v1/docs"):
        response = (Client() if "login" in url or "docs" in url else client).get(url)
        assert response.status_code == 200, url
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy
        assert "script-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    # The API docs work under that policy: their script is a file of ours, not inline.
    docs = Client().get("/v1/docs").content.decode()
    assert "<script>" not in docs
    script = Client().get("/v1/docs?script=")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()


def manage_check_deploy(extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # As a deployment starts it: without the test process' own relaxations (the browser tests' async-unsafe flag).
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"} | extra_env
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_mode_passes_check_deploy():
    production = manage_check_deploy({"PRODUCTION": "true", "SECRET_KEY": secrets.token_urlsafe(50)})
    assert production.returncode == 0, production.stdout + production.stderr
    assert "no issues" in production.stdout
    # Without its own secret key, production mode refuses to start.
    refused = manage_check_deploy({"PRODUCTION": "true", "SECRET_KEY": ""})
    assert refused.returncode != 0
    assert "SECRET_KEY" in refused.stderr
    # Development mode is what check --deploy warns about, as it should.
    development = manage_check_deploy({"PRODUCTION": "false"})
    assert development.returncode != 0
    assert "security.W004" in development.stdout + development.stderr
