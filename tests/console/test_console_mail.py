"""Invitations and reminders through a real SMTP server (aiosmtpd on loopback): delivered
messages are read back, their links opened, and the sending rules checked."""
from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from surveyapp import mail, respondents, responses, tokens
from surveyapp.cli import main
from surveyapp.db import connect
from surveyapp.errors import Conflict, SurveyError

from console_helpers import SECRET, body_of, invitation_id, link_in, round_id_of, smtp_settings, token_for

NOW = dt.datetime.now(dt.timezone.utc)


def send(db, server, kind="invitation", at=None, **options):
    return mail.send(db, round_id_of(db), kind, smtp_settings(server), SECRET, actor="tester", at=at, **options)


def mail_rows(db) -> list[tuple]:
    return [tuple(r) for r in db.execute(
        "SELECT p.key, m.kind, m.step, m.status FROM mails m JOIN invitations i ON i.id = m.invitation_id "
        "JOIN people p ON p.id = i.person_id ORDER BY p.key, m.kind, m.step")]


def complete(db, key: str) -> None:
    token = token_for(SECRET, db, round_id_of(db), key)
    invitation = tokens.find_invitation(db, SECRET, token)
    response = responses.start_response(db, SECRET, token, invitation)
    responses.save_page(db, response, 0, {"q1": "3", "q2": "4"})
    responses.save_page(db, response, 1, {"q3": "2", "q4": "9"})
    responses.submit(db, response)


def start_partially(db, key: str) -> None:
    token = token_for(SECRET, db, round_id_of(db), key)
    invitation = tokens.find_invitation(db, SECRET, token)
    response = responses.start_response(db, SECRET, token, invitation)
    responses.save_page(db, response, 0, {"q1": "3", "q2": "4"})


def test_invitations_arrive_once_and_each_link_opens_the_right_questionnaire(cdb, smtp_server, console_app):
    result = send(cdb, smtp_server)
    assert (result["sent"], result["skipped"], result["failed"]) == (5, 0, 0)
    assert sorted(smtp_server.recipients()) == sorted(
        ["anne@horsens.example", "bo@horsens.example", "carl@horsens.example", "dorte@kolding.example", "eva@kolding.example"])
    client = console_app.test_client()
    round_id = round_id_of(cdb)
    for message in smtp_server.messages:
        assert message["Subject"] == "Spørgeskema: Marts 2015"
        assert message["From"] == "Projektledelsen <survey@example.dk>"
        address = message["To"].addresses[0].addr_spec
        key = cdb.execute("SELECT key FROM people WHERE email = ?", (address,)).fetchone()[0]
        name = cdb.execute("SELECT name FROM people WHERE email = ?", (address,)).fetchone()[0]
        assert body_of(message).startswith(f"Kære {name}\n")
        link = link_in(message)
        assert link.startswith("http://testserver/s/")
        token = urlsplit(link).path.rsplit("/", 1)[1]
        invitation = tokens.find_invitation(cdb, SECRET, token)
        assert invitation is not None and invitation["id"] == invitation_id(cdb, round_id, key)
        page = client.get(urlsplit(link).path, follow_redirects=True)
        assert page.status_code == 200
        assert "Trivsel i arbejdet" in page.get_data(as_text=True)  # the round's questionnaire
    assert all(status == "sent" for *_, status in mail_rows(cdb))
    # Running it again mails nobody: everyone already has this step.
    again = send(cdb, smtp_server)
    assert (again["sent"], again["skipped"], again["failed"]) == (0, 5, 0)
    assert len(smtp_server.messages) == 5
    assert len(mail_rows(cdb)) == 5
    entry = next(e for e in cdb.query("SELECT * FROM audit_log WHERE action = 'mail.invitations_sent'"))
    assert entry["actor"] == "tester" and '"sent": 5' in entry["details"]


def days_pass(db, days: float) -> None:
    """Time passes: every stored mail becomes `days` older."""
    for row in list(db.query("SELECT id, at FROM mails")):
        older = dt.datetime.fromisoformat(row["at"]) - dt.timedelta(days=days)
        db.execute("UPDATE mails SET at = ? WHERE id = ?", (older.isoformat(), row["id"]))


