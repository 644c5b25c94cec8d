"""An accessibility pass of the console: axe-core (the npm package, installed from tests/js_clients' lock file) run in
headless Chromium on each role's main pages, signed in through the console's own form, with data made by the real
route and pipeline. No violation of impact "serious" or "critical" may remain. Every page's full screenshot goes to
test-artifacts/a11y-<role>-<page>.png, and every violation found, whatever its impact, to
test-artifacts/a11y-report.json."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.console.conftest import ARTIFACTS, PASSWORD, browser_page, make_person, sign_in_form_submit
from tests.npm import node_modules_installed

pytestmark = pytest.mark.browser

BLOCKING = ("critical", "serious")
TARGETS_SHOWN = 3
# The console's Content-Security-Policy allows no inline script, and add_script_tag(path=...) inlines axe.min.js:
# the audit's pages bypass the policy (which axe does not check) so that axe can run in them.
CONTEXT_OPTIONS: dict[str, Any] = {"bypass_csp": True}


@pytest.fixture(scope="module")
def axe_script() -> Path:
    script = node_modules_installed() / "axe-core" / "axe.min.js"
    assert script.is_file(), f"{script} is missing: is axe-core in tests/js_clients/package-lock.json?"
    return script


@dataclass
class Violation:
    role: str
    page: str
    url: str
    rule: str
    impact: str
    help: str
    help_url: str
    targets: list[str]
    html: list[str]
    summaries: list[str]

    def line(self) -> str:
        shown = "; ".join(self.targets[:TARGETS_SHOWN])
        more = f" (+{len(self.targets) - TARGETS_SHOWN} more)" if len(self.targets) > TARGETS_SHOWN else ""
        return (
            f"{self.role}/{self.page}: {self.rule} ({self.impact}) {self.help} -- {shown}{more} -- {self.html[0][:120]}"
        )


@dataclass
class Audit:
    """Runs axe on pages and keeps what it finds."""

    script: Path
    version: str = ""
    pages: list[str] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)

    def __call__(self, page: Page, role: str, name: str, *, include: list[str] | None = None) -> None:
        """Screenshots the page, then runs axe on the whole document (or on the parts `include` selects)."""
        page.wait_for_load_state("load")
        page.screenshot(path=str(ARTIFACTS / f"a11y-{role}-{name}.png"), full_page=True)
        if not page.evaluate("() => typeof window.axe !== 'undefined'"):
            page.add_script_tag(path=str(self.script))
        result = page.evaluate(
            """async (include) => {
                const results = await axe.run(include ? {include} : document, {resultTypes: ['violations']});
                return {version: axe.version, violations: results.violations};
            }""",
            include,
        )
        self.version = result["version"]
        self.pages.append(f"{role}/{name}")
        for found in result["violations"]:
            self.violations.append(
                Violation(
                    role=role,
                    page=name,
                    url=page.url,
                    rule=found["id"],
                    impact=found["impact"] or "unknown",
                    help=found["help"],
                    help_url=found["helpUrl"],
                    targets=[" >>> ".join(node["target"]) for node in found["nodes"]],
                    html=[node["html"][:300] for node in found["nodes"]],
                    summaries=[node.get("failureSummary") or "" for node in found["nodes"]],
                )
            )

    def blocking(self) -> list[Violation]:
        return [v for v in self.violations if v.impact in BLOCKING]

    def report(self) -> None:
        document = {
            "axe_core": self.version,
            "pages": self.pages,
            "violations": [asdict(v) for v in self.violations],
        }
        (ARTIFACTS / "a11y-report.json").write_text(json.dumps(document, indent=2, ensure_ascii=False))


def search_by_email(page: Page, base: str, address: str) -> None:
    page.goto(f"{base}/admin/userpoints/userpoint/")
    page.fill("#searchbar", address)
    page.click("#changelist-search input[type=submit]")
    page.wait_for_load_state()


def open_all_details(page: Page) -> None:
    """Opens the folded activities and events, so that axe checks what a person sees on unfolding them."""
    for details in page.locator("details").all():
        details.evaluate("element => element.open = true")


def sign_in_pages(audit: Audit, browser: Browser, base: str, role: str, username: str) -> Page:
    """The sign-in form, the form after a wrong password, then the dashboard it leads to."""
    page = browser_page(browser, **CONTEXT_OPTIONS)
    page.goto(f"{base}/admin/login/")
    audit(page, role, "login")
    sign_in_form_submit(page, username, PASSWORD + "-wrong")
    page.wait_for_selector(".errornote")
    audit(page, role, "login-error")
    sign_in_form_submit(page, username)
    page.wait_for_url(f"{base}/admin/")
    audit(page, role, "dashboard")
    return page


def browse_pages(audit: Audit, page: Page, base: str, role: str, point_id: Any) -> None:
    """What every role browses: the person search, a user point, the activities."""
    search_by_email(page, base, "john.doe@example.com")
    assert page.locator("#result_list tbody tr").count() == 1
    audit(page, role, "user-point-search")
    page.locator(f'#result_list a[href*="{point_id}"]').first.click()
    page.wait_for_url(f"**/admin/userpoints/userpoint/{point_id}/change/")
    open_all_details(page)
    audit(page, role, "user-point-detail")
    page.goto(f"{base}/admin/activities/activity/")
    assert page.locator("#result_list tbody tr").count() >= 3
    audit(page, role, "activity-list")


def test_console_pages_have_no_serious_accessibility_violation(
    browser, live_server, world, api, drain, axe_script
) -> None:
    point_id = make_person(api, drain, world.setup, world.processing)
    base = live_server.url
    audit = Audit(axe_script)

    # The administrator: browsing, and the configuration pages only this role has.
    page = sign_in_pages(audit, browser, base, "admin", world.admin.username)
    browse_pages(audit, page, base, "admin", point_id)
    page.goto(f"{base}/admin/datamarts/processing/add/")
    audit(page, "admin", "processing-add")
    page.goto(f"{base}/admin/datamarts/apikey/")
    audit(page, "admin", "api-key-list")
    page.context.close()

    # The privacy officer: browsing, and the person's rights.
    page = sign_in_pages(audit, browser, base, "officer", world.officer.username)
    browse_pages(audit, page, base, "officer", point_id)
    page.goto(f"{base}/admin/choices/choicechangelogentry/")
    assert page.locator("#result_list tbody tr").count() == 3
    audit(page, "officer", "consent-change-log")
    page.goto(f"{base}/admin/userpoints/userpoint/{point_id}/change/")
    form = page.locator("#record-choice")
    form.locator("select[name=processing_id]").select_option(str(world.processing.pk))
    form.locator("input[name=acceptance_value][value=false]").check()
    form.locator("input[name=evidence]").fill("letter of 3 May")
    form.locator("input[type=submit]").click()
    page.wait_for_url(f"**/admin/userpoints/userpoint/{point_id}/change/#consent")
    assert "Choice recorded for Newsletter" in page.locator("#content").inner_text()
    audit(page, "officer", "record-choice", include=[".messagelist", "#consent"])  # the message, the form
    page.goto(f"{base}/admin/userpoints/userpoint/{point_id}/erase/")
    assert page.locator("#confirm-erase").count() == 1  # shown, not pressed: the marketer still needs the person
    audit(page, "officer", "erase-confirmation")
    page.goto(f"{base}/admin/console/accesslogentry/")
    assert page.locator("#result_list tbody tr").count() >= 1
    audit(page, "officer", "access-log")
    page.goto(f"{base}/admin/console/consent/")
    audit(page, "officer", "consent-report")
    page.context.close()

    # The marketer: browsing, and the page a role is shown where it may not go.
    page = sign_in_pages(audit, browser, base, "marketer", world.marketer.username)
    browse_pages(audit, page, base, "marketer", point_id)
    response = page.goto(f"{base}/admin/console/accesslogentry/")
    assert response is not None
    assert response.status == 403
    audit(page, "marketer", "forbidden")
    page.context.close()

    audit.report()
    blocking = audit.blocking()
    if blocking:
        pytest.fail(
            f"{len(blocking)} serious or critical accessibility violation(s) on {len(audit.pages)} pages "
            f"(axe-core {audit.version}; every finding in test-artifacts/a11y-report.json):\n"
            + "\n".join(v.line() for v in blocking)
        )
