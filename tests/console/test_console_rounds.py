"""Creating, changing, opening and closing rounds in the console (every change audited)."""
from __future__ import annotations

import json

from surveyapp import rounds

from console_helpers import round_id_of


def test_create_round_with_a_questionnaire_per_group(cdb, as_user):
    admin = as_user("boss")
    form = {"name": "September 2015", "project": "proj", "group_0": "ledere", "questionnaire_0": "console-test@1",
            "group_1": "medarbejdere", "questionnaire_1": "console-test@1", "opens": "2015-09-01", "closes": "2015-09-25",
            "partial_threshold": "60", "allow_edit": "1"}
    response = admin.post("/console/rounds/new", data=form)
    assert response.status_code == 302
    created = rounds.get_round(cdb, "September 2015")
    assert response.headers["Location"].endswith(f"/console/rounds/{created['id']}")
    assert (created["status"], created["opens"], created["closes"], created["partial_threshold"]) == (
        "draft", "2015-09-01", "2015-09-25", 0.6)
    assert (created["anonymous"], created["allow_edit_after_submit"]) == (0, 1)
    groups = rounds.round_questionnaires(cdb, created["id"])
    assert {g: (v["questionnaire"], v["version"]) for g, v in groups.items()} == {
        "ledere": ("console-test", 1), "medarbejdere": ("console-test", 1)}
    entry = cdb.execute("SELECT actor, round_id FROM audit_log WHERE action = 'round.created' ORDER BY id DESC").fetchone()
    assert (entry["actor"], entry["round_id"]) == ("boss", created["id"])


def test_bad_round_forms_store_nothing_and_say_why(cdb, as_user):
    admin = as_user("boss")
    before = cdb.execute("SELECT COUNT(*) FROM rounds").fetchone()[0]
    base = {"name": "Forkert", "project": "proj", "group_0": "ledere", "questionnaire_0": "console-test@1"}
    cases = [
        ({**base, "opens": "2015-09-25", "closes": "2015-09-01"}, "runden lukker, før den åbner"),
        ({**base, "group_1": "ledere", "questionnaire_1": "console-test@1"}, "gruppen &#39;ledere&#39; står to gange"),
        ({**base, "partial_threshold": "150"}, "tærsklen skal være over 0 og højst 100 procent"),
        ({**base, "partial_threshold": "halvdelen"}, "Tærsklen for gyldige delvise besvarelser skal være et tal"),
        ({**base, "questionnaire_0": ""}, "vælg mindst ét spørgeskema"),
        ({**base, "name": "Marts 2015"}, "har allerede en runde med navnet"),
    ]
    for form, message in cases:
        response = admin.post("/console/rounds/new", data=form)
        assert response.status_code == 400, form
        assert message in response.get_data(as_text=True), message
    assert cdb.execute("SELECT COUNT(*) FROM rounds").fetchone()[0] == before


def test_settings_open_and_close_are_audited(cdb, as_user):
    admin = as_user("boss")
    round_id = round_id_of(cdb)
    response = admin.post(f"/console/rounds/{round_id}/settings",
                          data={"name": "Marts 2015", "opens": "2015-03-02", "closes": "2015-04-10", "partial_threshold": "40"})
    assert response.status_code == 302
    changed = rounds.get_round(cdb, round_id)
    assert (changed["closes"], changed["partial_threshold"]) == ("2015-04-10", 0.4)
    assert admin.post(f"/console/rounds/{round_id}/status", data={"action": "close"}).status_code == 302
    assert rounds.get_round(cdb, round_id)["status"] == "closed"
    assert admin.post(f"/console/rounds/{round_id}/status", data={"action": "open"}).status_code == 302
    assert rounds.get_round(cdb, round_id)["status"] == "open"
    entries = [(r["action"], r["actor"], json.loads(r["details"])) for r in cdb.query(
        "SELECT action, actor, details FROM audit_log WHERE round_id = ? AND actor = 'boss' ORDER BY id", [round_id])]
    assert [(a, who) for a, who, _ in entries] == [("round.updated", "boss"), ("round.closed", "boss"), ("round.opened", "boss")]
    assert entries[0][2]["closes"] == "2015-04-10" and entries[0][2]["partial_threshold"] == 0.4
    page = admin.get("/console/audit").get_data(as_text=True)
    assert page.index("round.opened") < page.index("round.closed") < page.index("round.updated")  # newest first
