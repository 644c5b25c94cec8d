"""Each role on each console page and action: status codes, and what is (and is not) shown."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from apps.choices.models import ChoiceChangeLogEntry
from apps.console.models import AccessEvent, AccessLogEntry
from apps.datamarts.models import ApiKey
from apps.datamarts.services import api_key_hash
from apps.userpoints.models import ErasureRecord, UserPoint
from tests.console.conftest import EMAIL, PASSWORD, make_person, sign_in

pytestmark = pytest.mark.django_db


def login(user: User) -> Client:
    return sign_in(user.username)


@pytest.fixture
def people(world, api, drain):
    mine = make_person(api, drain, world.setup, world.processing)
    theirs = make_person(api, drain, world.other, world.other_processing, email="eve@other.test", agent="vec:eve")
    return mine, theirs


def status(client: Client, url: str, method: str = "get", **data) -> int:
    return getattr(client, method)(url, data).status_code


ROLES = ("admin", "officer", "marketer")


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("/admin/", {"admin", "officer", "marketer"}),
        ("/admin/userpoints/userpoint/", {"admin", "officer", "marketer"}),
        ("/admin/userpoints/useridentifier/", {"admin", "officer", "marketer"}),
        ("/admin/profiles/profile/", {"admin", "officer", "marketer"}),
        ("/admin/activities/activity/", {"admin", "officer", "marketer"}),
        ("/admin/choices/choice/", {"admin", "officer", "marketer"}),
        ("/admin/userpoints/userpointmerge/", {"admin", "officer", "marketer"}),
        ("/admin/userpoints/hyperpointrefusal/", {"admin", "officer", "marketer"}),
        ("/admin/choices/choicechangelogentry/", {"admin", "officer"}),
        ("/admin/activities/inboxpayload/", {"admin", "officer"}),
        ("/admin/activities/processingerror/", {"admin", "officer"}),
        ("/admin/userpoints/erasurerecord/", {"admin", "officer"}),
        ("/admin/console/consent/", {"admin", "officer", "marketer"}),
        ("/admin/datamarts/datamart/", {"admin", "officer"}),
        ("/admin/datamarts/processing/", {"admin", "officer"}),
        ("/admin/datamarts/compartment/", {"admin", "officer"}),
        ("/admin/datamarts/apikey/", {"admin"}),
        ("/admin/datamarts/apikey/add/", {"admin"}),
        ("/admin/datamarts/processing/add/", {"admin"}),
        ("/admin/datamarts/datamart/add/", {"admin"}),
        ("/admin/auth/user/", set()),
        ("/admin/console/datamartaccess/", set()),
    ],
)
def test_pages_by_role(world, url, allowed):
    for role in ROLES:
        code = status(login(getattr(world, role)), url)
        assert code == (200 if role in allowed else 403), (role, url, code)
    assert Client().get(url).status_code == 302  # anonymous: to the login page


def test_user_point_page_shows_by_role(world, people):
    mine, _ = people
    url = f"/admin/userpoints/userpoint/{mine}/change/"
    officer_page = login(world.officer).get(url).content.decode()
    marketer_page = login(world.marketer).get(url).content.decode()
    # The officer sees the address, the consent history and the user-rights actions.
    assert "john.doe@example.com" in officer_page.lower()  # stored as given, before normalisation
    assert 'id="consent-history"' in officer_page
    assert 'id="erase-link"' in officer_page
    assert 'id="export-link"' in officer_page
    # The marketer sees the person masked, the consent state, and no history, erasure or export.
    assert "j•••e@e•••.com#" in marketer_page
    assert "john.doe@example.com" not in marketer_page.lower()
    assert 'class="consent-row"' in marketer_page
    assert 'id="consent-history"' not in marketer_page
    assert "erase-link" not in marketer_page
    assert "export-link" not in marketer_page
    # Profiles as key/value tables, nested values as nested tables; the datamart's personal properties (here
    # `first_name` and the whole `address`) masked for the marketer only.
    assert "<th>city</th><td>Lyon</td>" in officer_page
    assert "<th>first_name</th><td>John</td>" in officer_page
    assert "<th>city</th><td>•••</td>" in marketer_page
    assert "<th>first_name</th><td>•••</td>" in marketer_page
    assert "<th>tags</th>" in marketer_page


def test_another_datamart_is_invisible_everywhere(world, people):
    _, theirs = people
    for role in ROLES:
        client = login(getattr(world, role))
        assert client.get(f"/admin/userpoints/userpoint/{theirs}/change/").status_code == 404
        listing = client.get("/admin/userpoints/userpoint/").content.decode()
        assert str(theirs) not in listing
        assert (
            client.get("/admin/userpoints/userpoint/", {"q": "eve@other.test"})
            .content.decode()
            .count("/admin/userpoints/userpoint/" + str(theirs))
            == 0
        )
    officer = login(world.officer)
    assert officer.get(f"/admin/userpoints/userpoint/{theirs}/export/").status_code == 404
    assert officer.post(f"/admin/userpoints/userpoint/{theirs}/erase/").status_code == 404
    assert UserPoint.objects.filter(id=theirs).exists()
    assert officer.get(f"/admin/console/consent/{world.other_processing.pk}.csv").status_code == 404
    assert f"datamart={world.other.datamart.pk}" not in officer.get("/admin/userpoints/userpoint/").content.decode()
    # A superuser sees every datamart.
    root = User.objects.create_superuser("root", "root@example.com", PASSWORD)
    assert login(root).get(f"/admin/userpoints/userpoint/{theirs}/change/").status_code == 200


def test_a_staff_user_without_datamart_sees_nothing(world, people):
    mine, _ = people
    lonely = User.objects.create_user("lonely", password=PASSWORD, is_staff=True)
    lonely.groups.add(*world.officer.groups.all())
    client = login(lonely)
    assert client.get(f"/admin/userpoints/userpoint/{mine}/change/").status_code == 404
    assert str(mine) not in client.get("/admin/userpoints/userpoint/").content.decode()
    assert "no datamart assigned" in client.get("/admin/").content.decode()


def test_change_log_is_read_only_for_everyone_superusers_included(world, people):
    entry = ChoiceChangeLogEntry.objects.filter(datamart=world.setup.datamart).earliest("id")
    root = User.objects.create_superuser("root", "root@example.com", PASSWORD)
    for user in (world.admin, world.officer, root):
        client = login(user)
        base = "/admin/choices/choicechangelogentry/"
        assert client.get(f"{base}add/").status_code == 403
        assert client.get(f"{base}{entry.pk}/delete/").status_code == 403
        # The detail page is a read-only view: a POST changes nothing.
        assert client.get(f"{base}{entry.pk}/change/").status_code == 200
        assert client.post(f"{base}{entry.pk}/change/", {"acceptance_value": "on"}).status_code == 403
        response = client.post(base, {"action": "delete_selected", "_selected_action": [entry.pk]})
        assert response.status_code in (200, 302)
    assert ChoiceChangeLogEntry.objects.filter(pk=entry.pk, acceptance_value=entry.acceptance_value).exists()


def test_export_downloads_the_spec_document(world, people):
    mine, _ = people
    response = login(world.officer).get(f"/admin/userpoints/userpoint/{mine}/export/")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="user-point-{mine}.json"'
    document = json.loads(response.content)
    assert str(mine) in json.dumps(document)
    assert login(world.marketer).get(f"/admin/userpoints/userpoint/{mine}/export/").status_code == 403


def test_erasure_asks_then_erases_and_records(world, people):
    mine, _ = people
    url = f"/admin/userpoints/userpoint/{mine}/erase/"
    assert login(world.marketer).get(url).status_code == 403
    assert login(world.marketer).post(url).status_code == 403
    officer = login(world.officer)
    confirm = officer.get(url)
    assert confirm.status_code == 200
    assert b"confirm-erase" in confirm.content
    assert UserPoint.objects.filter(id=mine).exists()  # asking is not erasing
    response = officer.post(url)
    assert response.status_code == 302
    assert response["Location"] == "/admin/userpoints/erasurerecord/"
    assert not UserPoint.objects.filter(id=mine).exists()
    record = ErasureRecord.objects.get(user_point_id=mine)
    assert record.actor == "console:olivia"
    assert str(mine) in officer.get("/admin/userpoints/erasurerecord/").content.decode()


def test_api_key_secret_is_shown_once_and_keys_are_revoked_not_deleted(world):
    client = login(world.admin)
    response = client.post(
        "/admin/datamarts/apikey/add/",
        {"datamart": world.setup.datamart.pk, "name": "console key", "scopes": ["ingest", "read"]},
    )
    assert response.status_code == 200
    secret = response.context["raw_key"]
    key = ApiKey.objects.get(name="console key")
    assert key.key_hash == api_key_hash(secret)
    assert key.scopes == ["ingest", "read"]
    assert secret in response.content.decode()
    assert secret not in client.get(f"/admin/datamarts/apikey/{key.pk}/change/").content.decode()
    # Another tenant's datamart is not a valid choice.
    refused = client.post(
        "/admin/datamarts/apikey/add/", {"datamart": world.other.datamart.pk, "name": "x", "scopes": ["read"]}
    )
    assert refused.status_code == 200
    assert not ApiKey.objects.filter(name="x").exists()
    assert client.get(f"/admin/datamarts/apikey/{key.pk}/delete/").status_code == 403
    client.post("/admin/datamarts/apikey/", {"action": "revoke_keys", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.revoked_at is not None
    answer = Client().get(f"/v1/datamarts/{world.setup.datamart.pk}", HTTP_AUTHORIZATION=secret)
    assert answer.status_code == 401  # the API refuses a revoked key


def test_administrator_creates_configuration_through_the_services(world):
    client = login(world.admin)
    response = client.post("/admin/datamarts/datamart/add/", {"name": "Made in the console"})
    assert response.status_code == 302
    from apps.datamarts.models import Datamart

    made = Datamart.objects.get(name="Made in the console")
    assert made.compartments.filter(is_default=True).count() == 1  # datamart_create's guarantee
    assert client.get(f"/admin/datamarts/datamart/{made.pk}/change/").status_code == 200  # its creator sees it
    # Another tenant's datamart answers exactly as a datamart that does not exist (the admin's redirect).
    officer = login(world.officer)
    hidden = officer.get(f"/admin/datamarts/datamart/{made.pk}/change/")
    absent = officer.get("/admin/datamarts/datamart/999999999/change/")
    assert hidden.status_code == absent.status_code == 302
    assert hidden["Location"] == absent["Location"]
    response = client.post(
        "/admin/datamarts/processing/add/", {"datamart": made.pk, "name": "Ads", "legal_basis": "CONSENT"}
    )
    assert response.status_code == 302
    assert made.processings.filter(name="Ads").exists()


def test_consent_report_counts_and_csv(world, people, api, drain):
    make_person(api, drain, world.setup, world.processing, email="ann@example.com", agent="vec:ann")
    officer = login(world.officer)
    page = officer.get("/admin/console/consent/")
    row = next(r for r in page.context["rows"] if r["processing"].pk == world.processing.pk)
    # Both people end refused: their latest $choice_ts wrote false (the later-arriving older write was not applied).
    assert (row["accepted"], row["refused"]) == (0, 2)
    assert all(r["processing"].datamart_id == world.setup.datamart.pk for r in page.context["rows"])
    csv_url = f"/admin/console/consent/{world.processing.pk}.csv"
    rows = consent_csv(officer, csv_url)
    assert list(rows[0]) == [
        "user_point_id",
        "processing_id",
        "processing_name",
        "answer",
        "choice_time",
        "source",
        "first_recorded",
        "last_modified",
        "user_account_ids",
        "email_addresses",
        "user_agent_ids",
    ]
    assert len(rows) == 2
    assert {r["answer"] for r in rows} == {"refused"}
    # Who each person is, and every time in one format (ISO 8601, UTC).
    assert {r["email_addresses"] for r in rows} == {EMAIL, "ann@example.com"}  # as the person gave it
    assert {r["user_agent_ids"] for r in rows} == {"vec:john", "vec:ann"}
    iso = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
    assert all(iso.match(r[k]) for r in rows for k in ("choice_time", "first_recorded", "last_modified"))
    assert {r["choice_time"] for r in rows} == {"2023-11-14T22:15:00.000Z"}  # the refusal's $choice_ts
    # A marketer sizes the audience and takes the CSV, with addresses masked and people still told apart.
    marketer = login(world.marketer)
    assert marketer.get("/admin/console/consent/").status_code == 200
    masked = consent_csv(marketer, csv_url)
    assert "@example.com" not in json.dumps(masked).lower()
    assert len({r["email_addresses"] for r in masked}) == 2
    # Personal data left the console twice: both exports are in the access log.
    exports = AccessLogEntry.objects.filter(event=AccessEvent.EXPORT, query__startswith="consent CSV")
    assert sorted(exports.values_list("username", flat=True)) == sorted(
        [world.officer.username, world.marketer.username]
    )


def consent_csv(client: Client, url: str) -> list[dict[str, str]]:
    response = client.get(url)
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_a_privacy_officer_records_a_choice_through_the_service(world, people):
    mine, _ = people
    url = f"/admin/userpoints/userpoint/{mine}/choice/"
    data = {"processing_id": world.processing.pk, "acceptance_value": "true"}
    assert login(world.marketer).post(url, data).status_code == 403
    officer = login(world.officer)
    assert officer.get(url).status_code == 405
    response = officer.post(url, data)
    assert response.status_code == 302
    entry = ChoiceChangeLogEntry.objects.filter(user_point_id=mine).latest("id")
    assert entry.source == "CONSOLE"
    assert entry.source_ref == "console:olivia"
    assert entry.applied
    assert entry.acceptance_value
    assert entry.previous_acceptance_value is False
    page = officer.get(f"/admin/userpoints/userpoint/{mine}/change/").content.decode()
    assert page.count('class="history-row"') == 4
    # Another datamart's processing is refused, and nothing is written.
    before = ChoiceChangeLogEntry.objects.count()
    officer.post(url, {"processing_id": world.other_processing.pk, "acceptance_value": "false"})
    assert ChoiceChangeLogEntry.objects.count() == before
