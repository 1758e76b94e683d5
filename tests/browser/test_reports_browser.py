"""The evaluator's report page in a real browser (Debian chromium via Playwright) on the demo data:
log in, pick an item and a breakdown, see the table with "for få svar" cells, every figure image
loaded, no serious axe violations. Screenshots: test-output/reports-page.png, reports-phone.png."""
from __future__ import annotations

from pathlib import Path

import pytest

from browser_helpers import axe_violations
from surveyapp.db import connect
from surveyapp.demo import build_demo

pytestmark = pytest.mark.browser

HERE = Path(__file__).resolve().parent


@pytest.fixture
def demo_site(live_app, live_server, secret):
    db = connect(live_app.config["DATABASE"])
    build_demo(db, secret)
    db.conn.close()
    return live_server


def _login(page, base):
    page.goto(f"{base}/reports/")
    page.get_by_label("Brugernavn").fill("evaluator")
    page.get_by_label("Adgangskode").fill("demo-evaluator-pass")
    page.get_by_role("button", name="Log ind").click()
    page.wait_for_load_state("networkidle")


def test_report_page_in_a_browser(desktop, demo_site, output_dir):
    page = desktop
    _login(page, demo_site.url)
    page.goto(f"{demo_site.url}/reports/forebyggelse")
    page.get_by_label("Opdeling").select_option("group,unit")
    page.get_by_label("Spørgsmål").select_option("kendskab_strategi")
    page.get_by_role("button", name="Vis").click()
    page.wait_for_load_state("networkidle")
    assert "item=kendskab_strategi" in page.url
    heading = page.get_by_role("heading", name="Jeg har kendskab til kommunens forebyggelsesstrategi")
    assert heading.is_visible()
    table = page.locator("table.report-table")
    assert table.locator("td.too-few").count() >= 1            # small unit x group cells
    assert "varierer mellem" in page.content()
    images = page.locator("img")
    assert images.count() >= 3
    for i in range(images.count()):                     # lazy images load as they scroll into view
        images.nth(i).scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=images.nth(i).element_handle(),
                               timeout=60_000)
    widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
    assert all(w > 600 for w in widths), widths
    page.screenshot(path=str(output_dir / "reports-page.png"), full_page=True)
    assert axe_violations(page) == []


def test_report_page_on_a_phone(phone, demo_site, output_dir):
    _login(phone, demo_site.url)
    phone.goto(f"{demo_site.url}/reports/familie?by=unit")
    assert phone.get_by_role("heading", name="Indeks").is_visible()
    overflow = phone.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1")
    assert not overflow
    phone.screenshot(path=str(output_dir / "reports-phone.png"), full_page=False)
