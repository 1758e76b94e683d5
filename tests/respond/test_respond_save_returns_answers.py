"""save_page returns the answers as stored (the save view picks the next page from them without
reading them again), and the checks that must see the latest state run inside the write."""
from __future__ import annotations

import pytest

from surveyapp import responses as service
from surveyapp import rounds, tokens
from surveyapp.errors import Conflict


def _response(db, secret, s, key="p1"):
    invitation = tokens.find_invitation(db, secret, s["tokens"][key])
    return service.start_response(db, secret, s["tokens"][key], invitation)


def _stored(db, response_id: int) -> dict:
    """The stored rows decoded by hand (not by the code under test)."""
    rows = db.query("SELECT item_id, value_num, value_text FROM answers WHERE response_id = ?", [response_id])
    return {r["item_id"]: (r["value_num"], r["value_text"]) for r in rows}


def test_returned_answers_equal_what_is_stored_after_each_save(db, secret, survey):
    s = survey(allow_edit=True)
    response = _response(db, secret, s)
    q = service.questionnaire_of(db, response)

    first = service.save_page(db, response, 0, {"faggruppe": "1", "anciennitet": "7,5"})
    assert first["answers"] == {"faggruppe": 1, "anciennitet": 7.5}
    second = service.save_page(db, response, 1, {"samarbejde_1": "3", "kanaler": ["3", "1"]}, q=q)
    assert second["answers"] == {"faggruppe": 1, "anciennitet": 7.5, "samarbejde_1": 3, "kanaler": [1, 3]}
    third = service.save_page(db, response, 2, {"sr_sager": "25"}, q=q)
    assert third["answers"]["sr_sager"] == 25.0
    fourth = service.save_page(db, response, 3, {"seneste_kursus": "2024-05-01", "kommentar": "ok"}, q=q)
    assert fourth["answers"] == {"faggruppe": 1, "anciennitet": 7.5, "samarbejde_1": 3, "kanaler": [1, 3],
                                 "sr_sager": 25.0, "seneste_kursus": "2024-05-01", "kommentar": "ok"}
    assert _stored(db, response["id"]) == {
        "faggruppe": (1.0, None), "anciennitet": (7.5, None), "samarbejde_1": (3.0, None), "kanaler": (None, "[1, 3]"),
        "sr_sager": (25.0, None), "seneste_kursus": (None, "2024-05-01"), "kommentar": (None, "ok")}

    # a changed answer on page 1 hides page 3 (sr_sager) and a blank field clears anciennitet:
    # both are gone from the database and from the returned answers
    changed = service.save_page(db, response, 0, {"faggruppe": "2", "anciennitet": ""}, q=q)
    assert changed["answers"] == {"faggruppe": 2, "samarbejde_1": 3, "kanaler": [1, 3],
                                  "seneste_kursus": "2024-05-01", "kommentar": "ok"}
    assert set(_stored(db, response["id"])) == set(changed["answers"])
    assert changed["answers"] == service.load_answers(db, response["id"], q)


def test_answers_saved_by_another_tab_after_the_callers_read_are_seen(db, secret, survey):
    s = survey()
    response = _response(db, secret, s)
    q = service.questionnaire_of(db, response)
    service.save_page(db, response, 0, {"faggruppe": "2"}, q=q)
    # "another tab" (the same stale response dict) makes the respondent a social worker ...
    service.save_page(db, response, 0, {"faggruppe": "1"}, q=q)
    # ... so this tab's page-3 answer is shown and stored, judged by the answers in the database
    result = service.save_page(db, response, 2, {"sr_sager": "4"}, q=q)
    assert result["stored"] == 1 and _stored(db, response["id"])["sr_sager"] == (4.0, None)


def test_a_round_closed_after_the_callers_read_rejects_the_save(db, secret, survey):
    s = survey()
    response = _response(db, secret, s)
    q = service.questionnaire_of(db, response)
    rounds.close_round(db, s["round"]["id"], actor="test")  # after the caller read round and response
    with pytest.raises(Conflict, match="not open"):
        service.save_page(db, response, 0, {"faggruppe": "1"}, q=q)
    assert _stored(db, response["id"]) == {}


