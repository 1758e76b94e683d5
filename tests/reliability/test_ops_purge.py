"""Retention: `surveyapp purge` deletes a round's personal data and keeps anonymous answers and
every aggregate (response rates by hand: 12 invited, 5 complete, 2 valid partial, 1 break-off)."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from reliability_support import make_round, person
from surveyapp import audit, responses as rs, tokens
from surveyapp.cli import main
from surveyapp.db import connect, transaction
from surveyapp.errors import Conflict, SurveyError
from surveyapp.purge import purge_round
from surveyapp.results import rate_rows
from surveyapp.rounds import close_round, get_round


def answer(db, secret, token, pages: int, submit: bool, anonymous: bool = False):
    invitation = tokens.find_invitation(db, secret, token)
    response = rs.start_response(db, secret, token, invitation)
    q = rs.questionnaire_of(db, response)
    for index, section in enumerate(q.sections[:pages]):
        form = {}
        for n, item in enumerate(section.items):
            if item.type == "scale":
                form[item.id] = str(1 + (index + n) % 5)
            elif item.type == "multiple":
                form[item.id] = ["1", "3"]
            else:
                form[item.id] = f"kommentar side {index}"
        rs.save_page(db, response, index, form)
    if submit:
        rs.submit(db, response, invitation_id=invitation["id"] if anonymous else None)


@pytest.fixture
def two_rounds(db, secret):
    """Round A (12 people, 30 days retention) with answers and mails; round B (open) shares 4 people."""
    people_a = [person(i, unit="Nordby" if i < 6 else "Sydby") for i in range(12)]
    a = make_round(db, secret, people_a, name="A", retention_days=30)
    b = make_round(db, secret, [person(i) for i in range(4)] + [person(50)], name="B")
    plan = {0: (5, True), 1: (5, True), 2: (5, True), 6: (5, True), 7: (5, True),  # complete
            3: (3, False), 8: (3, False),  # 18/30 answered: valid partial
            9: (1, False)}  # 6/30: break-off
    for i, (pages, submit) in plan.items():
        answer(db, secret, a["tokens"][f"emp{i:04d}"], pages, submit)
    answer(db, secret, b["tokens"]["emp0000"], 2, False)
    with transaction(db):
        for iid in list(a["invitations"].values()) + [b["invitations"]["emp0000"]]:
            db.execute("INSERT INTO mails (invitation_id, kind, step, status, error, at) VALUES (?, 'invitation', 0, 'failed', ?, ?)",
                       (iid, "550 no such user person@kommune.example", "2026-01-01T10:00:00+00:00"))
        audit.record(db, "lead", "respondent.removed", a["round_id"], key="emp0011", name="Medarbejder Nummer0011")
        audit.record(db, "lead", "round.updated", a["round_id"], closes="2026-02-01")
    close_round(db, a["round_id"])
    return a, b


def snapshot(db, round_id):
    rates = [r for r in rate_rows(db, [round_id], ("unit",))]
    answers = sorted(tuple(r) for r in db.execute(
        "SELECT r.unit, r.status, a.item_id, a.value_num, a.value_text FROM answers a JOIN responses r ON r.id = a.response_id "
        "WHERE r.round_id = ?", (round_id,)).fetchall())
    return rates, answers


def test_purge_keeps_aggregates_and_answers_and_deletes_people(db, db_path, secret, two_rounds):
    a, b = two_rounds
    rates_before, answers_before = snapshot(db, a["round_id"])
    total = next(r for r in rates_before if r["unit"] is None)
    # Hand-computed from the plan above.
    assert (total["invited"], total["started"], total["complete"], total["valid_partial"], total["responded"]) == (12, 8, 5, 2, 7)
    assert total["rate"] == pytest.approx(100 * 7 / 12, abs=0.01)
    assert len(answers_before) == 5 * 30 + 2 * 18 + 6

    summary = purge_round(db, a["round_id"], force=True)
    assert summary["people_deleted"] == 8 and summary["people_kept_for_other_rounds"] == 4
    assert summary["responses_unlinked"] == 8 and summary["answers_kept"] == len(answers_before)
    assert summary["wal_truncated"] is True

    rates_after, answers_after = snapshot(db, a["round_id"])
    assert rates_after == rates_before
    assert answers_after == answers_before

    # No response of round A points at anything personal any more.
    rows = db.execute("SELECT invitation_id, anonymous_key, registered_by, started_at, last_saved_at, submitted_at "
                      "FROM responses WHERE round_id = ?", (a["round_id"],)).fetchall()
    assert all(r["invitation_id"] is None and r["anonymous_key"] is None and r["registered_by"] is None for r in rows)
    assert all(len(r[k] or "") <= 10 for r in rows for k in ("started_at", "last_saved_at", "submitted_at"))
    assert all(len(r[0]) == 10 for r in db.execute(
        "SELECT saved_at FROM answers WHERE response_id IN (SELECT id FROM responses WHERE round_id = ?)", (a["round_id"],)))
    invitations = db.execute("SELECT person_id, attributes, token_hash, unit, started, completed FROM invitations "
                             "WHERE round_id = ?", (a["round_id"],)).fetchall()
    assert len(invitations) == 12
    assert all(r["person_id"] is None and r["attributes"] == "{}" and r["token_hash"].startswith("purged:") for r in invitations)
    assert sum(r["completed"] for r in invitations) == 5 and sum(r["started"] for r in invitations) == 8
    # Every link of the round is dead; round B's links still work.
    assert all(tokens.find_invitation(db, secret, t) is None for t in a["tokens"].values())
    assert tokens.find_invitation(db, secret, b["tokens"]["emp0000"]) is not None

    keys = {r["key"] for r in db.execute("SELECT key FROM people")}
    assert keys == {"emp0000", "emp0001", "emp0002", "emp0003", "emp0050"}
    mails = db.execute("SELECT invitation_id FROM mails").fetchall()
    assert [m[0] for m in mails] == [b["invitations"]["emp0000"]]
    details = [e["details"] for e in audit.entries(db, a["round_id"])]
    assert not any("emp0011" in json.dumps(d) for d in details)
    assert any(d.get("closes") == "2026-02-01" for d in details)  # entries naming nobody stay
    assert get_round(db, a["round_id"])["purged_at"]

    # The bytes of the database file (and its WAL) no longer hold the deleted people's data.
    db.conn.close()
    blob = db_path.read_bytes() + (db_path.with_name(db_path.name + "-wal").read_bytes()
                                   if db_path.with_name(db_path.name + "-wal").exists() else b"")
    for i in range(4, 12):
        for text in (f"Medarbejder Nummer{i:04d}", f"person{i:04d}@kommune.example", f"ATTR-SECRET-{i:04d}"):
            assert text.encode() not in blob, text
    assert b"Medarbejder Nummer0000" in blob  # still on round B's list


def test_anonymous_round_purge_keeps_rates(db, secret):
    a = make_round(db, secret, [person(i) for i in range(6)], name="Anonym", anonymous=True, retention_days=0)
    for i in range(3):
        answer(db, secret, a["tokens"][f"emp{i:04d}"], 5, True, anonymous=True)
    close_round(db, a["round_id"])
    before = rate_rows(db, [a["round_id"]])
    assert (before[0]["invited"], before[0]["complete"]) == (6, 3)
    purge_round(db, a["round_id"])  # retention 0 days: due at once
    assert rate_rows(db, [a["round_id"]]) == before
    assert db.execute("SELECT COUNT(*) FROM responses WHERE anonymous_key IS NOT NULL OR invitation_id IS NOT NULL").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM people").fetchone()[0] == 0


def test_purge_waits_for_the_retention_period(db, secret, two_rounds):
    a, b = two_rounds
    closed = dt.date.fromisoformat(get_round(db, a["round_id"])["closed_at"][:10])
    with pytest.raises(SurveyError, match=(closed + dt.timedelta(days=30)).isoformat()):
        purge_round(db, a["round_id"], today=closed + dt.timedelta(days=29))
    assert db.execute("SELECT COUNT(*) FROM people").fetchone()[0] == 13
    with pytest.raises(Conflict, match="close it"):
        purge_round(db, b["round_id"], force=True)  # open rounds never, even forced
    purge_round(db, a["round_id"], today=closed + dt.timedelta(days=30))
    assert db.execute("SELECT COUNT(*) FROM people").fetchone()[0] == 5
    again = purge_round(db, a["round_id"])
    assert again["already_purged"]


def test_purge_cli_confirmation_and_due(db, db_path, secret, two_rounds):
    a, b = two_rounds
    runner = CliRunner()
    refused = runner.invoke(main, ["--db", str(db_path), "purge", "A"])
    assert refused.exit_code == 1 and "kept until" in refused.output
    declined = runner.invoke(main, ["--db", str(db_path), "purge", "A", "--force"], input="n\n")
    assert declined.exit_code != 0
    assert db.execute("SELECT COUNT(*) FROM people").fetchone()[0] == 13
    nothing = runner.invoke(main, ["--db", str(db_path), "purge", "--due"])
    assert nothing.exit_code == 0 and "no round is due" in nothing.output
    # Closed 31 days ago: now due.
    with transaction(db):
        old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=31)).replace(microsecond=0).isoformat()
        db.execute("UPDATE rounds SET closed_at = ? WHERE id = ?", (old, a["round_id"]))
    done = runner.invoke(main, ["--db", str(db_path), "purge", "--due", "--format", "json"])
    assert done.exit_code == 0, done.output
    result = json.loads(done.output)
    assert [r["name"] for r in result] == ["A"] and result[0]["people_deleted"] == 8
    fresh = connect(db_path)
    assert fresh.execute("SELECT COUNT(*) FROM people").fetchone()[0] == 5
    fresh.conn.close()


def test_retention_can_be_set_on_an_existing_round(db, db_path, secret):
    made = make_round(db, secret, [person(0)], name="Uden frist")
    answer(db, secret, made["tokens"]["emp0000"], 1, False)
    runner = CliRunner()
    shown = runner.invoke(main, ["--db", str(db_path), "retention", "Uden frist"])
    assert shown.exit_code == 0 and "no retention period" in shown.output
    close_round(db, made["round_id"])
    closed = dt.date.fromisoformat(get_round(db, made["round_id"])["closed_at"][:10])
    set_ = runner.invoke(main, ["--db", str(db_path), "retention", "Uden frist", "0"])
    assert set_.exit_code == 0 and closed.isoformat() in set_.output
    assert get_round(db, made["round_id"])["retention_days"] == 0
    assert audit.entries(db, made["round_id"])[0]["action"] == "round.updated"
    purged = runner.invoke(main, ["--db", str(db_path), "purge", "--due"])
    assert purged.exit_code == 0 and "Uden frist" in purged.output
    assert db.execute("SELECT COUNT(*) FROM people").fetchone()[0] == 0
