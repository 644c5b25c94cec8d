"""The console in a real headless Chromium (Playwright), against a live server, with data made by the real route
and pipeline. Screenshots go to test-artifacts/ so a person can see what the roles see."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page

from apps.userpoints.models import ErasureRecord, UserPoint
from tests.console.conftest import ARTIFACTS, logged_in, make_person

pytestmark = pytest.mark.browser


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"console-{name}.png"), full_page=True)


def find_by_email(page: Page, base: str, address: str) -> None:
    page.goto(f"{base}/admin/userpoints/userpoint/")
    page.fill("#searchbar", address)
    page.click("#changelist-search input[type=submit]")
    page.wait_for_load_state()


def test_privacy_officer_finds_reads_exports_and_erases(browser, live_server, world, api, drain):
    point_id = make_person(api, drain, world.setup, world.processing)
    base = live_server.url
    page = logged_in(browser, base, world.officer.username)
    assert page.locator(f'section.console-board[data-datamart="{world.setup.datamart.pk}"] svg.chart').count() >= 2
    shot(page, "officer-dashboard")

    find_by_email(page, base, "JOHN.DOE@example.com")
    results = page.locator("#result_list tbody tr")
    assert results.count() == 1
    shot(page, "officer-search")
    results.first.locator(f'a[href*="{point_id}"]').click()
    page.wait_for_url(f"**/admin/userpoints/userpoint/{point_id}/change/")

    history = page.locator("#consent-history tr.history-row")
    assert history.count() == 3
    # Ordered by the time each choice was made: the third write (made between the first two) comes second.
    assert history.locator("td.history-value").all_inner_texts() == ["accepted", "accepted", "refused"]
    assert history.locator("td.history-previous").all_inner_texts() == ["\N{EN DASH}", "refused", "accepted"]
    applied = history.locator("td.history-applied").all_inner_texts()
    assert applied[0] == applied[2] == "applied"
    assert applied[1].startswith("not applied (recorded after a choice made later")
    assert history.locator("td.history-source").all_inner_texts() == ["ACTIVITY"] * 3
    assert page.locator("tr.consent-row td.consent-value").inner_text() == "refused"
    # Events are folded; opening one shows its properties.
    first_activity = page.locator("details.activity").first
    first_activity.locator("summary").first.click()
    assert first_activity.locator("details.event").count() == 1
    assert "john.doe@example.com" in page.locator("#identifiers").inner_text().lower()
    shot(page, "officer-user-point")

    with page.expect_download() as download_info:
        page.click("#export-link")
    download = download_info.value
    assert download.suggested_filename == f"user-point-{point_id}.json"
    saved = ARTIFACTS / download.suggested_filename
    download.save_as(str(saved))
    exported = json.loads(saved.read_text())
    assert str(point_id) in json.dumps(exported)
    saved.unlink()  # it holds the test person's data: the screenshot is the artifact, not the export

    page.click("#erase-link")
    page.wait_for_url(f"**/admin/userpoints/userpoint/{point_id}/erase/")
    assert UserPoint.objects.filter(id=point_id).exists()
    shot(page, "officer-erase-confirmation")
    page.click("#confirm-erase")
    page.wait_for_url("**/admin/userpoints/erasurerecord/")
    assert page.locator(f'#result_list [title="{point_id}"]').count() == 1  # the compact id, whole on hover
    shot(page, "officer-erasure-records")
    assert not UserPoint.objects.filter(id=point_id).exists()
    assert ErasureRecord.objects.get(user_point_id=point_id).actor == f"console:{world.officer.username}"

    find_by_email(page, base, "john.doe@example.com")
    assert page.locator("#result_list tbody tr").count() == 0


def test_marketer_sees_the_masked_address_and_no_erasure(browser, live_server, world, api, drain):
    point_id = make_person(api, drain, world.setup, world.processing)
    base = live_server.url
    page = logged_in(browser, base, world.marketer.username)
    find_by_email(page, base, "john.doe@example.com")
    row = page.locator("#result_list tbody tr")
    assert row.count() == 1
    assert "j•••e@e•••.com#" in row.inner_text()
    shot(page, "marketer-search")
    row.locator(f'a[href*="{point_id}"]').click()
    page.wait_for_url(f"**/admin/userpoints/userpoint/{point_id}/change/")
    body = page.locator("#content-main").inner_text()
    assert "j•••e@e•••.com#" in body
    assert "john.doe@example.com" not in body.lower()
    assert page.locator("#erase-link").count() == 0
    assert page.locator("#export-link").count() == 0
    assert page.locator("#consent-history").count() == 0
    # Opened, the activity that carried the address shows it masked too.
    for details in page.locator("details").all():
        details.evaluate("element => element.open = true")
    assert "john.doe@example.com" not in page.locator("#timeline").inner_text().lower()
    shot(page, "marketer-user-point")
    response = page.goto(f"{base}/admin/userpoints/userpoint/{point_id}/erase/")
    assert response is not None
    assert response.status == 403
    assert UserPoint.objects.filter(id=point_id).exists()
