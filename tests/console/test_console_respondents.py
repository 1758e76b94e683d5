"""Changing the list while a round runs: edit, add, mark ineligible, remove, copy the previous
round's list. None of it may touch a stored answer."""
from __future__ import annotations

import json

from surveyapp import responses, rounds, tokens

from console_helpers import SECRET, build_round, invitation_id, round_id_of, token_for


def answer(db, key: str, pages: list[dict], submit: bool = False) -> None:
    token = token_for(SECRET, db, round_id_of(db), key)
    response = responses.start_response(db, SECRET, token, tokens.find_invitation(db, SECRET, token))
    for index, form in enumerate(pages):
        responses.save_page(db, response, index, form)
    if submit:
        responses.submit(db, response)


def stored(db) -> tuple[list, list]:
    return ([tuple(r) for r in db.execute("SELECT * FROM answers ORDER BY response_id, item_id")],
            [tuple(r) for r in db.execute("SELECT * FROM responses ORDER BY id")])


def test_edits_never_touch_stored_answers(cdb, as_user):
    round_id = round_id_of(cdb)
    answer(cdb, "hor-1", [{"q1": "4", "q2": "3"}, {"q3": "9", "q4": "1"}], submit=True)
    answer(cdb, "hor-2", [{"q1": "2", "q2": "2"}])
    snapshot = stored(cdb)
    assert len(snapshot[0]) == 6 and len(snapshot[1]) == 2
    admin = as_user("boss")
    hor2 = invitation_id(cdb, round_id, "hor-2")
    url = f"/console/rounds/{round_id}/respondents/{hor2}"

    first = admin.post(url, data={"name": "Bo B. Berg", "email": "bo.berg@horsens.example", "language": "",
                                  "group": "medarbejdere", "unit": "Horsens"})
    assert first.status_code == 302
    second = admin.post(url, data={"name": "Bo Berg", "email": "bo.berg@horsens.example", "language": "en",
                                   "group": "medarbejdere", "unit": "Horsens"})
    assert second.status_code == 302
    person = cdb.execute("SELECT name, email, language FROM people WHERE key = 'hor-2'").fetchone()
    assert tuple(person) == ("Bo Berg", "bo.berg@horsens.example", "en")
    assert stored(cdb) == snapshot
    edits = [json.loads(r["details"]) for r in cdb.query("SELECT details FROM audit_log WHERE action = 'respondent.edited' ORDER BY id")]
    assert edits[0]["changes"]["email"] == {"from": "bo@horsens.example", "to": "bo.berg@horsens.example"}
    assert edits[1]["changes"] == {"name": {"from": "Bo B. Berg", "to": "Bo Berg"}, "language": {"from": None, "to": "en"}}

    # Group and unit stay once answering has started (the response was filed under them).
    moved = admin.post(url, data={"name": "Bo Berg", "email": "bo.berg@horsens.example", "group": "ledere", "unit": "Horsens"})
    assert moved.status_code == 400 and "gruppen kan ikke ændres: hor-2 er begyndt at svare" in moved.get_data(as_text=True)
    assert cdb.execute("SELECT group_name FROM invitations WHERE id = ?", (hor2,)).fetchone()[0] == "medarbejdere"
    # Someone who has not started can move.
    hor3 = invitation_id(cdb, round_id, "hor-3")
    assert admin.post(f"/console/rounds/{round_id}/respondents/{hor3}",
                      data={"name": "Carl Dam", "email": "carl@horsens.example", "group": "ledere", "unit": "Horsens"}).status_code == 302
    assert cdb.execute("SELECT group_name FROM invitations WHERE id = ?", (hor3,)).fetchone()[0] == "ledere"
    # A bad address is refused with the reason.
    bad = admin.post(url, data={"email": "not an address"})
    assert bad.status_code == 400 and "'not an address' er ikke en e-mailadresse" in bad.get_data(as_text=True).replace("&#39;", "'")
    french = admin.post(url, data={"language": "fr"})  # in Danish, like the same problem in an uploaded list
    assert french.status_code == 400 and "sprog skal være da eller en, ikke 'fr'" in french.get_data(as_text=True).replace("&#39;", "'")

    # Ineligible and back: answers stay, the respondent stays on the list.
    admin.post(f"{url}/eligibility", data={"action": "ineligible", "reason": "fratrådt"})
    row = cdb.execute("SELECT eligible, ineligible_reason, removed_at FROM invitations WHERE id = ?", (hor2,)).fetchone()
    assert tuple(row) == (0, "fratrådt", None)
    rates = admin.get(f"/console/rounds/{round_id}/rates.csv").get_data(as_text=True).splitlines()
    total = next(line.split(",") for line in rates[1:] if line.split(",")[1:3] == ["", ""])
    assert (total[3], total[4]) == ("5", "1")  # still invited, now counted as ineligible
    admin.post(f"{url}/eligibility", data={"action": "eligible"})
    assert cdb.execute("SELECT eligible FROM invitations WHERE id = ?", (hor2,)).fetchone()[0] == 1

    # Someone with answers cannot be removed (mark them ineligible instead); someone without can.
    admin.post(f"{url}/remove")
    assert cdb.execute("SELECT removed_at FROM invitations WHERE id = ?", (hor2,)).fetchone()[0] is None
    admin.post(f"/console/rounds/{round_id}/respondents/{hor3}/remove")
    assert cdb.execute("SELECT removed_at FROM invitations WHERE id = ?", (hor3,)).fetchone()[0] is not None
    assert "carl@horsens.example" not in admin.get(f"/console/rounds/{round_id}/respondents").get_data(as_text=True)
    assert stored(cdb) == snapshot
    actions = [r["action"] for r in cdb.query("SELECT action FROM audit_log WHERE actor = 'boss' ORDER BY id")]
    assert actions == ["respondent.edited", "respondent.edited", "respondent.edited", "respondent.ineligible",
                       "respondent.eligible", "respondent.removed"]