def test_reminder_rules_min_days_max_count_not_completed_not_ineligible_or_removed(cdb, smtp_server):
    round_id = round_id_of(cdb)
    send(cdb, smtp_server)
    assert len(smtp_server.messages) == 5
    complete(cdb, "hor-1")                    # completed: never reminded
    start_partially(cdb, "hor-2")             # started, not submitted: reminded
    respondents.mark_ineligible(cdb, invitation_id(cdb, round_id, "kol-1"), "fratrådt", actor="tester")
    respondents.remove_respondent(cdb, invitation_id(cdb, round_id, "kol-2"), actor="tester")
    # hor-3 never opened the link: reminded.

    # Two days later is too soon (minimum 3 days since the last mail).
    days_pass(cdb, 2)
    early = send(cdb, smtp_server, "reminder", min_days=3, max_reminders=2)
    assert early["sent"] == 0 and len(smtp_server.messages) == 5
    reasons = {d["key"]: d["reason"] for d in early["skipped_rows"]}
    assert reasons["hor-1"] == "has completed"
    assert reasons["kol-1"].startswith("ineligible")
    assert "kol-2" not in reasons  # removed from the list: not considered at all
    assert "minimum 3" in reasons["hor-3"]

    days_pass(cdb, 1.1)
    first = send(cdb, smtp_server, "reminder", min_days=3, max_reminders=2)
    assert (first["sent"], first["failed"]) == (2, 0)
    reminded = sorted(smtp_server.recipients()[5:])
    assert reminded == ["bo@horsens.example", "carl@horsens.example"]
    assert all(m["Subject"] == "Påmindelse: Marts 2015" for m in smtp_server.messages[5:])
    # The reminder carries the same working link as the invitation.
    for message in smtp_server.messages[5:]:
        token = urlsplit(link_in(message)).path.rsplit("/", 1)[1]
        assert tokens.find_invitation(cdb, SECRET, token)["id"] in (invitation_id(cdb, round_id, "hor-2"),
                                                                    invitation_id(cdb, round_id, "hor-3"))

    # Run again at once: nobody is mailed twice; the days count from the reminder just sent.
    repeat = send(cdb, smtp_server, "reminder", min_days=3, max_reminders=2)
    assert repeat["sent"] == 0 and len(smtp_server.messages) == 7
    days_pass(cdb, 2.9)
    assert send(cdb, smtp_server, "reminder", min_days=3, max_reminders=2)["sent"] == 0
    days_pass(cdb, 0.2)
    second = send(cdb, smtp_server, "reminder", min_days=3, max_reminders=2)
    assert second["sent"] == 2 and len(smtp_server.messages) == 9
    # hor-3 completes now; the maximum of 2 reminders stops hor-2.
    complete(cdb, "hor-3")
    days_pass(cdb, 20)
    third = send(cdb, smtp_server, "reminder", min_days=3, max_reminders=2)
    assert third["sent"] == 0 and len(smtp_server.messages) == 9
    reasons = {d["key"]: d["reason"] for d in third["skipped_rows"]}
    assert reasons["hor-2"] == "reminded 2 time(s) already (max 2)"
    assert reasons["hor-3"] == "has completed"
    # A higher maximum allows a third reminder, to hor-2 only.
    fourth = send(cdb, smtp_server, "reminder", min_days=3, max_reminders=3)
    assert fourth["sent"] == 1 and smtp_server.recipients()[-1] == "bo@horsens.example"
    assert [r for r in mail_rows(cdb) if r[0] == "hor-2"] == [
        ("hor-2", "invitation", 0, "sent"), ("hor-2", "reminder", 1, "sent"), ("hor-2", "reminder", 2, "sent"),
        ("hor-2", "reminder", 3, "sent")]
    assert [r for r in mail_rows(cdb) if r[0] in ("hor-1", "kol-1", "kol-2")] == [
        ("hor-1", "invitation", 0, "sent"), ("kol-1", "invitation", 0, "sent"), ("kol-2", "invitation", 0, "sent")]


def test_reminders_need_a_sent_invitation(cdb, smtp_server):
    days_pass(cdb, 10)
    result = send(cdb, smtp_server, "reminder")
    assert result["sent"] == 0 and smtp_server.messages == []
    assert {d["reason"] for d in result["skipped_rows"]} == {"no invitation sent yet"}


