"""What a marketer and a privacy officer see of the same people, page by page (spec 8): data sent through the
real Segment and Braze routes and the real pipeline, then every console page that shows it, for both roles."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from apps.activities.models import Activity
from apps.choices.models import Choice
from apps.profiles.models import Profile
from apps.userpoints.models import UserIdentifier, UserPoint
from tests.console.conftest import sign_in

pytestmark = pytest.mark.django_db

ALICE = "alice.martin@corp.example"  # a Segment userId that is an e-mail address
CAROL = "carol@braze.example"  # a Braze external_id that is an e-mail address
# Each case a marketer must not see in clear, and where it comes from.
SECRETS = {
    "account id that is an address (Segment userId)": ALICE,
    "account id that is an address (Braze external_id)": CAROL,
    "address URL-encoded in a URL property": "alice.martin%40corp.example",
    "address in free text": "bob.other@mail.example",
    "phone identifier (Braze phone)": "14155550100",
    "phone trait": "+33 6 12 34 56 78",
    "first name": "Alicia",
    "last name": "Martinez",
    "street": "Oberkampf",
    "postal code": "75011",
    "IP address (Segment context.ip)": "203.0.113.7",
    "IP address in free text": "198.51.100.23",
}


@pytest.fixture
def people(world, api, drain):
    key = world.setup.key
    identify = {
        "userId": ALICE,
        "anonymousId": "anon-alice",
        "traits": {
            "first_name": "Alicia",
            "last_name": "Martinez",
            "phone": "+33 6 12 34 56 78",
            "address": {"street": "12 rue Oberkampf", "city": "Paris", "postal_code": "75011"},
            "plan": "pro",
        },
        "context": {"ip": "203.0.113.7"},
    }
    track = {
        "userId": ALICE,
        "event": "Account Viewed",
        "properties": {
            "url": "https://shop.test/account?email=alice.martin%40corp.example&tab=orders",
            "note": "forwarded by bob.other@mail.example from 198.51.100.23",
            "items": 3,
        },
        "context": {"ip": "203.0.113.7"},
    }
    for path, body in (("/v1/identify", identify), ("/v1/track", track)):
        status, answer = api("post", path, body, key=key)
        assert status == 200, answer
    braze = {"attributes": [{"external_id": CAROL, "phone": "+1 415 555 0100", "first_name": "Alicia"}]}
    status, answer = api("post", "/users/track", braze, key=key, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert status == 201, answer
    drain()
    points = list(UserPoint.objects.filter(datamart=world.setup.datamart))
    assert len(points) == 2
    return points


def console_pages(points: list[UserPoint]) -> list[str]:
    """Every console page that shows these people: lists, the point pages and every record's detail page."""
    ids = [p.id for p in points]
    pages = [
        "/admin/userpoints/userpoint/",
        "/admin/userpoints/useridentifier/",
        "/admin/profiles/profile/",
        "/admin/activities/activity/",
        "/admin/choices/choice/",
        "/admin/userpoints/userpointmerge/",
    ]
    pages += [f"/admin/userpoints/userpoint/{i}/change/" for i in ids]
    pages += [
        f"/admin/userpoints/useridentifier/{r.pk}/change/" for r in UserIdentifier.objects.filter(user_point_id__in=ids)
    ]
    pages += [f"/admin/profiles/profile/{r.pk}/change/" for r in Profile.objects.filter(user_point_id__in=ids)]
    pages += [f"/admin/activities/activity/{r.pk}/change/" for r in Activity.objects.filter(user_point_id__in=ids)]
    pages += [f"/admin/choices/choice/{r.pk}/change/" for r in Choice.objects.filter(user_point_id__in=ids)]
    return pages


def read_all(client: Client, pages: list[str]) -> dict[str, str]:
    contents = {}
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        contents[page] = response.content.decode()
    return contents


def test_each_masking_case_is_masked_for_the_marketer_and_shown_to_the_officer(world, people):
    pages = console_pages(people)
    assert len(pages) >= 12
    marketer = read_all(sign_in(world.marketer.username), pages)
    officer = read_all(sign_in(world.officer.username), pages)
    officer_text = "\n".join(officer.values())
    for case, secret in SECRETS.items():
        leaks = [page for page, html in marketer.items() if secret.lower() in html.lower()]
        assert leaks == [], f"{case}: {secret!r} shown to the marketer on {leaks}"
        assert secret.lower() in officer_text.lower(), f"{case}: the officer should see {secret!r}"
    # The marketer still sees what is not personal, and tells people apart by their tags.
    marketer_text = "\n".join(marketer.values())
    assert "Account Viewed" in marketer_text
    assert "<th>plan</th><td>pro</td>" in marketer_text
    assert "Paris" not in marketer_text  # inside `address`, a personal property: masked whole
    tags = set(re.findall(r"@c•••\.example(#[0-9a-f]{6})", marketer_text))
    assert len(tags) == 1  # Alice's address carries one tag on every page, in clear text and in URLs alike
    assert re.search(r"@b•••\.example#[0-9a-f]{6}", marketer_text)  # Carol's: another domain, another tag
    assert re.search(r"phone:•••00#[0-9a-f]{6}", marketer_text)
    assert "ip:•••#" in marketer_text


def test_the_datamart_s_policy_is_edited_by_administrators_and_applies_at_once(world, people):
    admin = sign_in(world.admin.username)
    url = f"/admin/datamarts/datamart/{world.setup.datamart.pk}/change/"
    form = admin.get(url)
    assert form.status_code == 200
    assert "postal_code" in form.content.decode()
    response = admin.post(url, {"name": world.setup.datamart.name, "personal_properties": "plan\nemail"})
    assert response.status_code == 302
    world.setup.datamart.refresh_from_db()
    assert world.setup.datamart.personal_properties == ["plan", "email"]
    profile = Profile.objects.filter(user_point__in=people, properties__has_key="plan").first()
    assert profile is not None
    page = sign_in(world.marketer.username).get(f"/admin/profiles/profile/{profile.pk}/change/").content.decode()
    assert "<th>plan</th><td>•••</td>" in page
    assert "Oberkampf" in page  # no longer in the list: shown
    assert ALICE not in page  # addresses are masked whatever the list
    # Neither a privacy officer nor a marketer may change the policy.
    for user in (world.officer, world.marketer):
        client = sign_in(user.username)
        assert client.post(url, {"name": "x", "personal_properties": ""}).status_code == 403
    world.setup.datamart.refresh_from_db()
    assert world.setup.datamart.personal_properties == ["plan", "email"]