def test_add_one_respondent_gets_a_working_link(cdb, as_user):
    round_id = round_id_of(cdb)
    admin = as_user("boss")
    response = admin.post(f"/console/rounds/{round_id}/respondents/new",
                          data={"key": "hor-40", "email": "new@horsens.example", "name": "Ny Person", "group": "ledere",
                                "unit": "Horsens", "language": ""})
    assert response.status_code == 302
    inv = invitation_id(cdb, round_id, "hor-40")
    assert tokens.find_invitation(cdb, SECRET, tokens.make_token(SECRET, inv))["id"] == inv
    duplicate = admin.post(f"/console/rounds/{round_id}/respondents/new",
                           data={"key": "hor-40", "email": "x@horsens.example", "group": "ledere", "unit": "Horsens"})
    assert duplicate.status_code == 400 and "er allerede på rundens liste" in duplicate.get_data(as_text=True)
    assert cdb.execute("SELECT COUNT(*) FROM people WHERE key = 'hor-40'").fetchone()[0] == 1


def test_copy_previous_list_keeps_the_panel_key(cdb, as_user):
    first = round_id_of(cdb)
    respondent_ids = {r["key"]: r["person_id"] for r in cdb.query(
        "SELECT p.key, i.person_id FROM invitations i JOIN people p ON p.id = i.person_id WHERE i.round_id = ?", [first])}
    cdb.execute("UPDATE invitations SET eligible = 0, ineligible_reason = 'fratrådt' WHERE id = ?",
                (invitation_id(cdb, first, "kol-1"),))
    second = build_round(cdb, SECRET, name="September 2015", people=[], open_it=False)
    response = as_user("boss").post(f"/console/rounds/{second}/copy", data={"from_round": first})
    assert response.status_code == 302
    copied = {r["key"]: r["person_id"] for r in cdb.query(
        "SELECT p.key, i.person_id FROM invitations i JOIN people p ON p.id = i.person_id WHERE i.round_id = ?", [second])}
    assert copied == {k: v for k, v in respondent_ids.items() if k != "kol-1"}  # same people, the ineligible one left out
    new_tokens = {r[0] for r in cdb.execute("SELECT token_hash FROM invitations WHERE round_id = ?", (second,))}
    old_tokens = {r[0] for r in cdb.execute("SELECT token_hash FROM invitations WHERE round_id = ?", (first,))}
    assert not new_tokens & old_tokens  # every round gets new links
    assert cdb.execute("SELECT actor FROM audit_log WHERE action = 'respondents.copied'").fetchone()[0] == "boss"


def test_closed_round_list_cannot_change(cdb, as_user):
    round_id = round_id_of(cdb)
    rounds.close_round(cdb, round_id, actor="test")
    hor1 = invitation_id(cdb, round_id, "hor-1")
    response = as_user("boss").post(f"/console/rounds/{round_id}/respondents/{hor1}", data={"name": "Changed"})
    assert response.status_code == 400 and "er lukket; listen kan ikke længere ændres" in response.get_data(as_text=True)
    assert cdb.execute("SELECT name FROM people WHERE key = 'hor-1'").fetchone()[0] == "Anne Hansen"


