"""Each role's main tasks in headless Chromium, as its user meets the console (issue 14): a privacy officer in Paris
finds a person from the dashboard, records a choice with its evidence, reads the history, filters activities by
event name and event time, takes the consent CSV, erases; a marketer sizes audiences, tells masked people apart and
meets a styled 403. Screenshots go to test-artifacts/walkthrough-*.png, each named after what it shows."""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import Page, expect

from apps.choices.models import ChoiceChangeLogEntry
from apps.userpoints.models import UserIdentifier
from tests.console.conftest import ARTIFACTS, activity, logged_in, make_person

pytestmark = pytest.mark.browser

PARIS = "Europe/Paris"
ISO_IN_PARIS = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})? CES?T")


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"walkthrough-{name}.png"), full_page=True)


def page_view(api, drain, setup, *, agent: str, ts: int, name: str = "page_view") -> None:
    body = activity(ts, agent=agent, events=[{"$ts": ts, "$event_name": name, "$properties": {"path": "/pricing"}}])
    status, answer = api("post", f"/v1/datamarts/{setup.datamart.pk}/user_activities", body, key=setup.key)
    assert status == 200, answer
    drain()


def test_privacy_officer_walkthrough(browser, live_server, world, api, drain):
    point_id = make_person(api, drain, world.setup, world.processing)
    page_view(api, drain, world.setup, agent="vec:john", ts=1_700_000_300_000)
    base = live_server.url
    page = logged_in(browser, base, world.officer.username, timezone_id=PARIS)

    # The dashboard: the search box first, full width; after the first page the browser's time zone is known.
    page.reload()
    expect(page.locator("#console-time-zone")).to_contain_text(f"Times in {PARIS}")
    search = page.locator("#person-search")
    box = search.bounding_box()
    assert box is not None
    assert box["width"] > 0.9 * 1400 - 80  # the screen's width but for the page's margins
    sections = [h.strip().lower() for h in page.locator("#console-apps caption").all_inner_texts()]
    assert sections[:2] == ["people", "profiles"]  # the stock CSS upper-cases them
    shot(page, "officer-dashboard-search-first-full-width")

    page.fill("#person-search-box", "john.doe@example.com")
    with page.expect_navigation():
        page.click("#person-search input[type=submit]")
    assert "/admin/userpoints/userpoint/?q=" in page.url
    expect(page.locator("#list-size")).to_contain_text("1 user point matches these filters")
    headers = [h.strip() for h in page.locator("#result_list thead th").all_inner_texts()]
    assert headers == ["USER POINT", "DATAMART", "CREATED", "HYPER POINT", "IDENTIFIERS"]  # CSS upper-cases them
    row = page.locator("#result_list tbody tr").first
    assert ISO_IN_PARIS.search(row.inner_text()), row.inner_text()
    assert row.locator("td.field-is_hyper_words").inner_text() == "no"
    compact = row.locator(".console-id").first
    assert compact.inner_text() == f"{str(point_id)[:8]}…"
    assert compact.get_attribute("title") == str(point_id)
    shot(page, "officer-list-human-columns-iso-dates-compact-ids")

    # The person's page: record a choice the person gave by letter, with its time and evidence.
    row.locator(f'a[href*="{point_id}"]').click()
    page.wait_for_url(f"**/admin/userpoints/userpoint/{point_id}/change/")
    form = page.locator("#record-choice")
    assert form.locator("input[name=acceptance_value]:checked").count() == 0  # no default answer
    expect(form).to_contain_text(f"made on ({PARIS})")
    form.locator("select[name=processing_id]").select_option(str(world.processing.pk))
    form.locator("input[name=acceptance_value][value=true]").check()
    form.locator("input[name=choice_time]").fill("2024-05-03T10:30")
    form.locator("input[name=evidence]").fill("signed letter of 3 May")
    form.locator("input[type=submit]").click()
    page.wait_for_load_state()
    message = page.locator("#consent-messages")
    expect(message).to_contain_text("Choice recorded for Newsletter")
    expect(message).to_be_in_viewport()  # beside the form that made it, not off-screen at the top
    shot(page, "officer-choice-recorded-message-in-view")
    entry = ChoiceChangeLogEntry.objects.filter(user_point_id=point_id, source="CONSOLE").get()
    assert entry.choice_ts == 1_714_725_000_000  # 10:30 in Paris on 3 May 2024 (CEST, UTC+2) is 08:30 UTC
    newest = page.locator("#consent-history tr.history-row").last
    assert "evidence: signed letter of 3 May" in newest.locator("td.history-fields").inner_text()
    assert "2024-05-03 10:30:00 CEST" in newest.inner_text()
    shot(page, "officer-consent-history-every-field-by-choice-time")

    # Activities: event names and who, filtered by event name and by event time.
    page.goto(f"{base}/admin/activities/activity/")
    headers = [h.strip() for h in page.locator("#result_list thead th").all_inner_texts()]
    assert headers[:4] == ["EVENT TIME", "TYPE", "EVENTS", "WHO"]
    assert "page_view" in page.locator("#result_list").inner_text()
    assert "john.doe@example.com" in page.locator("#result_list td.field-who").first.inner_text().lower()
    offered = page.locator("#changelist-filter a", has_text="page_view")
    assert offered.count() == 1, page.locator("#changelist-filter").inner_text()
    page.goto(f"{base}/admin/activities/activity/{offered.get_attribute('href')}")
    expect(page.locator("#list-size")).to_contain_text("1 activity matches these filters")
    shot(page, "officer-activities-event-names-filtered-by-event")
    page.goto(f"{base}/admin/activities/activity/")
    event_time = page.locator('details[data-filter-title="event time"] form')
    event_time.locator("input[name=ts__since]").fill("2023-11-14")
    event_time.locator("input[name=ts__until]").fill("2023-11-14")
    with page.expect_navigation():
        event_time.locator("input[type=submit]").click()
    assert "ts__since=2023-11-14" in page.url
    expect(page.locator("#list-size")).to_contain_text("4 activities match these filters")
    shot(page, "officer-activities-filtered-by-event-time")

    # The consent report and its CSV: identifiers, one time format.
    page.goto(f"{base}/admin/console/consent/")
    with page.expect_download() as download_info:
        page.locator(f'tr[data-processing="{world.processing.pk}"] a.csv').click()
    text = download_info.value.path().read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["email_addresses"].strip().lower() == "john.doe@example.com"
    assert rows[0]["choice_time"] == "2024-05-03T08:30:00.000Z"
    shot(page, "officer-consent-report")

    # Erase: the confirmation says who, with correct plurals; the record reads as words.
    page.goto(f"{base}/admin/userpoints/userpoint/{point_id}/erase/")
    identifiers = page.locator("#erase-identifiers").inner_text().lower()
    assert "john.doe@example.com" in identifiers
    assert "vec:john" in identifiers
    counts = page.locator("#erase-counts li").all_inner_texts()
    assert {"2 identifiers", "1 choice", "4 activities"} <= set(counts), counts
    shot(page, "officer-erase-confirmation-who-and-plurals")
    page.click("#confirm-erase")
    page.wait_for_url("**/admin/userpoints/erasurerecord/")
    record = page.locator("#result_list tbody tr").first
    assert record.locator(f'[title="{point_id}"]').count() == 1
    assert "4 activities" in record.locator("td.field-deleted").inner_text()
    assert "{" not in record.inner_text()  # no raw JSON
    shot(page, "officer-erasure-record-readable")
    assert not UserIdentifier.objects.filter(user_point_id=point_id).exists()