def test_a_response_submitted_after_the_callers_read_rejects_the_save(db, secret, survey):
    s = survey()
    response = _response(db, secret, s)  # status 'started' in the caller's copy
    q = service.questionnaire_of(db, response)
    for index, form in enumerate([{"faggruppe": "2"}, {"samarbejde_1": "2"}, {}, {}]):
        service.save_page(db, response, index, form, q=q)
    assert service.submit(db, response, q=q)["status"] == "complete"
    with pytest.raises(Conflict, match="submitted"):
        service.save_page(db, response, 0, {"faggruppe": "1"}, q=q)
    assert _stored(db, response["id"])["faggruppe"] == (2.0, None)


def test_submit_reads_the_round_and_the_response_inside_its_write(db, secret, survey):
    s = survey()
    response = _response(db, secret, s)  # status 'started', round open in the caller's copy
    q = service.questionnaire_of(db, response)
    for index, form in enumerate([{"faggruppe": "2"}, {"samarbejde_1": "2"}, {}, {}]):
        service.save_page(db, response, index, form, q=q)
    rounds.close_round(db, s["round"]["id"], actor="test")
    with pytest.raises(Conflict, match="not open"):
        service.submit(db, response, q=q)
    assert db.execute("SELECT status FROM responses WHERE id = ?", (response["id"],)).fetchone()[0] == "started"
    db.execute("UPDATE rounds SET status = 'open' WHERE id = ?", (s["round"]["id"],))
    assert service.submit(db, response, q=q)["status"] == "complete"
    db.execute("UPDATE responses SET submitted_at = '2020-01-02T03:04:05' WHERE id = ?", (response["id"],))
    # A second submit with the same stale copy changes nothing: the stored row comes back as it is.
    again = service.submit(db, response, q=q)
    assert (again["status"], again["submitted_at"]) == ("complete", "2020-01-02T03:04:05")


def test_a_tab_saving_while_the_page_is_parsed_is_seen_and_the_page_parsed_again(db, db_path, secret, survey):
    """save_page parses the page before it takes the write lock; another tab's save committed
    in between is found inside the lock and the page is parsed again against it."""
    from surveyapp.db import connect

    s = survey()
    response = _response(db, secret, s)
    q = service.questionnaire_of(db, response)
    service.save_page(db, response, 0, {"faggruppe": "2"}, q=q)  # page 3 (sr_sager) hidden for faggruppe 2
    other_tab = connect(db_path)
    seen = []

    def form(stored: dict) -> dict:
        seen.append(dict(stored))
        if len(seen) == 1:  # after this tab read the answers: the other tab commits faggruppe 1
            service.save_page(other_tab, response, 0, {"faggruppe": "1"}, q=q)
        return {"sr_sager": "4"}

    result = service.save_page(db, response, 2, form, q=q)
    other_tab.conn.close()
    assert [a.get("faggruppe") for a in seen] == [2, 1]  # parsed once before the lock, once after the change
    # judged by faggruppe 1 (stored by the other tab): sr_sager is shown, so stored, not cleared
    assert result["stored"] == 1 and result["cleared"] == 0
    assert _stored(db, response["id"]) == {"faggruppe": (1.0, None), "sr_sager": (4.0, None)}
    assert result["answers"] == {"faggruppe": 1, "sr_sager": 4.0}


def test_without_another_save_the_page_is_parsed_once(db, secret, survey):
    s = survey()
    response = _response(db, secret, s)
    q = service.questionnaire_of(db, response)
    service.save_page(db, response, 0, {"faggruppe": "1"}, q=q)
    calls = []
    service.save_page(db, response, 2, lambda stored: calls.append(stored) or {"sr_sager": "4"}, q=q)
    assert calls == [{"faggruppe": 1}]
    assert _stored(db, response["id"])["sr_sager"] == (4.0, None)
