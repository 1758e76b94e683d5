"""Case rules (closing a family closes its members; no member open in a closed family: in the
service, in the database triggers, and in the consistency check) and registration on a
person's behalf (routing, hidden items, reference date kept apart from entry time, nothing
stored on a problem)."""
from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from surveyapp import cases
from surveyapp.errors import Conflict, SurveyError
from surveyapp.responses import PageInvalid

from cases_helpers import trivsel, who5


@pytest.fixture
def family(loaded):
    db = loaded
    cases.open_case(db, "fp", "F1", "Aarhus", "2024-01-10")
    cases.add_member(db, "F1", "F1-1", "forael", "1980-03-03", name="Mette")
    cases.add_member(db, "F1", "F1-2", "barn", "2010-06-15")
    cases.add_member(db, "F1", "F1-3", "barn", "2006-05-10", intake_on="2024-02-01")
    return db


def open_members(db):
    return [r["key"] for r in db.query(
        "SELECT p.key FROM case_members m JOIN people p ON p.id = m.person_id WHERE m.closed_on IS NULL ORDER BY p.key")]


def test_closing_a_family_closes_its_members(family):
    db = family
    cases.close_member(db, "F1-1", "2024-03-01")
    result = cases.close_case(db, "F1", "2024-05-01", "flyttet")
    assert result["members_closed"] == 2
    closed = {r["key"]: r["closed_on"] for r in db.query(
        "SELECT p.key, m.closed_on FROM case_members m JOIN people p ON p.id = m.person_id")}
    assert closed == {"F1-1": "2024-03-01", "F1-2": "2024-05-01", "F1-3": "2024-05-01"}
    assert cases.consistency_problems(db) == []


def test_no_member_can_be_open_in_a_closed_family(family):
    db = family
    cases.close_case(db, "F1", "2024-05-01")
    with pytest.raises(Conflict, match="closed family"):
        cases.reopen_member(db, "F1-2")
    with pytest.raises(Conflict, match="closed"):
        cases.add_member(db, "F1", "F1-4", "barn", "2012-01-01")
    assert open_members(db) == []
    # Reopening the family does not reopen its members; they are reopened one by one.
    cases.reopen_case(db, "F1")
    assert open_members(db) == []
    cases.reopen_member(db, "F1-2")
    assert open_members(db) == ["F1-2"]


def test_a_member_id_from_the_web_is_never_read_as_a_key(family):
    db = family
    first = db.execute("SELECT m.id FROM case_members m JOIN people p ON p.id = m.person_id WHERE p.key = 'F1-1'").fetchone()["id"]
    # Another project has a person whose key is that id's digits (keys are free text).
    cases.open_case(db, "other", "G1", "Odense", "2024-01-10")
    cases.add_member(db, "G1", str(first), "forael", "1970-01-01")
    assert cases.get_member(db, first)["key"] == "F1-1"            # an int (a route's <int:member_id>) is an id
    assert cases.get_member(db, str(first))["key"] == str(first)   # text (the CLI) is a key first
    closed = cases.close_member(db, first, "2024-03-01")
    assert (closed["key"], closed["closed_on"]) == ("F1-1", "2024-03-01")
    assert cases.reopen_member(db, first)["key"] == "F1-1"
    assert "F1-1" in open_members(db) and str(first) in open_members(db)


def test_close_dates_are_checked(family):
    db = family
    with pytest.raises(SurveyError, match="before it opened"):
        cases.close_case(db, "F1", "2024-01-09")
    with pytest.raises(SurveyError, match="F1-3 joined on 2024-02-01"):
        cases.close_case(db, "F1", "2024-01-20")
    with pytest.raises(SurveyError, match=r"member 'F1-3' cannot close \(2024-01-31\) before intake \(2024-02-01\)"):
        cases.close_member(db, "F1-3", "2024-01-31")
    assert open_members(db) == ["F1-1", "F1-2", "F1-3"]
    cases.close_member(db, "F1-3", "2024-02-01")              # on the intake day itself
    with pytest.raises(Conflict, match="member 'F1-3' was already closed on 2024-02-01"):
        cases.close_member(db, "F1-3", "2024-03-01")


def test_database_triggers_refuse_an_open_member_in_a_closed_family(family):
    db = family
    cases.close_case(db, "F1", "2024-05-01")
    with pytest.raises(sqlite3.IntegrityError, match="cannot be open in a closed family"):
        db.execute("UPDATE case_members SET closed_on = NULL WHERE id = 1")
    case_id = cases.get_case(db, "F1")["id"]
    person = db.execute("INSERT INTO people (project_id, key) VALUES ('fp', 'X')").lastrowid
    with pytest.raises(sqlite3.IntegrityError, match="cannot be open in a closed family"):
        db.execute("INSERT INTO case_members (case_id, person_id, role, birth_date, intake_on, created_at) "
                   "VALUES (?, ?, 'barn', '2010-01-01', '2024-01-10', 'x')", (case_id, person))


