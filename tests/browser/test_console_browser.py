"""The project lead's console in a real browser (Debian chromium via Playwright): log in, create
and open a round, upload a list (a bad file first: every bad row flagged, nothing stored; then a
good one), confirm, dry-run and send the invitations through a real SMTP server on loopback,
answer one mailed link in the browser, and look at the live dashboard.
Screenshots: test-output/console-*.png (the dashboard: console-dashboard.png)."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from browser_helpers import area_helpers, axe_violations
from surveyapp import questionnaire, questionnaire_store, responses, tokens, users
from surveyapp.db import connect

pytestmark = pytest.mark.browser



# The console tests' questionnaire, SMTP server and helpers (tests/console is not on the path here).
helpers = area_helpers("console", "console_helpers")

YAML = helpers.questionnaire_yaml("trivsel-console", ("arbejde",))  # q1, q2 on one page
UNITS = ["Horsens", "Kolding", "Vejle"]
GROUPS = ["ledere", "medarbejdere"]


@pytest.fixture
def smtp():
    with helpers.running_smtp_server() as server:
        yield server


@pytest.fixture
def console_site(live_app, live_server, smtp):
    live_app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port, SMTP_TLS="none", MAIL_FROM="projekt@example.dk")
    db = connect(live_app.config["DATABASE"])
    questionnaire_store.register(db, questionnaire.parse(YAML, "trivsel-console.yaml"), YAML, "trivsel-console.yaml")
    users.create_user(db, "chef", "chef-password-1", "admin", actor="test")
    yield {"url": live_server.url, "db": db, "secret": live_app.config["SECRET_KEY"]}
    db.conn.close()


def check_axe(page, what: str) -> None:
    violations = axe_violations(page)
    assert violations == [], f"{what}: " + "; ".join(f"{v['id']} ({v['impact']}): {v['help']}" for v in violations)


def people_csv(bad: bool) -> str:
    lines = ["key;email;name;group;unit"]
    n = 0
    for unit in UNITS:
        for group in GROUPS:
            for _ in range(4 if group == "medarbejdere" else 2):
                n += 1
                lines.append(f"p{n:02d};p{n:02d}@{unit.lower()}.example;Person {n};{group};{unit}")
    if bad:
        lines[3] = "p03;p03-at-nowhere;Person 3;ledere;Horsens"      # line 4: not an address
        lines[8] = "p08;p08@kolding.example;Person 8;borgere;Kolding"  # line 9: unknown group
    return "\n".join(lines) + "\n"


def test_login_upload_preview_confirm_send_dashboard(desktop, console_site, smtp, output_dir, tmp_path):
    page, base, db = desktop, console_site["url"], console_site["db"]
    today = dt.date.today()

    page.goto(f"{base}/console/")
    assert "/login" in page.url
    check_axe(page, "login")
    page.get_by_label("Brugernavn").fill("chef")
    page.get_by_label("Adgangskode").fill("chef-password-1")
    page.get_by_role("button", name="Log ind").click()
    page.wait_for_url(f"{base}/console/")

    # Create and open a round: one questionnaire per group.
    page.get_by_role("link", name="Opret målerunde").click()
    page.get_by_label("Navn").fill("Forår 2026")
    page.get_by_label("Projekt").fill("trivsel")
    for index, group in enumerate(GROUPS):
        page.get_by_label(f"Gruppe {index + 1}", exact=True).fill(group)
        page.get_by_label(f"Spørgeskema {index + 1}", exact=True).select_option("trivsel-console@1")
    page.get_by_label("Åbner").fill((today - dt.timedelta(days=9)).isoformat())
    page.get_by_label("Lukker").fill((today + dt.timedelta(days=5)).isoformat())
    page.get_by_role("button", name="Opret runden").click()
    page.get_by_role("button", name="Åbn runden").click()
    assert "Runden er åben" in page.locator(".flash").inner_text()
    round_url = page.url
    round_id = int(round_url.rstrip("/").rsplit("/", 1)[1])

    # A bad file: every bad row flagged, nothing stored.
    page.get_by_role("link", name="Upload liste").first.click()
    bad = tmp_path / "liste-med-fejl.csv"
    bad.write_text(people_csv(bad=True), encoding="utf-8")
    page.get_by_label("Fil").set_input_files(str(bad))
    page.get_by_role("button", name="Vis forhåndsvisning").click()
    expect(page.locator("#preview-errors")).to_be_visible()   # waits for the preview page
    assert sorted(page.locator("tr.bad").evaluate_all("rows => rows.map(r => r.dataset.line)")) == ["4", "9"]
    page.screenshot(path=str(output_dir / "console-preview-errors.png"), full_page=True)
    check_axe(page, "preview with errors")
    assert db.execute("SELECT COUNT(*) FROM invitations").fetchone()[0] == 0

    # The corrected file: preview, then confirm.
    page.get_by_role("link", name="Upload en rettet fil").click()
    good = tmp_path / "liste.csv"
    good.write_text(people_csv(bad=False), encoding="utf-8")
    page.get_by_label("Fil").set_input_files(str(good))
    page.get_by_role("button", name="Vis forhåndsvisning").click()
    assert "18 respondenter er klar" in page.locator("#preview-ok").inner_text()
    assert db.execute("SELECT COUNT(*) FROM invitations").fetchone()[0] == 0
    check_axe(page, "preview")
    page.get_by_role("button", name="Bekræft og tilføj 18 respondenter").click()
    assert "18 respondenter er føjet til listen" in page.locator(".flash").inner_text()
    assert page.locator("#respondents tbody tr").count() == 18

    # p18 has left the job (ineligible: stays on the list, gets no mail); p17 was put on by mistake.
    page.get_by_role("link", name="Ret, uegnet, fjern p18").click()
    page.get_by_label("Årsag").select_option("fratrådt")
    page.get_by_role("button", name="Markér som uegnet").click()
    assert "p18 er markeret uegnet" in page.locator(".flash").inner_text()
    page.get_by_role("link", name="Ret, uegnet, fjern p17").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Fjern p17").click()
    assert "p17 er fjernet fra listen" in page.locator(".flash").inner_text()
    assert page.locator("#respondents tbody tr").count() == 17

    # Dry run, then send.
    page.get_by_role("link", name="Send mails").click()
    page.get_by_role("button", name="Vis hvem der får mail (prøvekørsel)").click()
    assert "Prøvekørsel: 16 ville få mail" in page.locator("#send-result").inner_text()
    assert smtp.messages == []
    check_axe(page, "dry run")
    page.once("dialog", lambda dialog: dialog.dismiss())  # "Send mails nu?" - no: nothing happens
    page.get_by_role("button", name="Send nu").click()
    page.wait_for_load_state()
    assert "Prøvekørsel: 16 ville få mail" in page.locator("#send-result").inner_text()
    assert page.locator("#sent-count").count() == 0 and smtp.messages == []
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Send nu").click()
    assert page.locator("#sent-count").inner_text() == "16"
    assert len(smtp.messages) == 16
    assert {m["To"].addresses[0].addr_spec for m in smtp.messages}.isdisjoint({"p17@vejle.example", "p18@vejle.example"})
    page.get_by_role("button", name="Send nu").click()  # again: nobody gets it twice
    assert page.locator("#sent-count").inner_text() == "0" and page.locator("#skipped-count").inner_text() == "17"
    assert len(smtp.messages) == 16

    # One person answers through the link in their mail, in the browser.
    mail_to_p01 = next(m for m in smtp.messages if m["To"].addresses[0].addr_spec == "p01@horsens.example")
    link = helpers.link_in(mail_to_p01)
    assert link.startswith(base)
    page.goto(link)
    page.locator("#item-q1").get_by_label("I høj grad").check()
    page.locator("#item-q2").get_by_label("I nogen grad").check()
    page.get_by_role("button", name=re.compile("^Næste")).click()
    page.get_by_role("button", name="Indsend").click()
    assert page.locator("h1").inner_text().endswith("Tak for dine svar")

    # Others answered over the past days (through the services, dated back).
    secret = console_site["secret"]
    answered = {"p02": 8, "p03": 7, "p04": 7, "p05": 5, "p09": 8, "p10": 6, "p11": 4, "p12": 2, "p13": 3, "p14": 1}
    for key, days_ago in answered.items():
        token = helpers.token_for(secret, db, round_id, key)
        response = responses.start_response(db, secret, token, tokens.find_invitation(db, secret, token))
        responses.save_page(db, response, 0, {"q1": "3", "q2": "2" if key != "p13" else ""})
        if key != "p13":
            responses.submit(db, response)
        stamp = f"{(today - dt.timedelta(days=days_ago)).isoformat()}T10:00:00+00:00"
        db.execute("UPDATE responses SET last_saved_at = ?, submitted_at = CASE WHEN status = 'complete' THEN ? END WHERE id = ?",
                   (stamp, stamp, response["id"]))

    page.goto(round_url)
    assert page.locator("#kpi-invited").inner_text() == "17"     # p17 removed; p18 ineligible still counts
    assert page.locator("#kpi-complete").inner_text() == "10"  # p01 in the browser + 9 submitted
    assert page.locator("#kpi-partial").inner_text() == "1"    # p13: 1 of 2 items = the 50 % threshold
    assert page.locator("#kpi-rate").inner_text() == "64,7 %"  # 11 / 17
    assert page.locator("#rates tr.lagging").count() >= 1
    assert page.locator("#bar-chart rect.bar").count() == 6
    assert page.locator("#daily-chart circle").count() == 10   # opening day to today
    page.screenshot(path=str(output_dir / "console-dashboard.png"), full_page=True)
    check_axe(page, "dashboard")

    page.goto(f"{base}/console/rounds/{round_id}/respondents")
    assert page.locator("#respondents .mail-status").first.inner_text().startswith("sendt")
    page.screenshot(path=str(output_dir / "console-respondents.png"), full_page=True)
    check_axe(page, "respondents")
    page.goto(f"{base}/console/rounds/{round_id}/templates")
    check_axe(page, "templates")
    page.goto(f"{base}/console/audit")
    audit_text = page.locator("#audit").inner_text()
    for action in ("round.created", "round.opened", "respondents.imported", "mail.invitations_sent"):
        assert action in audit_text
    assert "chef" in audit_text
    check_axe(page, "audit log")
