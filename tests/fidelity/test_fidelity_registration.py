"""One response per unit per round: a second registration is refused with a clear message until an
admin reopens the first (audited); the database itself refuses a second response row for the unit."""
from __future__ import annotations

import re
import sqlite3

import pytest

from surveyapp import audit, fidelity, respondents, responses, rounds, tokens, users
from surveyapp.errors import Conflict, SurveyError


def test_start_registration_records_who_and_the_dialogue(db, secret, fid_project):
    started = fidelity.start_registration(db, secret, "R1", "Nord", "Mette Hansen", "Kerneteamet: leder og rådgiver",
                                          project="fid", actor="mette")
    response = responses.get_response(db, started["response_id"])
    assert response["unit"] == "Nord" and response["registered_by"] == "Mette Hansen"
    assert response["participants"] == "Kerneteamet: leder og rådgiver" and response["registration_mode"] == "in_person"
    # The token is the unit's one invitation on the list (key = unit name).
    invitation = tokens.find_invitation(db, secret, started["token"])
    assert invitation["unit"] == "Nord" and invitation["round_id"] == fid_project[0]
    assert len([r for r in respondents.list_respondents(db, "R1") if r["unit"] == "Nord"]) == 1
    entry = audit.entries(db, fid_project[0])[0]
    assert entry["action"] == "fidelity.registration_started" and entry["actor"] == "mette"


def test_second_registration_refused_until_admin_reopens(db, secret, fid_project, register_unit):
    register_unit("R1", "Syd", {"a1": "4", "a2": "3"}, by="Første Person")
    with pytest.raises(Conflict) as refused:
        fidelity.start_registration(db, secret, "R1", "Syd", "Anden Person", project="fid")
    message = str(refused.value)
    assert "Syd har allerede en besvarelse i runden 'R1'" in message
    assert "registreret af Første Person" in message and "administrator genåbner" in message
    # Nothing changed: still one response, still registered by the first person, still complete.
    rows = db.execute("SELECT * FROM responses WHERE round_id = ? AND unit = 'Syd'", (fid_project[0],)).fetchall()
    assert len(rows) == 1 and rows[0]["registered_by"] == "Første Person" and rows[0]["status"] == "complete"

    with pytest.raises(SurveyError, match="reason"):
        fidelity.reopen_registration(db, "R1", "Syd", "  ", actor="admin")
    fidelity.reopen_registration(db, "R1", "Syd", "Forkert kommune valgt", actor="admin")
    entry = next(e for e in audit.entries(db, fid_project[0]) if e["action"] == "fidelity.response_reopened")
    assert entry["actor"] == "admin" and entry["details"]["unit"] == "Syd"
    assert entry["details"]["reason"] == "Forkert kommune valgt"
    assert entry["details"]["previous_registered_by"] == "Første Person"
    reopened = db.execute("SELECT status, submitted_at, registered_by FROM responses WHERE unit = 'Syd'").fetchone()
    assert tuple(reopened) == ("started", None, None)
    reopening = db.execute("SELECT * FROM unit_reopenings").fetchone()
    assert reopening["reopened_by"] == "admin" and reopening["previous_submitted_at"] is not None

    again = fidelity.start_registration(db, secret, "R1", "Syd", "Anden Person", project="fid")
    assert again["resumed"] is True and again["previous_registered_by"] == "Første Person"
    response = responses.get_response(db, again["response_id"])
    assert response["status"] == "started" and response["registered_by"] == "Anden Person"
    # The answers were kept for the new registration to start from.
    q = responses.questionnaire_of(db, response)
    assert responses.load_answers(db, response["id"], q) == {"a1": 4, "a2": 3}
    responses.submit(db, response)
    with pytest.raises(Conflict):
        fidelity.start_registration(db, secret, "R1", "Syd", "Tredje Person", project="fid")
    assert fidelity.registrations(db, "R1", ["Syd"])[0]["reopened"] == 1