def test_trigger_closes_members_when_a_family_is_closed_around_the_service(family):
    db = family
    db.execute("UPDATE cases SET closed_on = '2024-04-01' WHERE key = 'F1'")
    assert open_members(db) == []
    assert cases.consistency_problems(db) == []


def test_consistency_check_finds_what_another_writer_left(family):
    db = family
    # A database written without the triggers (e.g. restored from an older tool's export).
    for name in ("case_members_reopen_in_closed_case", "cases_close_members"):
        db.execute(f"DROP TRIGGER {name}")
    db.execute("UPDATE cases SET closed_on = '2024-04-01' WHERE key = 'F1'")
    db.execute("UPDATE case_members SET closed_on = '2024-06-01' WHERE id = 1")
    problems = cases.consistency_problems(db)
    assert [p["member"] for p in problems] == ["F1-1", "F1-2", "F1-3"]
    assert problems[0]["problem"] == "member F1-1 closed on 2024-06-01, after family F1 closed on 2024-04-01"
    assert problems[1]["problem"] == "member F1-2 is open in family F1, closed on 2024-04-01"
    # Per project: another project's family with the same key has none of them.
    cases.open_case(db, "other", "F1", "Aarhus", "2024-01-10")
    assert cases.consistency_problems(db, "other") == []
    assert cases.consistency_problems(db, "fp") == problems

    from click.testing import CliRunner

    from surveyapp.cli import main
    result = CliRunner().invoke(main, ["--db", str(db.conn.execute("PRAGMA database_list").fetchone()[2]), "cases", "check"])
    assert result.exit_code == 1 and "F1-2" in result.output


# ---------------------------------------------------------------- registration


def response_of(db, key, slot, qid):
    return db.execute(
        "SELECT r.* FROM measurements ms JOIN case_members m ON m.id = ms.member_id JOIN people p ON p.id = m.person_id "
        "JOIN responses r ON r.id = ms.response_id WHERE p.key = ? AND ms.slot = ? AND ms.questionnaire_id = ?",
        (key, slot, qid)).fetchone()


def test_register_on_behalf_keeps_mode_and_reference_date_apart_from_entry_time(family, secret):
    db = family
    before = dt.datetime.now(dt.timezone.utc).date().isoformat()   # stamps are UTC, whatever the machine's zone
    response = cases.register_measurement(db, secret, "F1-1", "M1", "who5", who5(5, 4, 3, 2, 1), "phone", "2024-07-12", "anna")
    after = dt.datetime.now(dt.timezone.utc).date().isoformat()
    assert response["status"] == "complete"
    assert (response["registration_mode"], response["reference_date"], response["registered_by"]) == ("phone", "2024-07-12", "anna")
    assert response["submitted_at"][:10] in (before, after)   # entered today, refers to July 2024
    answers = dict(db.execute("SELECT item_id, value_num FROM answers WHERE response_id = ?", (response["id"],)).fetchall())
    assert answers == {"who5_1": 5, "who5_2": 4, "who5_3": 3, "who5_4": 2, "who5_5": 1}
    # The standing round is an ordinary citizen round: one invitation per member and slot.
    round_ = db.execute("SELECT * FROM rounds WHERE id = ?", (response["round_id"],)).fetchone()
    assert (round_["answered_by"], round_["status"], round_["name"]) == ("citizen", "open", "familie-progression M1 who5")
    with pytest.raises(Conflict, match="already has a completed who5 at M1"):
        cases.register_measurement(db, secret, "F1-1", "M1", "who5", who5(1, 1, 1, 1, 1), "phone", "2024-07-13", "anna")


def test_routing_is_checked_on_the_reference_date(family, secret):
    db = family
    # F1-3 is born 10.5.2006: 17 on 9.5.2024 (youth index), 18 on 10.5.2024 (WHO-5).
    with pytest.raises(SurveyError, match=r"17 år on 2024-05-09\) answers trivsel-unge at M1, not who5"):
        cases.register_measurement(db, secret, "F1-3", "M1", "who5", who5(3, 3, 3, 3, 3), "in_person", "2024-05-09", "anna")
    cases.register_measurement(db, secret, "F1-3", "M1", "who5", who5(3, 3, 3, 3, 3), "in_person", "2024-05-10", "anna")
    assert response_of(db, "F1-3", "M1", "who5")["reference_date"] == "2024-05-10"


def test_item_hidden_by_age_is_refused_and_nothing_stored(family, secret):
    db = family
    # F1-2 born 15.6.2010 is 13 on 14.6.2024: the leisure-job question is not asked.
    with pytest.raises(PageInvalid) as info:
        cases.register_measurement(db, secret, "F1-2", "M1", "trivsel-unge", trivsel(4, 4, 4, 4, 4, fritidsjob=1),
                                   "in_person", "2024-06-14", "anna")
    assert list(info.value.errors) == ["fritidsjob"]
    assert db.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 0
    # On the 14th birthday it is asked.
    response = cases.register_measurement(db, secret, "F1-2", "M1", "trivsel-unge", trivsel(4, 4, 4, 4, 4, fritidsjob=1),
                                          "in_person", "2024-06-15", "anna")
    stored = dict(db.execute("SELECT item_id, value_num FROM answers WHERE response_id = ?", (response["id"],)).fetchall())
    assert stored["fritidsjob"] == 1