def test_dry_run_sends_and_stores_nothing(cdb, smtp_server):
    result = send(cdb, smtp_server, dry_run=True)
    assert sorted(d["key"] for d in result["would_send"]) == ["hor-1", "hor-2", "hor-3", "kol-1", "kol-2"]
    assert result["sent"] == 0 and smtp_server.messages == [] and mail_rows(cdb) == []
    assert not cdb.execute("SELECT 1 FROM audit_log WHERE action LIKE 'mail.%'").fetchone()


def test_refused_recipient_is_logged_as_failed_with_the_reason_and_retried_next_run(cdb, smtp_server):
    round_id = round_id_of(cdb)
    respondents.update_respondent(cdb, invitation_id(cdb, round_id, "hor-3"), actor="tester", email="refuse-me@horsens.example")
    result = send(cdb, smtp_server)
    assert (result["sent"], result["failed"]) == (4, 1)
    row = cdb.execute("SELECT m.status, m.error FROM mails m WHERE invitation_id = ?",
                      (invitation_id(cdb, round_id, "hor-3"),)).fetchone()
    assert row["status"] == "failed" and "550" in row["error"] and "mailbox unavailable" in row["error"]
    log = {r["key"]: r for r in mail.send_log(cdb, round_id)}
    assert log["hor-3"]["invitation_status"] == "failed" and "550" in log["hor-3"]["invitation_error"]
    assert log["hor-1"]["invitation_status"] == "sent"
    # The address is corrected; the next run sends the failed one only.
    respondents.update_respondent(cdb, invitation_id(cdb, round_id, "hor-3"), actor="tester", email="carl@horsens.example")
    again = send(cdb, smtp_server)
    assert (again["sent"], again["skipped"], again["failed"]) == (1, 4, 0)
    assert smtp_server.recipients().count("carl@horsens.example") == 1
    assert len(smtp_server.messages) == 5


def test_a_refused_reminder_does_not_count_towards_the_maximum_and_is_retried_as_the_same_step(cdb, smtp_server):
    round_id = round_id_of(cdb)
    send(cdb, smtp_server)
    assert len(smtp_server.messages) == 5
    # hor-3's address starts refusing after the invitation went out: the reminder fails.
    respondents.update_respondent(cdb, invitation_id(cdb, round_id, "hor-3"), actor="tester", email="refuse-me@horsens.example")
    days_pass(cdb, 4)
    first = send(cdb, smtp_server, "reminder", min_days=3, max_reminders=1)
    assert (first["sent"], first["failed"]) == (4, 1) and len(smtp_server.messages) == 9
    # Fixed address, next run (same maximum of 1): the failed attempt used up nothing, so hor-3
    # still gets its one reminder, as step 1, and nobody else is mailed again.
    respondents.update_respondent(cdb, invitation_id(cdb, round_id, "hor-3"), actor="tester", email="carl@horsens.example")
    again = send(cdb, smtp_server, "reminder", min_days=3, max_reminders=1)
    assert again["sent"] == 1 and smtp_server.recipients()[-1] == "carl@horsens.example"
    assert [r for r in mail_rows(cdb) if r[0] == "hor-3" and r[3] == "sent"] == [
        ("hor-3", "invitation", 0, "sent"), ("hor-3", "reminder", 1, "sent")]
    # And now the maximum is reached for everyone.
    days_pass(cdb, 10)
    assert send(cdb, smtp_server, "reminder", min_days=3, max_reminders=1)["sent"] == 0


def test_unreachable_server_fails_every_mail_with_the_reason_and_leaves_nothing_sending(cdb, smtp_server):
    settings = {**smtp_settings(smtp_server), "SMTP_PORT": 1}  # nothing listens on port 1
    result = mail.send(cdb, round_id_of(cdb), "invitation", settings, SECRET, actor="tester")
    assert (result["sent"], result["failed"]) == (0, 5)
    rows = list(cdb.query("SELECT status, error FROM mails"))
    assert len(rows) == 5 and {r["status"] for r in rows} == {"failed"}
    assert all("could not connect to SMTP server 127.0.0.1:1" in r["error"] for r in rows)