def test_registrations_lists_each_unit_with_its_own_response_and_reopenings(db, secret, fid_project, register_unit):
    register_unit("R1", "Nord", {"a1": "4"}, by="Anna", participants="Team Nord")
    register_unit("R1", "Syd", {"a1": "3"}, by="Bo")
    fidelity.reopen_registration(db, "R1", "Syd", "Forkert", actor="admin")
    register_unit("R1", "Vest", {"a1": "2"}, by="Carl", submit=False)
    register_unit("R2", "Øst", {"a1": "5"}, by="Dorte")  # another round: not listed under R1
    rows = fidelity.registrations(db, "R1")
    summary = [(r["round"], r["unit"], r["status"], r["registered_by"], r["participants"], r["reopened"]) for r in rows]
    assert summary == [("R1", "Nord", "complete", "Anna", "Team Nord", 0),
                       ("R1", "Syd", "started", None, None, 1),
                       ("R1", "Vest", "started", "Carl", None, 0),
                       ("R1", "Øst", "not_started", None, None, 0)]
    assert rows[0]["submitted_at"] is not None and rows[1]["submitted_at"] is None and rows[3]["submitted_at"] is None
    assert [r["unit"] for r in fidelity.registrations(db, "R1", ["Syd", "Øst"])] == ["Syd", "Øst"]


def test_reopen_needs_a_submitted_response(db, secret, fid_project):
    with pytest.raises(SurveyError, match="no response"):
        fidelity.reopen_registration(db, "R1", "Nord", "test", actor="admin")
    fidelity.start_registration(db, secret, "R1", "Nord", "X", project="fid")
    with pytest.raises(Conflict, match="not submitted"):
        fidelity.reopen_registration(db, "R1", "Nord", "test", actor="admin")


def test_an_unfinished_registration_is_resumed_not_duplicated(db, secret, fid_project):
    first = fidelity.start_registration(db, secret, "R1", "Vest", "A", project="fid")
    second = fidelity.start_registration(db, secret, "R1", "Vest", "B", project="fid")
    assert second["response_id"] == first["response_id"] and second["resumed"] is True
    assert db.execute("SELECT COUNT(*) FROM responses WHERE unit = 'Vest'").fetchone()[0] == 1


def test_database_refuses_a_second_response_for_the_unit(db, secret, fid_project):
    fidelity.start_registration(db, secret, "R1", "Nord", "A", project="fid")
    # A second list entry for the same unit (another key) must not open a second response.
    round_ = rounds.get_round(db, "R1")
    from surveyapp.db import transaction

    with transaction(db):
        other = respondents.add_invitation(db, round_, {"key": "nord-2", "unit": "Nord"}, secret)
    token = tokens.make_token(secret, other)
    with pytest.raises(sqlite3.IntegrityError, match="already has a response"):
        responses.start_response(db, secret, token, tokens.find_invitation(db, secret, token))
    assert db.execute("SELECT COUNT(*) FROM responses WHERE unit = 'Nord'").fetchone()[0] == 1


def test_only_unit_rounds_and_open_rounds(db, secret, fid_project, minimal_yaml):
    from surveyapp import questionnaire_store

    questionnaire_store.load(db, minimal_yaml)
    rounds.create_round(db, "Selv", {"": "demo-fidelity"}, "fid")
    with pytest.raises(SurveyError, match="not answered on units' behalf"):
        fidelity.start_registration(db, secret, "Selv", "Nord", "A", project="fid")
    rounds.close_round(db, "R3")
    with pytest.raises(Conflict, match="ikke åben"):
        fidelity.start_registration(db, secret, "R3", "Nord", "A", project="fid")
    with pytest.raises(SurveyError, match="who registers"):
        fidelity.start_registration(db, secret, "R1", "Nord", " ", project="fid")


# ---------------------------------------------------------------- the console


def _login(client, username, password):
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 302


@pytest.fixture
def accounts(db):
    users.create_user(db, "admin", "admin-password-1", "admin")
    users.create_user(db, "lead", "lead-password-1", "unit_lead", ["Nord"])
    users.create_user(db, "eva", "eva-password-12", "evaluator")