def test_invalid_answer_stores_nothing(family, secret):
    db = family
    answers = {f"pss_{n:02d}": "3" for n in range(1, 19)}
    answers["pss_17"] = "7"    # not a code of the scale, on the second page
    with pytest.raises(PageInvalid) as info:
        cases.register_measurement(db, secret, "F1-1", "baseline", "foraeldrestress", answers, "in_person", "2024-01-12", "anna")
    assert list(info.value.errors) == ["pss_17"]
    assert db.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM responses WHERE status = 'complete'").fetchone()[0] == 0


@pytest.mark.parametrize("mode, date, message", [
    ("fax", "2024-07-12", "mode must be one of"),
    ("phone", "2024-13-01", "is not a date"),
    ("phone", "", "is missing"),
    ("phone", "2024-01-09", "before F1-1's intake on 2024-01-10"),
    ("phone", (dt.date.today() + dt.timedelta(days=1)).isoformat(), "is in the future"),
])
def test_bad_registration_details(family, secret, mode, date, message):
    with pytest.raises(SurveyError, match=message):
        cases.register_measurement(family, secret, "F1-1", "M1", "who5", who5(3, 3, 3, 3, 3), mode, date, "anna")


def test_no_answers_no_measurement(family, secret):
    with pytest.raises(SurveyError, match="no answers"):
        cases.register_measurement(family, secret, "F1-1", "M1", "who5", {}, "phone", "2024-07-12", "anna")


def test_an_unknown_measurement_is_a_clear_error_and_stores_nothing(family, secret):
    db = family
    expected = "measurement must be one of baseline, M1, M2, M3, not 'M9'"
    with pytest.raises(SurveyError, match=expected):
        cases.register_measurement(db, secret, "F1-1", "M9", "who5", who5(3, 3, 3, 3, 3), "phone", "2024-07-12", "anna")
    with pytest.raises(SurveyError, match=expected):
        cases.self_completion_link(db, secret, "http://testserver", "F1-1", "M9", "anna", today=dt.date(2024, 7, 12))
    assert db.execute("SELECT COUNT(*) FROM measurements").fetchone()[0] == 0


def test_no_measurement_after_the_member_closed(family, secret):
    db = family
    cases.close_member(db, "F1-1", "2024-06-30")
    with pytest.raises(Conflict, match="closed on 2024-06-30"):
        cases.register_measurement(db, secret, "F1-1", "M1", "who5", who5(3, 3, 3, 3, 3), "phone", "2024-07-01", "anna")
    # A late entry of a measurement taken before the close is still accepted.
    cases.register_measurement(db, secret, "F1-1", "M1", "who5", who5(3, 3, 3, 3, 3), "phone", "2024-06-30", "anna")


def test_worklist_states_on_hand_worked_dates(family, secret):
    db = family
    # Intake 10.1.2024: M1 target 10.7.2024, window 26.6.-9.8.2024. F1-3 intake 1.2.2024: M1 window 18.7.-31.8.
    cases.register_measurement(db, secret, "F1-1", "baseline", "who5", who5(3, 3, 3, 3, 3), "phone", "2024-01-12", "anna")
    cases.register_measurement(db, secret, "F1-1", "baseline", "foraeldrestress", {f"pss_{n:02d}": "3" for n in range(1, 19)},
                               "phone", "2024-01-12", "anna")
    rows = cases.worklist(db, "fp", today="2024-08-10")
    states = {(r["member"], r["slot"]): r["state"] for r in rows}
    assert states[("F1-1", "baseline")] == "done"
    assert states[("F1-2", "baseline")] == "overdue"       # window closed 9.2.2024
    assert states[("F1-1", "M1")] == "overdue"             # 10.8 is the day after the window
    assert states[("F1-3", "M1")] == "due"                 # own intake date: window until 31.8
    assert states[("F1-1", "M2")] == "upcoming" and ("F1-1", "M3") not in states   # only the next upcoming
    # Routing in the plan: F1-3 is 18 at the M1 target (1.8.2024) -> WHO-5.
    row = next(r for r in rows if (r["member"], r["slot"]) == ("F1-3", "M1"))
    assert row["instruments"] == ["who5"] and row["age"] == 18
    assert [r["state"] for r in rows][:3] == ["overdue", "overdue", "overdue"]
    assert cases.worklist(db, "fp", unit="Odense", today="2024-08-10") == []


def test_half_done_slot_is_not_done(family, secret):
    db = family
    cases.register_measurement(db, secret, "F1-1", "baseline", "who5", who5(3, 3, 3, 3, 3), "phone", "2024-01-12", "anna")
    (plan,) = [p for p in cases.member_plan(db, cases.get_member(db, "F1-1"), dt.date(2024, 1, 20)) if p["slot"] == "baseline"]
    assert plan["state"] == "due" and plan["progress"] == {"who5": "done", "foraeldrestress": "missing"}
