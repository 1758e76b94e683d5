"""The /cases pages with the Flask client: the work list per unit, unit-lead access limits,
opening and closing families, registering a measurement on a person's behalf (mode and the
date it refers to), and a self-completion link e-mailed through a real SMTP server."""
from __future__ import annotations

import re
import shutil

import pytest
from aiosmtpd.controller import Controller

from surveyapp import cases, create_app, users
from surveyapp.db import connect, migrate
from surveyapp.schedule import SCHEDULE_DIR
from loopback import free_port

TODAY = "2024-08-10"


class Collector:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"




@pytest.fixture
def smtp():
    collector = Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, collector
    controller.stop()


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """Families and accounts built once (password hashing is slow on purpose); each test copies it."""
    path = tmp_path_factory.mktemp("cases-web") / "template.db"
    db = connect(path)
    migrate(db)
    cases.load_schedule(db, SCHEDULE_DIR / "familie-progression.yaml", actor="test")
    cases.open_case(db, "fp", "F1", "Aarhus", "2024-01-10")
    cases.add_member(db, "F1", "F1-1", "forael", "1980-03-03", name="Mette Hansen", email="mette@example.org")
    cases.add_member(db, "F1", "F1-2", "barn", "2010-06-15", name="Ida Hansen")
    cases.open_case(db, "fp", "F2", "Odense", "2024-01-20")
    cases.add_member(db, "F2", "F2-1", "forael", "1975-01-01", name="Bo Berg")
    users.create_user(db, "aarhus", "aarhus-pass-123", "unit_lead", ["Aarhus"])
    users.create_user(db, "evaluator", "evaluator-pass-1", "evaluator")
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.conn.close()
    return path


@pytest.fixture
def site(template, db_path, secret, smtp):
    shutil.copy(template, db_path)
    controller, collector = smtp
    app = create_app({"DATABASE": str(db_path), "TESTING": True, "WTF_CSRF_ENABLED": False, "SECRET_KEY": secret,
                      "SMTP_HOST": "127.0.0.1", "SMTP_PORT": controller.port, "SMTP_TLS": "none",
                      "MAIL_FROM": "familie@example.org", "BASE_URL": "http://testserver"})
    return app, collector


def client_for(app, username, password):
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 302, response.data[:500]
    return client


def member_id(db_path, key):
    db = connect(db_path)
    try:
        return db.execute("SELECT m.id FROM case_members m JOIN people p ON p.id = m.person_id WHERE p.key = ?", (key,)).fetchone()[0]
    finally:
        db.conn.close()


def rows_of(html):
    return re.findall(r'data-member="([^"]+)" data-slot="([^"]+)" data-state="([^"]+)"', html)


def test_login_required(site):
    app, _ = site
    response = app.test_client().get("/cases/")
    assert response.status_code == 302 and "/login" in response.location


def test_worklist_shows_due_and_overdue_for_the_leads_unit_only(site):
    app, _ = site
    client = client_for(app, "aarhus", "aarhus-pass-123")
    html = client.get(f"/cases/?today={TODAY}").get_data(as_text=True)
    rows = rows_of(html)
    # Intake 10.1.2024: baseline window closed 9.2 (overdue); M1 window 26.6-9.8 -> overdue on 10.8.
    assert sorted(rows) == [("F1-1", "M1", "overdue"), ("F1-1", "baseline", "overdue"),
                            ("F1-2", "M1", "overdue"), ("F1-2", "baseline", "overdue")]
    assert "F2-1" not in html and "Odense" not in html
    # The state filters count every state, not only the ones shown: 4 overdue, and each member's
    # next upcoming measurement (M2, window from 27.12.2024).
    counts = dict(re.findall(r'id="state-(\w+)".*?\((\d+)\)</label>', html))
    assert counts == {"overdue": "4", "due": "0", "upcoming": "2", "done": "0"}
    due = rows_of(client.get("/cases/?today=2024-08-09&state=due").get_data(as_text=True))
    assert sorted(due) == [("F1-1", "M1", "due"), ("F1-2", "M1", "due")]
    assert client.get("/cases/?unit=Odense").status_code == 403
    odense_case = connect(app.config["DATABASE"]).execute("SELECT id FROM cases WHERE key = 'F2'").fetchone()[0]
    assert client.get(f"/cases/families/{odense_case}").status_code == 403


def test_evaluator_sees_tables_not_the_worklist(site):
    app, _ = site
    client = client_for(app, "evaluator", "evaluator-pass-1")
    to_tables = client.get("/cases/")
    assert to_tables.status_code == 302 and to_tables.location.endswith("/cases/counts")
    assert client.get("/cases/families").status_code == 403
    page = client.get("/cases/counts?cutoff=2024-06-30&denominator=asked")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Skæringsdato 30.6.2024" in html and "dem, der blev bedt om målingen" in html


