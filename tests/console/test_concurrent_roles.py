"""Two users of different roles browsing the console at the same moment, against a threaded live server: each
sees only its own view. The masking decision once lived on the shared ModelAdmin (`self._masked`), so a privacy
officer's request could unmask the marketer's page that another thread was rendering. Each also keeps its own time
zone."""

from __future__ import annotations

import threading

import pytest
import requests

from apps.activities.models import Activity
from apps.userpoints.models import UserIdentifier
from tests.console.conftest import PASSWORD, make_person

pytestmark = [pytest.mark.django_db(transaction=True)]

EMAIL = "john.doe@example.com"
ROUNDS = 25


def signed_in(base: str, username: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{base}/admin/login/", timeout=30)
    answer = session.post(
        f"{base}/admin/login/",
        data={
            "username": username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
            "next": "/admin/",
        },
        timeout=30,
    )
    assert answer.status_code == 200
    assert answer.url.endswith("/admin/"), answer.url
    return session


def test_marketer_and_officer_at_once_each_see_their_own_view(live_server, world, api, drain):
    point_id = make_person(api, drain, world.setup, world.processing)
    email_identifier = UserIdentifier.objects.get(user_point_id=point_id, type="USER_EMAIL")
    activity = Activity.objects.filter(user_point_id=point_id).order_by("ts").first()
    assert activity is not None
    pages = [
        "/admin/userpoints/useridentifier/",
        "/admin/userpoints/userpoint/",
        f"/admin/userpoints/userpoint/{point_id}/change/",
        f"/admin/userpoints/useridentifier/{email_identifier.pk}/change/",
        f"/admin/activities/activity/{activity.pk}/change/",
    ]
    base = live_server.url
    sessions = {
        "marketer": signed_in(base, world.marketer.username),
        "officer": signed_in(base, world.officer.username),
    }
    # The officer reads in Tokyo (the cookie console/timezone.js sets), the marketer in UTC (no cookie): the time
    # zone is activated per request, and must not reach the other thread's pages either.
    sessions["officer"].cookies.set("console_tz", "Asia%2FTokyo")
    bodies: dict[str, list[tuple[str, int, str]]] = {"marketer": [], "officer": []}
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def browse(role: str) -> None:
        try:
            start.wait(timeout=30)
            for _ in range(ROUNDS):
                for page in pages:
                    answer = sessions[role].get(f"{base}{page}", timeout=60)
                    bodies[role].append((page, answer.status_code, answer.text.lower()))
        except BaseException as exc:  # re-raised in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=browse, args=(role,)) for role in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not failures, failures
    for role, answers in bodies.items():
        assert len(answers) == ROUNDS * len(pages), role
        assert all(status == 200 for _, status, _ in answers), [(p, s) for p, s, _ in answers if s != 200][:5]

    leaked = [page for page, _, body in bodies["marketer"] if EMAIL in body]
    assert leaked == [], f"{len(leaked)} of {len(bodies['marketer'])} marketer responses show the address: {leaked[:5]}"
    # Control: every page shows the address to the privacy officer, every time.
    assert [page for page, _, body in bodies["officer"] if EMAIL not in body] == []
    assert [page for page, _, body in bodies["officer"] if "times in asia/tokyo" not in body] == []
    assert [page for page, _, body in bodies["marketer"] if "times in utc" not in body] == []
