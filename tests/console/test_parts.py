"""The console's parts: the user command, the roles, the dashboard figures, the charts, masking, the site guard."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.activities.models import InboxPayload, InboxStatus
from apps.console.charts import bar_chart, line_chart
from apps.console.dashboard import datamart_figures
from apps.console.models import DatamartAccess
from apps.console.roles import ROLE_PERMISSIONS
from apps.console.site import ConsoleSite
from apps.datamarts.models import Datamart
from tests.console.conftest import PASSWORD, make_person, sign_in
from tests.factories import datamart_setup


@pytest.mark.django_db
def test_create_console_user_gives_role_and_datamarts():
    first, second = datamart_setup().datamart, datamart_setup().datamart
    out = StringIO()
    call_command(
        "create_console_user",
        *["--username", "pia", "--password", PASSWORD, "--role", "privacy_officer"],
        *["--datamart", str(first.pk), "--datamart", str(second.pk), "--json"],
        stdout=out,
    )
    printed = json.loads(out.getvalue())
    assert printed["roles"] == ["privacy_officer"]
    assert printed["datamart_ids"] == sorted([str(first.pk), str(second.pk)], key=int)
    user = User.objects.get(username="pia")
    assert user.is_staff
    assert not user.is_superuser
    assert user.has_perm("console.erase_userpoint")
    assert not user.has_perm("datamarts.add_apikey")
    assert set(DatamartAccess.objects.filter(user=user).values_list("datamart_id", flat=True)) == {first.pk, second.pk}
    sign_in("pia")
    with pytest.raises(CommandError, match="no datamart"):
        call_command(
            "create_console_user",
            "--username",
            "x",
            "--password",
            PASSWORD,
            "--role",
            "marketer",
            "--datamart",
            "999999",
        )
    with pytest.raises(CommandError):
        call_command("create_console_user", "--username", "x", "--password", PASSWORD, "--role", "marketer")
    with pytest.raises(CommandError):
        call_command(
            "create_console_user",
            "--username",
            "x",
            "--password",
            PASSWORD,
            "--role",
            "boss",
            "--datamart",
            str(first.pk),
        )


@pytest.mark.django_db
def test_roles_hold_exactly_their_permissions():
    from django.contrib.auth.models import Group

    for role, names in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=role)
        held = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}
        # Every listed permission exists once all migrations ran (ErasureRecord's included, via post_migrate).
        assert held == set(names), role
    marketer = set(ROLE_PERMISSIONS["marketer"])
    assert not {"console.view_email", "console.erase_userpoint", "console.export_userpoint"} & marketer
    assert not any(name.startswith("datamarts.") for name in marketer)
    assert not any(name.split(".")[1].startswith("delete_") for names in ROLE_PERMISSIONS.values() for name in names)


@pytest.mark.django_db
def test_dashboard_figures_come_from_the_data(world, api, drain):
    make_person(api, drain, world.setup, world.processing)
    now = timezone.now()
    InboxPayload.objects.create(
        datamart=world.setup.datamart,
        source="ACTIVITY",
        payload={"identifiers": []},
        received_at=now - timedelta(minutes=5),
        status=InboxStatus.PENDING,
    )
    InboxPayload.objects.create(
        datamart=world.setup.datamart, source="ACTIVITY", payload={}, received_at=now, status=InboxStatus.FAILED
    )
    figures = datamart_figures(world.setup.datamart, now=now, use_cache=False)
    assert len(figures.days) == 30
    assert figures.days[-1] == now.date()
    # Activities count on the day they happened ($ts, 2023-11-14), not the day they arrived (today).
    assert sum(figures.activities_per_day) == 0
    then = datetime.fromtimestamp(1_700_000_200_000 / 1000, tz=UTC) + timedelta(hours=1)
    back_then = datamart_figures(world.setup.datamart, now=then, use_cache=False)
    assert back_then.days[-1] == date(2023, 11, 14)
    assert back_then.activities_per_day[-1] == 3
    assert sum(back_then.activities_per_day) == 3
    # Audience: one person, and the newsletter's current choice (refused: the latest $choice_ts is the refusal).
    assert figures.user_points.count == 1
    assert figures.user_points.exact
    assert [(c.name, c.accepted, c.refused) for c in figures.consent_by_processing] == [("Newsletter", 0, 1)]
    assert figures.new_points_per_day[-1] == 1
    # Applied writes today: accepted then refused (the third, older write was not applied): 50 %.
    assert figures.acceptance_rate == {f"Newsletter ({world.processing.pk})": [None] * 29 + [0.5]}
    assert figures.inbox_backlog == 1
    assert figures.failed_payloads == 1
    assert figures.oldest_pending_age_seconds == pytest.approx(300, abs=1)
    # The other tenant's board is empty.
    assert sum(datamart_figures(world.other.datamart, now=now, use_cache=False).activities_per_day) == 0

    page = sign_in(world.marketer.username)
    html = page.get("/admin/").content.decode()
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') == 3
    assert f'data-datamart="{world.other.datamart.pk}"' not in html
    assert "<script" not in html.split('id="console-dashboard"')[1].split("</section>")[0]


def test_bar_chart_draws_each_value_and_escapes_labels():
    svg = bar_chart([("<a>", 0), ("b", 5), ("c", 10)], title="T & t")
    assert svg.count('class="bar"') == 3
    assert 'data-value="10"' in svg
    assert "&lt;a&gt;" in svg
    assert "<a>" not in svg
    assert "T &amp; t" in svg
    heights = [float(part.split('"')[0]) for part in svg.split(' height="')[2:]]
    assert heights[0] == 0
    assert heights[2] == pytest.approx(2 * heights[1])


def test_line_chart_leaves_gaps_for_days_without_data():
    svg = line_chart({"P": [("d1", 1.0), ("d2", None), ("d3", 0.5), ("d4", 0.0)]}, title="rates")
    assert svg.count("<circle") == 3
    assert svg.count("<polyline") == 1  # d1 stands alone; d3 and d4 are joined
    assert "50%" in svg


def test_the_site_refuses_a_model_admin_without_tenancy():
    site = ConsoleSite(name="guard-test")
    site.register(Datamart, admin.ModelAdmin)
    with pytest.raises(ImproperlyConfigured, match="TenantAdmin"):
        site.get_urls()


def test_the_site_root_leads_to_the_console(client):
    response = client.get("/")
    assert (response.status_code, response["Location"]) == (302, "/admin/")


def test_the_console_s_first_hour_pages(world, api, drain):
    """The dashboard's person search, human list titles, a styled 403, and an erase confirmation that says who the
    person is with correct plurals."""
    person = make_person(api, drain, world.setup, world.processing)
    marketer = sign_in(world.marketer.username)
    dashboard = marketer.get("/admin/").content.decode()
    assert 'id="person-search"' in dashboard
    assert dashboard.index('id="person-search"') < dashboard.index('id="console-dashboard"') + 400
    listing = marketer.get("/admin/userpoints/userpoint/").content.decode()
    assert "<h1>User points</h1>" in listing
    assert "Select user point to view" not in listing
    forbidden = marketer.get("/admin/userpoints/erasurerecord/")
    assert forbidden.status_code == 403
    assert 'id="forbidden"' in forbidden.content.decode()
    confirm = sign_in(world.officer.username).get(f"/admin/userpoints/userpoint/{person}/erase/").content.decode()
    assert "e-mail John.Doe@Example.com" in confirm
    assert "agent vec:john" in confirm
    assert "1 choice<" in confirm
    assert "1 choices" not in confirm
    assert "3 activities" in confirm


def test_a_choice_recorded_with_its_time_and_evidence(world, api, drain):
    from apps.choices.models import ChoiceChangeLogEntry

    person = make_person(api, drain, world.setup, world.processing)
    officer = sign_in(world.officer.username)
    url = f"/admin/userpoints/userpoint/{person}/choice/"
    data = {"processing_id": world.processing.pk, "acceptance_value": "true", "evidence": "letter of 3 May"}
    officer.post(url, {**data, "choice_time": "2031-01-01T00:00:00"})  # in the future: refused
    officer.post(url, {**data, "choice_time": "not a time"})
    assert not ChoiceChangeLogEntry.objects.filter(source="CONSOLE").exists()
    officer.post(url, {**data, "choice_time": "2023-11-14T22:13:20"})
    entry = ChoiceChangeLogEntry.objects.get(source="CONSOLE")
    assert entry.choice_ts == 1_700_000_000_000
    assert entry.custom_fields == {"evidence": "letter of 3 May"}
    page = officer.get(f"/admin/userpoints/userpoint/{person}/change/").content.decode()
    assert "evidence: letter of 3 May" in page
    assert 'value="false" checked' not in page  # no default answer