def test_register_on_behalf_with_mode_and_reference_date(site, db_path):
    app, _ = site
    client = client_for(app, "aarhus", "aarhus-pass-123")
    child = member_id(db_path, "F1-2")
    form_page = client.get(f"/cases/members/{child}/register/M1?questionnaire=trivsel-unge&date=2024-06-14")
    html = form_page.get_data(as_text=True)
    assert form_page.status_code == 200
    # 13 years old on 14.6.2024: the leisure-job question is not on the form.
    assert 'name="trivsel_humoer"' in html and 'name="fritidsjob"' not in html
    data = {"questionnaire": "trivsel-unge", "reference_date": "2024-06-14", "trivsel_humoer": "4", "trivsel_hjemme": "3",
            "trivsel_skole": "5", "trivsel_venner": "9", "trivsel_overskud": "2"}
    # Without a mode nothing is stored and every value comes back.
    again = client.post(f"/cases/members/{child}/register/M1", data=data)
    assert again.status_code == 400
    text = again.get_data(as_text=True)
    assert "Målingen er ikke gemt" in text and 'id="trivsel_skole-5" name="trivsel_skole" value="5" checked' in text
    db = connect(db_path)
    assert db.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 0
    done = client.post(f"/cases/members/{child}/register/M1", data={**data, "mode": "phone"})
    assert done.status_code == 302
    row = db.execute("SELECT r.* FROM responses r JOIN measurements ms ON ms.response_id = r.id WHERE ms.member_id = ?",
                     (child,)).fetchone()
    assert (row["status"], row["registration_mode"], row["reference_date"], row["registered_by"]) == \
        ("complete", "phone", "2024-06-14", "aarhus")
    assert row["submitted_at"][:4] != "2024"   # entered now, refers to June 2024
    rows = rows_of(client.get(f"/cases/?today={TODAY}&state=done&state=overdue").get_data(as_text=True))
    assert ("F1-2", "M1", "done") in rows and ("F1-2", "M1", "overdue") not in rows


def test_register_refuses_a_wrong_instrument_with_a_clear_message(site, db_path):
    app, _ = site
    client = client_for(app, "aarhus", "aarhus-pass-123")
    child = member_id(db_path, "F1-2")
    answers = {f"who5_{i}": "3" for i in range(1, 6)}
    page = client.post(f"/cases/members/{child}/register/M1",
                       data={"questionnaire": "who5", "reference_date": "2024-07-01", "mode": "in_person", **answers})
    assert page.status_code == 400
    assert "answers trivsel-unge at M1, not who5" in page.get_data(as_text=True)


def test_open_family_add_member_and_close_it(site, db_path):
    app, _ = site
    client = client_for(app, "aarhus", "aarhus-pass-123")
    created = client.post("/cases/families", data={"key": "F9", "unit": "Aarhus", "opened_on": "2024-03-01"})
    assert created.status_code == 302
    case_id = int(created.location.rstrip("/").split("/")[-1])
    assert client.post("/cases/families", data={"key": "F10", "unit": "Odense", "opened_on": "2024-03-01"}).status_code == 403
    added = client.post(f"/cases/families/{case_id}/members", data={"key": "F9-1", "role": "barn", "birth_date": "2012-02-29"})
    assert added.status_code == 302
    bad = client.post(f"/cases/families/{case_id}/members", data={"key": "F9-2", "role": "onkel", "birth_date": "2012-02-29"})
    assert bad.status_code == 400 and "role must be one of barn, forael" in bad.get_data(as_text=True)
    closed = client.post(f"/cases/families/{case_id}/close", data={"closed_on": "2024-05-01", "reason": "flyttet"})
    assert closed.status_code == 302
    db = connect(db_path)
    assert db.execute("SELECT closed_on FROM case_members m JOIN people p ON p.id = m.person_id WHERE p.key = 'F9-1'").fetchone()[0] == "2024-05-01"
    page = client.get(f"/cases/families/{case_id}").get_data(as_text=True)
    assert 'id="family-closed"' in page and "Genåbn familien" in page and 'id="add-member"' not in page