def test_a_mail_interrupted_while_sending_is_never_sent_again_automatically(cdb, smtp_server, as_user):
    round_id = round_id_of(cdb)
    inv = invitation_id(cdb, round_id, "hor-1")
    # A crash after the 'sending' row was committed and before the result was stored.
    mail_id = cdb.execute("INSERT INTO mails (invitation_id, kind, step, status, at) VALUES (?, 'invitation', 0, 'sending', ?)",
                          (inv, NOW.isoformat())).lastrowid
    result = send(cdb, smtp_server)
    assert result["sent"] == 4 and result["uncertain"] == 1
    assert "anne@horsens.example" not in smtp_server.recipients()
    page = as_user("boss").get(f"/console/rounds/{round_id}/respondents").get_data(as_text=True)
    assert "uvist (afsendelsen blev afbrudt)" in page
    # An administrator decides it never arrived: the next run sends it.
    response = as_user("boss").post(f"/console/rounds/{round_id}/mails/{mail_id}/resolve", data={"delivered": "no"})
    assert response.status_code == 302
    again = send(cdb, smtp_server)
    assert again["sent"] == 1 and smtp_server.recipients()[-1] == "anne@horsens.example"


def test_sending_needs_an_open_round(cdb, smtp_server):
    from surveyapp import rounds

    rounds.close_round(cdb, round_id_of(cdb), actor="tester")
    with pytest.raises(Conflict):
        send(cdb, smtp_server)
    assert smtp_server.messages == []


def test_templates_are_checked_and_used(cdb, smtp_server, as_user):
    round_id = round_id_of(cdb)
    admin = as_user("boss")
    bad = admin.post(f"/console/rounds/{round_id}/templates",
                     data={"kind": "invitation", "subject": "Hej", "body": "Hej {name}, svar venligst {lnk}"})
    assert bad.status_code == 400 and "{lnk}" in bad.get_data(as_text=True)
    no_link = admin.post(f"/console/rounds/{round_id}/templates", data={"kind": "invitation", "subject": "Hej", "body": "Hej {name}"})
    assert no_link.status_code == 400
    assert not cdb.execute("SELECT 1 FROM mail_templates").fetchone()
    ok = admin.post(f"/console/rounds/{round_id}/templates",
                    data={"kind": "invitation", "subject": "Din mening om {round}",
                          "body": "Hej {name}\r\n\r\nKlik her: {link}\r\n\r\nHilsen Horsens"})
    assert ok.status_code == 302
    send(cdb, smtp_server)
    message = next(m for m in smtp_server.messages if m["To"].addresses[0].addr_spec == "bo@horsens.example")
    assert message["Subject"] == "Din mening om Marts 2015"
    body = body_of(message)
    assert body.startswith("Hej Bo Berg\n\nKlik her: http://testserver/s/") and body.rstrip().endswith("Hilsen Horsens")
    with pytest.raises(SurveyError):
        mail.check_template("Hej", "{link.__class__}")


def test_console_send_page_dry_run_then_send_for_a_unit_lead_only_their_units(cdb, smtp_server, as_user):
    round_id = round_id_of(cdb)
    lead = as_user("lead")
    preview = lead.post(f"/console/rounds/{round_id}/send", data={"kind": "invitation", "action": "preview"})
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "Prøvekørsel: 3 ville få mail" in text
    assert "kol-1" not in text and smtp_server.messages == [] and mail_rows(cdb) == []
    sent = lead.post(f"/console/rounds/{round_id}/send", data={"kind": "invitation", "action": "send"})
    assert sent.status_code == 200
    assert sorted(smtp_server.recipients()) == ["anne@horsens.example", "bo@horsens.example", "carl@horsens.example"]
    assert 'id="sent-count">3<' in sent.get_data(as_text=True)
    log = lead.get(f"/console/rounds/{round_id}/respondents").get_data(as_text=True)
    assert log.count("påmindet 0 gange") == 3 and "sendt " in log
    assert cdb.execute("SELECT actor FROM audit_log WHERE action = 'mail.invitations_sent'").fetchone()[0] == "lead"