def test_the_list_can_be_searched_and_filtered(cdb, as_user):
    round_id = round_id_of(cdb)
    answer(cdb, "hor-1", [{"q1": "4", "q2": "3"}, {"q3": "9", "q4": "1"}], submit=True)
    cdb.execute("UPDATE invitations SET eligible = 0, ineligible_reason = 'fratrådt' WHERE id = ?",
                (invitation_id(cdb, round_id, "kol-1"),))
    cdb.execute("INSERT INTO mails (invitation_id, kind, step, status, error, at) VALUES (?, 'invitation', 0, 'failed', "
                "'550 no such user', '2015-03-02T10:00:00+00:00')", (invitation_id(cdb, round_id, "hor-3"),))
    admin = as_user("boss")

    def keys(**args) -> set[str]:
        import re

        html = admin.get(f"/console/rounds/{round_id}/respondents", query_string=args).get_data(as_text=True)
        table = html.split('id="respondents"')[1]
        return set(re.findall(r"<tr id=\"inv-\d+\"[^>]*>\s*<td>([^<]+)</td>", table))

    assert keys() == {"hor-1", "hor-2", "hor-3", "kol-1", "kol-2"}
    assert keys(q="KOLDING") == {"kol-1", "kol-2"}
    assert keys(q="bo@") == {"hor-2"}
    assert keys(show="missing") == {"hor-2", "hor-3", "kol-2"}  # not completed, not ineligible
    assert keys(show="problems") == {"hor-3"}
    assert keys(show="unsent") == {"hor-1", "hor-2", "hor-3", "kol-2"}
    assert keys(q="hor", show="missing") == {"hor-2", "hor-3"}


def test_buttons_flash_the_outcome_or_the_refusal_in_danish(cdb, as_user):
    import html as html_module
    import re

    round_id = round_id_of(cdb)
    answer(cdb, "hor-1", [{"q1": "4", "q2": "3"}])
    admin = as_user("boss")

    def flashes(response) -> list[tuple[str, str]]:
        page = html_module.unescape(response.get_data(as_text=True))
        return re.findall(r'<div class="flash flash-(\w+)" role="status">([^<]*)</div>', page)

    hor1, hor3 = invitation_id(cdb, round_id, "hor-1"), invitation_id(cdb, round_id, "hor-3")
    refused = admin.post(f"/console/rounds/{round_id}/respondents/{hor1}/remove", follow_redirects=True)
    assert refused.request.path == f"/console/rounds/{round_id}/respondents"
    assert flashes(refused) == [("error", "hor-1 er begyndt at svare og kan ikke fjernes; markér personen som uegnet i stedet")]
    removed = admin.post(f"/console/rounds/{round_id}/respondents/{hor3}/remove", follow_redirects=True)
    assert flashes(removed) == [("info", "hor-3 er fjernet fra listen.")]
    marked = admin.post(f"/console/rounds/{round_id}/respondents/{hor1}/eligibility",
                        data={"action": "ineligible", "reason": "fratrådt"}, follow_redirects=True)
    assert flashes(marked) == [("info", "hor-1 er markeret uegnet.")]
    not_waiting = admin.post(f"/console/rounds/{round_id}/mails/999999/resolve", data={"delivered": "yes"},
                             follow_redirects=True)
    assert flashes(not_waiting) == [("error", "den mail venter ikke på en afgørelse")]

    # Copying: 4 people stay on the first list (hor-3 removed); hor-1 is ineligible and left out.
    second = build_round(cdb, SECRET, name="September 2015", people=[], open_it=False)
    copied = admin.post(f"/console/rounds/{second}/copy", data={"from_round": round_id}, follow_redirects=True)
    assert flashes(copied) == [("info", "3 respondenter er kopieret fra den tidligere runde (1 sprunget over: allerede på "
                                        "listen, uegnede eller i en gruppe, runden ikke har).")]

    closed = admin.post(f"/console/rounds/{round_id}/status", data={"action": "close"}, follow_redirects=True)
    assert closed.request.path == f"/console/rounds/{round_id}"
    assert flashes(closed) == [("info", "Runden er lukket: der kan ikke længere svares.")]
    draft = admin.post(f"/console/rounds/{second}/status", data={"action": "close"}, follow_redirects=True)
    assert flashes(draft) == [("error", "runden 'September 2015' kan ikke skifte status herfra")]  # a draft never closes
