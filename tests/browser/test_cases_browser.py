"""The professional's pages in a real browser: the work list and registering a measurement on a
person's behalf, on desktop and phone, with axe checks and screenshots in test-output/."""
from __future__ import annotations

import datetime as dt

import pytest

from browser_helpers import axe_violations
from surveyapp import cases, users
from surveyapp.db import connect
from surveyapp.schedule import SCHEDULE_DIR


pytestmark = pytest.mark.browser


@pytest.fixture
def cases_server(live_app, live_server):
    db = connect(live_app.config["DATABASE"])
    cases.load_schedule(db, SCHEDULE_DIR / "familie-progression.yaml", actor="test")
    today = dt.date.today()
    opened = (today - dt.timedelta(days=190)).isoformat()   # M1 window is open today
    cases.open_case(db, "fp", "F1", "Aarhus", opened, label="Familien Hansen")
    cases.add_member(db, "F1", "F1-1", "forael", "1980-03-03", name="Mette Hansen", email="mette@example.org")
    cases.add_member(db, "F1", "F1-2", "barn", (today - dt.timedelta(days=365 * 12)).isoformat(), name="Ida Hansen")
    cases.open_case(db, "fp", "F2", "Aarhus", (today - dt.timedelta(days=372)).isoformat())
    cases.add_member(db, "F2", "F2-1", "barn", (today - dt.timedelta(days=365 * 16)).isoformat(), name="Oscar Berg")
    users.create_user(db, "aarhus", "aarhus-pass-123", "unit_lead", ["Aarhus"])
    db.conn.close()
    return live_server


def login(page, server):
    page.goto(f"{server.url}/login?next=/cases/")
    page.fill("#username", "aarhus")
    page.fill("#password", "aarhus-pass-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/cases/")


def test_worklist_and_register_on_behalf(cases_server, desktop, output_dir):
    page = desktop
    login(page, cases_server)
    rows = page.locator("#worklist tbody tr[data-state]")
    states = sorted((rows.nth(i).get_attribute("data-member"), rows.nth(i).get_attribute("data-slot"),
                     rows.nth(i).get_attribute("data-state")) for i in range(rows.count()))
    assert ("F1-1", "M1", "due") in states and ("F2-1", "M2", "due") in states
    assert ("F1-1", "baseline", "overdue") in states
    page.screenshot(path=str(output_dir / "cases-worklist-desktop.png"), full_page=True)
    assert axe_violations(page) == []

    page.click("tr[data-member='F1-2'][data-slot='M1'] a")
    page.wait_for_selector("form.register-form")
    # A 12-year-old: the leisure-job question is not on the form.
    assert page.locator("[name=fritidsjob]").count() == 0
    assert axe_violations(page) == []
    page.fill("#reference_date", (dt.date.today() - dt.timedelta(days=3)).isoformat())
    page.check("#mode-phone")
    for item, code in (("trivsel_humoer", 4), ("trivsel_hjemme", 3), ("trivsel_skole", 5), ("trivsel_venner", 4), ("trivsel_overskud", 2)):
        page.check(f"#{item}-{code}")
    page.screenshot(path=str(output_dir / "cases-register-desktop.png"), full_page=True)
    page.click("text=Gem og afslut måling")
    page.wait_for_selector(".flash")
    assert "er registreret for F1-2" in page.inner_text(".flash")
    assert page.locator("#member-F1-2 tr[data-slot='M1']").get_attribute("data-state") == "done"


def test_worklist_on_a_phone(cases_server, phone, output_dir):
    login(phone, cases_server)
    phone.screenshot(path=str(output_dir / "cases-worklist-phone.png"), full_page=True)
    assert axe_violations(phone) == []