def test_marketer_walkthrough(browser, live_server, world, api, drain):
    make_person(api, drain, world.setup, world.processing)
    make_person(api, drain, world.setup, world.processing, email="ann.smith@example.com", agent="vec:ann")
    base = live_server.url
    page = logged_in(browser, base, world.marketer.username)

    # Audience sizes on the dashboard, on the lists and in the consent report.
    board = page.locator(f'section.console-board[data-datamart="{world.setup.datamart.pk}"]')
    expect(board.locator(".audience-points")).to_have_text("2")
    processing = board.locator(f'.audience-processing[data-processing="{world.processing.pk}"]')
    expect(processing).to_contain_text("Newsletter: 0 accepted, 2 refused")
    assert board.locator("svg.chart text").count() > 6  # axes with ticks and dates, not just two corners
    shot(page, "marketer-dashboard-audience-sizes")
    page.goto(f"{base}/admin/userpoints/userpoint/")
    expect(page.locator("#list-size")).to_have_text(re.compile(r"^\s*2 user points\s*$"))
    masked = page.locator("#result_list td.field-identifier_summary").all_inner_texts()
    assert "@example.com" not in " ".join(masked)
    tags = {m.group(0) for text in masked for m in re.finditer(r"#[0-9a-f]{4,}", text)}
    assert len(tags) == 2, masked  # two people, two different masked addresses
    shot(page, "marketer-list-size-and-distinct-masks")
    page.goto(f"{base}/admin/console/consent/")
    expect(page.locator(f'tr[data-processing="{world.processing.pk}"] td.refused')).to_have_text("2")
    shot(page, "marketer-consent-report")

    # What a marketer may not open: a styled page that says why, with a way back.
    response = page.goto(f"{base}/admin/console/accesslogentry/")
    assert response is not None
    assert response.status == 403
    expect(page.locator("#forbidden")).to_have_text("This page is not for your role")
    assert page.locator("link[href*='console.css']").count() == 1
    shot(page, "marketer-403-styled")