def test_console_send_page_gives_the_reasons_for_skipping_in_danish(cdb, smtp_server, as_user):
    """The services word their reasons in English for the CLI; the console shows them in Danish."""
    round_id = round_id_of(cdb)
    send(cdb, smtp_server)
    complete(cdb, "hor-1")
    respondents.mark_ineligible(cdb, invitation_id(cdb, round_id, "kol-1"), "fratrådt", actor="tester")
    days_pass(cdb, 2)
    page = as_user("boss").post(f"/console/rounds/{round_id}/send", data={"kind": "reminder", "action": "preview"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "hor-1: har svaret" in text
    assert "hor-3: seneste mail for 2,0 dag(e) siden (mindst 3)" in text
    assert "kol-1: uegnet (fratrådt)" in text
    for english in ("has completed", "day(s) ago", "ineligible", "minimum"):
        assert english not in text


def test_cli_sends_invitations_and_reminders_for_cron(console_db_path, smtp_server, monkeypatch):
    monkeypatch.setenv("SURVEYAPP_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SURVEYAPP_SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("SURVEYAPP_SMTP_TLS", "none")
    monkeypatch.setenv("SURVEYAPP_MAIL_FROM", "survey@example.dk")
    monkeypatch.setenv("SURVEYAPP_BASE_URL", "https://survey.example.dk")
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, ["--db", str(console_db_path), *args], catch_exceptions=False)

    dry = run("invitations", "send", "Marts 2015", "--dry-run")
    assert dry.exit_code == 0 and "would send 5, skipped 0, failed 0" in dry.stdout and smtp_server.messages == []
    first = run("invitations", "send", "Marts 2015")
    assert first.exit_code == 0 and first.stdout.strip().endswith("sent 5, skipped 0, failed 0")
    assert all(link_in(m).startswith("https://survey.example.dk/s/") for m in smtp_server.messages)
    second = run("invitations", "send", "Marts 2015")
    assert second.stdout.strip().endswith("sent 0, skipped 5, failed 0") and len(smtp_server.messages) == 5
    reminders = run("reminders", "send", "Marts 2015", "--min-days", "0", "--max", "1")
    assert reminders.stdout.strip().endswith("sent 5, skipped 0, failed 0")
    again = run("reminders", "send", "Marts 2015", "--min-days", "0", "--max", "1")
    assert again.stdout.strip().endswith("sent 0, skipped 5, failed 0") and len(smtp_server.messages) == 10
    log = run("invitations", "log", "Marts 2015", "--format", "json")
    import json

    rows = json.loads(log.stdout)
    assert {r["reminders"] for r in rows} == {1} and {r["invitation"] for r in rows} == {"sent"}
    audit = run("audit", "--round", "Marts 2015", "--format", "json")
    actions = [e["action"] for e in json.loads(audit.stdout)]
    assert actions.count("mail.invitations_sent") == 1 and actions.count("mail.reminders_sent") == 1
    monkeypatch.setenv("SURVEYAPP_SMTP_PORT", "1")
    db = connect(console_db_path)
    respondents.add_respondent(db, "Marts 2015", {"key": "hor-9", "email": "ny@horsens.example", "group": "ledere",
                                                  "unit": "Horsens"}, SECRET, actor="tester")
    db.conn.close()
    failing = runner.invoke(main, ["--db", str(console_db_path), "invitations", "send", "Marts 2015"])
    assert failing.exit_code == 1 and "sent 0, skipped 5, failed 1" in failing.stdout
    assert "could not connect" in failing.stderr


@pytest.mark.parametrize("tls,reason", [("ssl", "(ssl)"), ("starttls", "(starttls)")])
def test_tls_settings_reach_the_server_and_a_failed_handshake_is_recorded(cdb, smtp_server, tls, reason):
    # The loopback server speaks plain SMTP only: implicit TLS and STARTTLS both fail, and say so.
    settings = {**smtp_settings(smtp_server), "SMTP_TLS": tls}
    result = mail.send(cdb, round_id_of(cdb), "invitation", settings, SECRET, actor="tester")
    assert (result["sent"], result["failed"]) == (0, 5) and smtp_server.messages == []
    errors = {r["error"] for r in cdb.query("SELECT error FROM mails")}
    assert len(errors) == 1 and f"127.0.0.1:{smtp_server.port} {reason}" in errors.pop()


def test_unknown_tls_setting_is_refused_before_anything_is_claimed(cdb, smtp_server):
    with pytest.raises(SurveyError, match="none, starttls or ssl"):
        mail.send(cdb, round_id_of(cdb), "invitation", {**smtp_settings(smtp_server), "SMTP_TLS": "tls"}, SECRET)
    assert mail_rows(cdb) == []


def test_english_speaking_respondents_get_the_english_default_text(cdb, smtp_server):
    round_id = round_id_of(cdb)
    respondents.update_respondent(cdb, invitation_id(cdb, round_id, "kol-2"), actor="tester", language="en")
    send(cdb, smtp_server)
    by_address = {m["To"].addresses[0].addr_spec: m for m in smtp_server.messages}
    english, danish = by_address["eva@kolding.example"], by_address["dorte@kolding.example"]
    assert english["Subject"] == "Questionnaire: Marts 2015"
    assert body_of(english).startswith("Dear Eva Fisk\n") and "closes on 27 March 2015" in body_of(english)
    assert danish["Subject"] == "Spørgeskema: Marts 2015" and "lukker den 27. marts 2015" in body_of(danish)
    token = urlsplit(link_in(english)).path.rsplit("/", 1)[1]
    assert tokens.find_invitation(cdb, SECRET, token)["id"] == invitation_id(cdb, round_id, "kol-2")


def run_at_the_same_time(console_db_path, smtp_server, monkeypatch, runs: int = 3) -> list[dict]:
    """`runs` sends in threads that all finish planning before any of them claims a mail, so
    every run decides to send to the same people and only the claim can stop the duplicates."""
    import threading

    barrier = threading.Barrier(runs, timeout=30)
    real_plan = mail.plan

    def plan_then_wait(*args, **kwargs):
        decisions = real_plan(*args, **kwargs)
        barrier.wait()
        return decisions

    monkeypatch.setattr(mail, "plan", plan_then_wait)
    results, errors = [], []

    def run():
        db = connect(console_db_path)
        try:
            results.append(mail.send(db, "Marts 2015", "invitation", smtp_settings(smtp_server), SECRET, actor="cron"))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            db.conn.close()

    threads = [threading.Thread(target=run) for _ in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and len(results) == runs
    return results


def test_two_runs_at_the_same_time_mail_each_person_once(cdb, console_db_path, smtp_server, monkeypatch):
    results = run_at_the_same_time(console_db_path, smtp_server, monkeypatch)
    assert sum(r["sent"] for r in results) == 5 and sum(r["failed"] for r in results) == 0
    assert sorted(smtp_server.recipients()) == sorted(set(smtp_server.recipients())) and len(smtp_server.messages) == 5
    assert len(mail_rows(cdb)) == 5


def test_runs_at_the_same_time_retry_a_failed_mail_once(cdb, console_db_path, smtp_server, monkeypatch):
    round_id = round_id_of(cdb)
    respondents.update_respondent(cdb, invitation_id(cdb, round_id, "hor-3"), actor="tester", email="refuse-me@horsens.example")
    assert send(cdb, smtp_server)["failed"] == 1
    respondents.update_respondent(cdb, invitation_id(cdb, round_id, "hor-3"), actor="tester", email="carl@horsens.example")
    results = run_at_the_same_time(console_db_path, smtp_server, monkeypatch)
    assert sum(r["sent"] for r in results) == 1
    assert smtp_server.recipients().count("carl@horsens.example") == 1 and len(smtp_server.messages) == 5


def test_an_unknown_kind_of_mail_is_refused_everywhere(cdb):
    round_id = round_id_of(cdb)
    for call in (lambda: mail.get_template(cdb, round_id, "letter"),
                 lambda: mail.save_template(cdb, round_id, "letter", "Hej", "{link}"),
                 lambda: mail.plan(cdb, round_id, "letter")):
        with pytest.raises(SurveyError, match="kind must be invitation or reminder, not 'letter'"):
            call()
    assert not cdb.execute("SELECT 1 FROM mail_templates").fetchone()
