"""Fidelity in a real browser (Debian chromium via Playwright): an admin starts a registration for
a municipality from the console, answers the fidelity questionnaire on its behalf through the answer
pages, submits, is refused a second registration, and opens the municipality's profile.
Screenshots: test-output/fidelity-profile.png (and fidelity-refused.png, -overview.png, -status.png)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from browser_helpers import axe_violations
from surveyapp import fidelity, questionnaire_store, responses, rounds, users
from surveyapp.db import connect

pytestmark = pytest.mark.browser

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

UNITS = ["Aalborg", "Aarhus", "Esbjerg", "Odense"]
# What the browser answers for Odense in Måling 2 on the Opsporing page: one "Ved ikke" (9), which is
# left out of the index. Opsporing = (4 + 4 + 4 + 5 + 5 + 3 + 4 + 4) / 8 = 33 / 8 = 4.125 -> "4,1", green.
OPSPORING = ["9", "4", "4", "4", "5", "5", "3", "4", "4"]


def _prefill(db, secret):
    """Måling 1 answered by all four, Måling 2 by three (Odense is left for the browser)."""
    questionnaire_store.load(db, ROOT / "questionnaires" / "fidelitet-familie.yaml")
    for name, opens in (("Måling 1", "2019-03-01"), ("Måling 2", "2019-11-01")):
        round_id = fidelity.create_unit_round(db, name, "fidelitet-familie", "familie", UNITS, secret, opens, None)
        rounds.open_round(db, round_id)
        for k, unit in enumerate(UNITS):
            if name == "Måling 2" and unit == "Odense":
                continue
            started = fidelity.start_registration(db, secret, round_id, unit, f"Leder {unit}", project="familie")
            response = responses.get_response(db, started["response_id"])
            q = responses.questionnaire_of(db, response)
            for index, section in enumerate(q.sections):
                form = {item.id: str(2 + (k + position) % 3) for position, item in enumerate(section.items) if item.type == "scale"}
                responses.save_page(db, response, index, form)
            responses.submit(db, response)
        if name == "Måling 1":
            rounds.close_round(db, round_id)
    activity = fidelity.add_activity(db, "familie", "A1", "Kerneteam i alle kommuner", owner="Projektledergruppen")
    milestone = fidelity.add_milestone(db, activity, "Faste kerneteammøder", "count", target=4)
    fidelity.set_milestone_status(db, milestone, "Måling 2", None, 3, "Esbjerg mangler")
    fidelity.override_light(db, milestone, "Måling 2", "yellow", "Møderne er fastlagt fra januar")
    dropped = fidelity.add_indicator(db, "familie", "M3", "Underretninger pr. 1.000 unge", "antal", 12, 9, "lower")
    fidelity.drop_indicator(db, dropped, "Måling 2", "Kan ikke opgøres pr. kommune")
    users.create_user(db, "admin", "admin-password-1", "admin")


def test_register_a_unit_and_open_its_profile(live_app, live_server, desktop, output_dir):
    db = connect(live_app.config["DATABASE"])
    _prefill(db, live_app.config["SECRET_KEY"])
    page = desktop
    base = live_server.url
    page.goto(f"{base}/login")
    page.fill("#username", "admin")
    page.fill("#password", "admin-password-1")
    page.click("button[type=submit]")

    page.goto(f"{base}/fidelity/familie/register")
    page.select_option("#round", label="Måling 2")
    page.select_option("#unit", "Odense")
    page.fill("#registered_by", "Lars Kjær")
    page.fill("#participants", "Kerneteamet: leder, rådgiver og SSP-konsulent")
    page.click("#register-form button[type=submit]")
    page.wait_for_url(re.compile(r"/s/[A-Za-z0-9_-]{40,}/\d+"))

    # The answer pages, one section per page, on Odense's behalf.
    q = questionnaire_store.get_version(db, rounds.round_questionnaires(db, rounds.get_round(db, "Måling 2")["id"])[""]["version_id"])
    for section in q.sections:
        for position, item in enumerate(section.items):
            if item.type == "scale":
                code = OPSPORING[position] if section.id == "opsporing" else "4"
                page.check(f'input[name="{item.id}"][value="{code}"]')
            elif item.type == "single":
                page.check(f'input[name="{item.id}"][value="3"]')
            elif item.type == "multiple":
                page.check(f'input[name="{item.id}"][value="1"]')
                page.check(f'input[name="{item.id}"][value="2"]')
        page.click('button[name="action"][value="next"]')
    page.wait_for_url(re.compile(r"/review"))
    page.click("form.submit-form button[type=submit]")
    page.wait_for_load_state("networkidle")

    stored = db.execute("SELECT r.status, r.registered_by, r.participants FROM responses r JOIN rounds o ON o.id = r.round_id "
                        "WHERE r.unit = 'Odense' AND o.name = 'Måling 2'").fetchone()
    assert tuple(stored) == ("complete", "Lars Kjær", "Kerneteamet: leder, rådgiver og SSP-konsulent")

    # A second registration for Odense in Måling 2 is refused; the admin is offered the reopen form.
    page.goto(f"{base}/fidelity/familie/register")
    page.select_option("#round", label="Måling 2")
    page.select_option("#unit", "Odense")
    page.fill("#registered_by", "En Anden")
    page.click("#register-form button[type=submit]")
    error = page.locator("#form-error").inner_text()
    assert "Odense har allerede en besvarelse i runden 'Måling 2'" in error and "registreret af Lars Kjær" in error
    assert page.locator("form.reopen").is_visible()
    page.screenshot(path=str(output_dir / "fidelity-refused.png"), full_page=True)

    page.goto(f"{base}/fidelity/familie/units/Odense")
    table = page.locator("#profile-table")
    opsporing = table.locator("tr", has_text="Opsporing")
    cells = opsporing.locator("td")
    assert cells.nth(1).inner_text().startswith("4,1")  # Måling 2, by hand 33 / 8
    assert "light-green" in cells.nth(1).get_attribute("class")
    # Three other municipalities answered Måling 2, so the comparison is shown (with n).
    assert "(n=3)" in cells.nth(3).inner_text()
    assert "trin 3 af 4" in page.locator("ol.ladder").inner_text()
    assert "Familiebehandling, Fast kontaktperson" in page.content()
    assert "Lars Kjær" in page.content()
    assert axe_violations(page) == []
    page.screenshot(path=str(output_dir / "fidelity-profile.png"), full_page=True)
    # The print version fits one A4 page.
    pdf = page.pdf(format="A4", print_background=True)
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 1

    # The other fidelity pages pass axe too; the status notes show the override and the dropped indicator.
    page.goto(f"{base}/fidelity/familie/overview?round=M%C3%A5ling%202")
    assert page.locator("#overview-matrix tbody tr").count() == 4
    assert axe_violations(page) == []
    page.screenshot(path=str(output_dir / "fidelity-overview.png"), full_page=True)
    page.goto(f"{base}/fidelity/familie/status?round=M%C3%A5ling%202")
    assert "Møderne er fastlagt fra januar" in page.content() and "Udgået fra Måling 2" in page.content()
    assert axe_violations(page) == []
    page.screenshot(path=str(output_dir / "fidelity-status.png"), full_page=True)