def test_console_registration_redirects_to_the_answer_pages(client, db, fid_project, accounts):
    _login(client, "lead", "lead-password-1")
    page = client.get("/fidelity/fid/register")
    assert page.status_code == 200 and 'name="registered_by"' in page.get_data(as_text=True)
    response = client.post("/fidelity/fid/register", data={"round": "R1", "unit": "Nord", "registered_by": "Lene Lead",
                                                           "participants": "Kerneteamet", "mode": "in_person"})
    assert response.status_code == 302 and re.match(r"^/s/[A-Za-z0-9_-]{40,}$", response.headers["Location"])
    row = db.execute("SELECT registered_by, participants FROM responses WHERE unit = 'Nord'").fetchone()
    assert tuple(row) == ("Lene Lead", "Kerneteamet")
    # A unit lead may not register for a unit that is not theirs.
    assert client.post("/fidelity/fid/register", data={"round": "R1", "unit": "Syd", "registered_by": "X"}).status_code == 403


def test_console_refuses_double_registration_and_only_admin_reopens(client, db, fid_project, accounts, register_unit):
    register_unit("R1", "Nord", {"a1": "5"}, by="Første")
    _login(client, "lead", "lead-password-1")
    refused = client.post("/fidelity/fid/register", data={"round": "R1", "unit": "Nord", "registered_by": "Anden"})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 409
    assert "Nord har allerede en besvarelse" in text and "Kontakt en administrator" in text
    assert 'action="/fidelity/fid/reopen"' not in text  # no reopen form for a unit lead
    assert client.post("/fidelity/fid/reopen", data={"round": "R1", "unit": "Nord", "reason": "x"}).status_code == 403
    assert db.execute("SELECT status FROM responses WHERE unit = 'Nord'").fetchone()[0] == "complete"
    client.post("/logout")

    _login(client, "admin", "admin-password-1")
    refused = client.post("/fidelity/fid/register", data={"round": "R1", "unit": "Nord", "registered_by": "Anden"})
    assert refused.status_code == 409 and 'action="/fidelity/fid/reopen"' in refused.get_data(as_text=True)
    no_reason = client.post("/fidelity/fid/reopen", data={"round": "R1", "unit": "Nord", "reason": ""}, follow_redirects=True)
    assert "blev ikke genåbnet" in no_reason.get_data(as_text=True)
    done = client.post("/fidelity/fid/reopen", data={"round": "R1", "unit": "Nord", "reason": "Tastefejl"}, follow_redirects=True)
    assert "genåbnet" in done.get_data(as_text=True)
    entry = next(e for e in audit.entries(db) if e["action"] == "fidelity.response_reopened")
    assert entry["actor"] == "admin" and entry["details"]["reason"] == "Tastefejl"
    again = client.post("/fidelity/fid/register", data={"round": "R1", "unit": "Nord", "registered_by": "Anden"})
    assert again.status_code == 302


def test_evaluator_reads_but_does_not_register(client, db, fid_project, accounts):
    _login(client, "eva", "eva-password-12")
    assert client.get("/fidelity/").status_code == 200
    assert client.get("/fidelity/fid/register").status_code == 403
    assert client.post("/fidelity/fid/register", data={"round": "R1", "unit": "Nord", "registered_by": "E"}).status_code == 403


def test_anonymous_is_sent_to_login(client, fid_project):
    response = client.get("/fidelity/fid/overview")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_add_units_skips_units_already_on_the_list(db, secret, fid_project):
    # Nord is on the list already, blanks are ignored, and " Ny " and "Ny" are one new unit.
    assert fidelity.add_units(db, "R1", ["Nord", " Ny ", "", "Ny"], secret)["added"] == 1
    units = [r["unit"] for r in respondents.list_respondents(db, "R1")]
    assert sorted(units) == ["Nord", "Ny", "Syd", "Vest", "Øst"]
    assert fidelity.ensure_unit_invitation(db, rounds.get_round(db, "R1"), "Ny", secret) == \
        next(r["id"] for r in respondents.list_respondents(db, "R1") if r["unit"] == "Ny")
    assert next(e for e in audit.entries(db, fid_project[0]) if e["action"] == "fidelity.units_added")["details"]["added"] == 1
    with pytest.raises(SurveyError, match="name the unit"):
        fidelity.ensure_unit_invitation(db, rounds.get_round(db, "R1"), "  ", secret)
