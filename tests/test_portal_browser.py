"""The portal in Debian's chromium, as an agency user meets it: sign in, upload a bad return and read which rows
will be quarantined and why, upload the corrected one, submit it, see it received and, after a run, published; every
page in the GOV.UK Frontend styles served by the portal itself, and axe-core finding no violation of any severity on
any page."""

from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from pipelines.lib.resources import DataStore
from tests.conftest import run_graph
from tests.operations import PAGE_SECONDS
from tests.portal import BAD, BAD_ROWS, GOOD, PASSWORD, landed_with_catalogue, serving

PORTAL = Path(__file__).resolve().parent.parent / "pipelines" / "portal"
AXE = PORTAL / "node_modules" / "axe-core" / "axe.min.js"
GOVUK_CSS = PORTAL / "node_modules" / "govuk-frontend" / "dist" / "govuk" / "govuk-frontend.min.css"
pytestmark = pytest.mark.browser


def assert_accessible(page, what: str) -> None:
    """axe-core (every WCAG 2.0-2.2 A and AA rule, and its best practices) finds no violation, whatever its impact."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("""async () => (await axe.run(document, {runOnly: {type: 'tag',
        values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}})).violations
        .map((v) => ({id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' '))}))""")
    assert result == [], (what, result)


def click(page, selector: str) -> None:
    """Click what leads to another page, and return once that page has loaded: a click returns when the navigation
    has started, and a locator's count read then may still be the old page's (seen on a loaded machine)."""
    with page.expect_navigation():
        page.click(selector)


def test_an_agency_user_uploads_reads_the_feedback_and_submits_in_the_browser(tmp_path):
    assert AXE.exists() and GOVUK_CSS.exists(), "run `make portal-install` first"
    for name, content in (("bad.csv", BAD), ("good.csv", GOOD)):
        (tmp_path / name).write_bytes(content)
    with serving(landed_with_catalogue(tmp_path / "served")) as portal, sync_playwright() as p:
        portal.add_user("a@revenue.example", "agency", "revenue")
        portal.add_user("c@centre.example", "central")
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        strict = browser.new_page()  # the portal's own Content-Security-Policy: its scripts run, nothing is refused
        errors = []
        strict.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        strict.goto(portal.url)
        strict.wait_for_load_state("networkidle")
        assert strict.evaluate("document.body.className") == (
            "govuk-template__body js-enabled govuk-frontend-supported")
        assert errors == []
        # axe is injected as an inline script, which the portal's Content-Security-Policy forbids
        page = browser.new_context(bypass_csp=True).new_page()
        page.set_default_timeout(PAGE_SECONDS * 1000)
        failed = []
        page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)

        page.goto(portal.url)
        assert page.title() == "Sign in - Submit a performance return"
        assert "GDS Transport" in page.evaluate(  # the GOV.UK Frontend styles, served by the portal
            "getComputedStyle(document.querySelector('h1')).fontFamily")
        assert_accessible(page, "sign in")
        page.fill("#email", "a@revenue.example")
        page.fill("#password", "not the password")
        click(page, "button:has-text('Sign in')")
        assert page.inner_text(".govuk-error-summary") == (
            "There is a problem\nEnter the email address and password of your portal account")
        assert_accessible(page, "sign in, with its error")
        page.fill("#password", PASSWORD)
        click(page, "button:has-text('Sign in')")
        assert page.inner_text("h1") == "Revenue and Customs Agency: returns"
        assert_accessible(page, "returns, none yet")

        click(page, "text=Upload a return >> nth=0")
        click(page, "button:has-text('Check the file')")
        assert page.inner_text(".govuk-error-summary__list") == (
            "Select which of your returns the file is\nSelect the file of your return")
        assert_accessible(page, "upload, with its error")
        page.check("text=Transactions (transactions.csv)")
        page.fill("#month", "2025-06")
        page.set_input_files("#file", str(tmp_path / "bad.csv"))
        click(page, "button:has-text('Check the file')")
        rows = page.locator("#quarantined tbody tr")
        assert [rows.nth(i).locator("td").all_inner_texts() for i in range(rows.count())] == BAD_ROWS
        assert page.inner_text("#rows-accepted") == "0"
        assert_accessible(page, "feedback on a bad return")

        click(page, "text=Upload a corrected file instead")
        page.check("text=Transactions (transactions.csv)")
        page.fill("#month", "2025-06")
        page.set_input_files("#file", str(tmp_path / "good.csv"))
        click(page, "button:has-text('Check the file')")
        assert (page.inner_text("#rows-accepted"), page.locator("#quarantined").count()) == ("2", 0)
        assert_accessible(page, "feedback on a good return")
        click(page, "button:has-text('Submit this return')")
        assert page.inner_text("#status").startswith("Received: waiting for the next run")
        assert (portal.data / "landing" / "revenue" / "2025-06" / "transactions.csv").read_bytes() == GOOD

        click(page, "text=Returns >> nth=0")
        assert page.locator("#submissions tbody tr").count() == 1
        assert_accessible(page, "returns, one submitted")
        run_graph(DataStore(data_dir=str(portal.data)), "2025-06-01", "2025-06-01")  # the pipeline's run
        page.reload()
        assert page.locator("#submissions tbody tr td").all_inner_texts()[3:] == ["Published", "2", "0"]
        page.goto(f"{portal.url}/uploads/no-such-upload")
        assert page.inner_text("h1") == "Page not found"
        assert_accessible(page, "not found")
        click(page, "button:has-text('Sign out')")
        assert page.title() == "Sign in - Submit a performance return"
        page.fill("#email", "c@centre.example")
        page.fill("#password", PASSWORD)
        click(page, "button:has-text('Sign in')")
        page.select_option("#agency", "revenue")
        click(page, "button:has-text('Show')")
        assert page.inner_text("h1") == "Every agency's returns"
        cells = page.locator("#submissions tbody tr td").all_inner_texts()
        assert cells[:2] == ["2025-06", "Revenue and Customs Agency"]
        assert_accessible(page, "returns of every agency, for a central account")
        browser.close()
        # the wrong password (401), the form sent without a file (400) and the page that is not there (404): no
        # style sheet, script, font or image missing
        assert failed == [f"{portal.url}/{path}" for path in ("sign-in", "upload", "uploads/no-such-upload")]