def test_self_completion_link_is_emailed_and_opens_the_questions(site, db_path):
    app, collector = site
    client = client_for(app, "aarhus", "aarhus-pass-123")
    parent = member_id(db_path, "F1-1")
    page = client.post(f"/cases/members/{parent}/link/M1", data={"send": "1"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="link-sent"' in html
    assert len(collector.messages) == 1
    message = collector.messages[0]
    assert message.rcpt_tos == ["mette@example.org"]
    body = message.content.decode()
    urls = re.findall(r"http://testserver/s/[A-Za-z0-9_-]+", body)
    assert len(urls) == 2   # WHO-5 and the parents' stress scale
    db = connect(db_path)
    rows = db.execute("SELECT r.registration_mode, r.registered_by, ms.link_sent_at FROM measurements ms "
                      "JOIN responses r ON r.id = ms.response_id WHERE ms.member_id = ?", (parent,)).fetchall()
    assert [(r[0], r[1]) for r in rows] == [("self_completion", "aarhus")] * 2 and all(r[2] for r in rows)
    answer_page = app.test_client().get(urls[0].replace("http://testserver", ""), follow_redirects=True)
    assert answer_page.status_code == 200
    assert "I de sidste 2 uger har jeg været glad og i godt humør" in answer_page.get_data(as_text=True)


def test_link_without_email_is_a_clear_error(site, db_path):
    app, collector = site
    client = client_for(app, "aarhus", "aarhus-pass-123")
    child = member_id(db_path, "F1-2")
    page = client.post(f"/cases/members/{child}/link/M1", data={"send": "1"})
    assert page.status_code == 400 and "has no e-mail address" in page.get_data(as_text=True)
    shown = client.post(f"/cases/members/{child}/link/M1")
    assert shown.status_code == 200 and "/s/" in shown.get_data(as_text=True)
    assert collector.messages == []


def test_link_page_names_the_items_not_asked(site, db_path):
    app, _ = site
    db = connect(db_path)
    cases.add_member(db, "F1", "F1-3", "barn", "2023-06-01")   # under 14 (the leisure-job age) until 2037
    db.conn.close()
    client = client_for(app, "aarhus", "aarhus-pass-123")
    html = client.post(f"/cases/members/{member_id(db_path, 'F1-3')}/link/M1").get_data(as_text=True)
    assert "Måleplanen spørger ikke personen om fritidsjob; siden viser ikke spørgsmålet." in html


def test_counts_page_figure_and_csv(site, db_path, secret):
    app, _ = site
    db = connect(db_path)
    db.execute("UPDATE projects SET min_n = 1 WHERE id = 'fp'")
    answers = {f"who5_{i}": "2" for i in range(1, 6)}
    cases.register_measurement(db, secret, "F1-1", "M1", "who5", answers, "phone", "2024-07-10", "anna")
    cases.register_measurement(db, secret, "F1-1", "M2", "who5", {**answers, "who5_5": "4"}, "phone", "2025-01-10", "anna")
    db.conn.close()
    client = client_for(app, "evaluator", "evaluator-pass-1")
    html = client.get("/cases/counts?today=2025-02-01").get_data(as_text=True)
    assert 'id="paired-who5"' in html and 'id="item-fritidsjob"' in html
    png = client.get("/cases/figures/paired-who5.png?today=2025-02-01")
    assert png.status_code == 200 and png.mimetype == "image/png" and png.data[:8] == b"\x89PNG\r\n\x1a\n"
    csv_text = client.get("/cases/figures/paired-who5.csv?today=2025-02-01").get_data(as_text=True)
    assert csv_text.splitlines() == ["pair,M1,M2", "1,40.0,48.0"]   # 2x5x4 = 40; (2x4+4)x4 = 48
    assert client.get("/cases/figures/paired-nope.png").status_code == 404


def test_evaluator_sees_no_family_pages(site, db_path):
    app, _ = site
    client = client_for(app, "evaluator", "evaluator-pass-1")
    case_id = connect(db_path).execute("SELECT id FROM cases WHERE key = 'F1'").fetchone()[0]
    assert client.get(f"/cases/families/{case_id}").status_code == 403
    assert client.post(f"/cases/families/{case_id}/close", data={"closed_on": "2024-05-01"}).status_code == 403


def test_mail_server_down_is_a_clear_error_and_nothing_marked_sent(site, db_path, secret):
    app, _ = site
    app.config["SMTP_PORT"] = free_port()   # nothing listens there
    client = client_for(app, "aarhus", "aarhus-pass-123")
    parent = member_id(db_path, "F1-1")
    page = client.post(f"/cases/members/{parent}/link/M1", data={"send": "1"})
    assert page.status_code == 400
    assert "could not be e-mailed to mette@example.org" in page.get_data(as_text=True)
    assert connect(db_path).execute("SELECT COUNT(*) FROM measurements WHERE link_sent_at IS NOT NULL").fetchone()[0] == 0


def test_families_page_shows_consistency_problems(site, db_path):
    app, _ = site
    db = connect(db_path)
    db.execute("DROP TRIGGER cases_close_members")
    db.execute("UPDATE cases SET closed_on = '2024-04-01' WHERE key = 'F1'")   # written around the service
    db.conn.close()
    client = client_for(app, "aarhus", "aarhus-pass-123")
    html = client.get("/cases/families").get_data(as_text=True)
    assert 'id="consistency"' in html and "member F1-2 is open in family F1, closed on 2024-04-01" in html


def test_register_form_warns_about_the_wrong_instrument_for_the_date(site, db_path):
    app, _ = site
    client = client_for(app, "aarhus", "aarhus-pass-123")
    child = member_id(db_path, "F1-2")
    html = client.get(f"/cases/members/{child}/register/M1?questionnaire=who5&date=2024-07-01").get_data(as_text=True)
    assert "F1-2 er 14 år på 2024-07-01 og skal have trivsel-unge ved M1, ikke who5" in html
    fine = client.get(f"/cases/members/{child}/register/M1?questionnaire=trivsel-unge&date=2024-07-01").get_data(as_text=True)
    assert 'id="form-error"' not in fine and 'name="fritidsjob"' in fine   # 14: the leisure-job question is asked
