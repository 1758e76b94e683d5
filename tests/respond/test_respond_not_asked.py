"""Items an invitation does not ask (invitations.not_asked): never rendered on the answer pages,
a posted value is never stored, never required at submission, and left out of the applicable
count of the response rates. The same questionnaire without a not_asked list behaves as before.

respond_test.yaml: faggruppe (required, page 1), faggruppe_andet (required, shown if faggruppe = 7),
anciennitet; samarbejde_1 (required), samarbejde_2, kanaler (page 2); sr_sager (page 3, required,
shown if faggruppe = 1); seneste_kursus, kommentar (page 4).
"""
from __future__ import annotations

from respond_setup import answers_of, html
from surveyapp import questionnaire_store, results, rounds
from surveyapp import responses as service


def status_of(db, invitation_id: int) -> str | None:
    row = db.execute("SELECT status FROM responses WHERE invitation_id = ?", (invitation_id,)).fetchone()
    return row[0] if row else None


def test_is_shown_and_applicable_items_default_is_unchanged_and_not_asked_hides_dependents(db, survey):
    survey()
    q = questionnaire_store.get_version(db, questionnaire_store.resolve_version(db, "respond-test")["id"])
    answers = {"faggruppe": 1}
    default = [i.id for i in q.applicable_items(answers, "")]
    assert default == ["faggruppe", "anciennitet", "samarbejde_1", "samarbejde_2", "kanaler", "sr_sager",
                       "seneste_kursus", "kommentar"]
    # sr_sager's show_if source is not asked, so sr_sager is not shown whatever is stored for faggruppe.
    without = [i.id for i in q.applicable_items(answers, "", not_asked={"faggruppe"})]
    assert without == ["anciennitet", "samarbejde_1", "samarbejde_2", "kanaler", "seneste_kursus", "kommentar"]
    assert q.is_shown(q.item("sr_sager"), answers, "") is True
    assert q.is_shown(q.item("sr_sager"), answers, "", frozenset({"faggruppe"})) is False
    assert q.is_shown(q.item("kommentar"), answers, "", frozenset({"faggruppe"})) is True


def test_not_asked_item_is_not_rendered_not_stored_and_not_required(client, db, survey):
    s = survey()
    p1, p2 = s["invitations"]["p1"], s["invitations"]["p2"]
    service.set_not_asked(db, p1, ["faggruppe"])
    token = s["tokens"]["p1"]

    first = client.get(f"/s/{token}/1")
    assert first.status_code == 200
    page = html(first)
    assert 'name="faggruppe"' not in page and 'name="faggruppe_andet"' not in page
    assert 'name="anciennitet"' in page
    # Someone else on the same round is asked it.
    assert 'name="faggruppe"' in html(client.get(f"/s/{s['tokens']['p2']}/1"))

    # A crafted post with a value for the item (and for its dependent) stores neither.
    saved = client.post(f"/s/{token}/1", data={"faggruppe": "7", "faggruppe_andet": "Pædagog", "anciennitet": "4",
                                               "action": "next"})
    assert saved.status_code == 302 and saved.headers["Location"].endswith(f"/s/{token}/2")
    assert answers_of(db, p1) == {"anciennitet": (4.0, None)}
    # Even a value that would be invalid is ignored rather than reported.
    again = client.post(f"/s/{token}/1", data={"faggruppe": "not-a-code", "anciennitet": "5", "action": "next"})
    assert again.status_code == 302
    assert answers_of(db, p1) == {"anciennitet": (5.0, None)}

    saved = client.post(f"/s/{token}/2", data={"samarbejde_1": "3", "action": "next"})
    # Page 3 (sr_sager, shown only if faggruppe = 1) is skipped: its source is not asked.
    assert saved.headers["Location"].endswith(f"/s/{token}/4")
    client.post(f"/s/{token}/4", data={"action": "next"})

    review = html(client.get(f"/s/{token}/review"))
    assert "Hvilken faggruppe tilhører du?" not in review
    assert "der er et godt samarbejde med skolerne" in review
    done = client.post(f"/s/{token}/submit")
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/s/{token}/done")
    assert status_of(db, p1) == "complete"
    assert set(answers_of(db, p1)) == {"anciennitet", "samarbejde_1"}

    # Without a not_asked list the required item still blocks submission.
    client.post(f"/s/{s['tokens']['p2']}/1", data={"faggruppe": "2", "action": "next"})
    db.execute("DELETE FROM answers WHERE item_id = 'faggruppe'")
    client.post(f"/s/{s['tokens']['p2']}/2", data={"samarbejde_1": "3", "action": "next"})
    blocked = client.post(f"/s/{s['tokens']['p2']}/submit")
    assert blocked.status_code == 422
    assert status_of(db, p2) == "started"


def test_services_read_not_asked_from_the_invitation(db, secret, survey):
    """save_page and submit called without not_asked (e.g. a registration on someone's behalf)
    read the invitation's list; an answer stored for a not-asked item is removed (next save, submit)."""
    s = survey()
    p1 = s["invitations"]["p1"]
    invitation = {**dict(db.execute("SELECT * FROM invitations WHERE id = ?", (p1,)).fetchone()), "anonymous": 0}
    response = service.start_response(db, secret, s["tokens"]["p1"], invitation)
    service.save_page(db, response, 0, {"faggruppe": "2", "anciennitet": "3"})
    assert set(answers_of(db, p1)) == {"faggruppe", "anciennitet"}
    service.set_not_asked(db, p1, ["faggruppe", "samarbejde_1"])
    assert service.not_asked_of(db, response) == {"faggruppe", "samarbejde_1"}
    service.save_page(db, response, 1, {"samarbejde_1": "2", "samarbejde_2": "4"})
    # samarbejde_1 was not stored; the earlier answer to faggruppe, now not asked, is removed by the save.
    assert set(answers_of(db, p1)) == {"anciennitet", "samarbejde_2"}
    db.execute("INSERT INTO answers (response_id, item_id, item_version, value_num, value_text, saved_at) "
               "VALUES (?, 'faggruppe', 1, 2, NULL, '2024-01-01')", (response["id"],))
    q = service.questionnaire_of(db, response)
    assert service.missing_required(q, {}, "") == {0: ["faggruppe"], 1: ["samarbejde_1"]}
    assert service.missing_required(q, {}, "", not_asked={"faggruppe", "samarbejde_1"}) == {}
    done = service.submit(db, response)
    assert done["status"] == "complete"
    assert set(answers_of(db, p1)) == {"anciennitet", "samarbejde_2"}


def test_applicable_count_leaves_out_items_not_asked(db, client, survey):
    s = survey(name="Rater")
    rounds.update_round(db, s["round"]["id"], actor="test", partial_threshold=1.0)
    p1, p2 = s["invitations"]["p1"], s["invitations"]["p2"]
    service.set_not_asked(db, p1, ["faggruppe"])
    # p1 answers every item they are asked (six: anciennitet, samarbejde_1, samarbejde_2, kanaler,
    # seneste_kursus, kommentar) but does not submit; p2 answers the same six plus nothing for faggruppe.
    for key in ("p1", "p2"):
        token = s["tokens"][key]
        client.post(f"/s/{token}/1", data={"anciennitet": "4", "action": "back"})
        client.post(f"/s/{token}/2", data={"samarbejde_1": "3", "samarbejde_2": "9", "kanaler": ["1", "3"],
                                           "action": "back"})
        client.post(f"/s/{token}/4", data={"seneste_kursus": "2024-05-01", "kommentar": "Fint", "action": "back"})
    rows = {r["id"]: r for r in results.response_rows(db, [s["round"]["id"]])}
    by_invitation = {db.execute("SELECT invitation_id FROM responses WHERE id = ?", (rid,)).fetchone()[0]: row
                     for rid, row in rows.items()}
    # p1: 9 question items - faggruppe (not asked) - faggruppe_andet and sr_sager (their source is
    # not asked) = 6 applicable, 6 answered. p2: faggruppe unanswered, so its dependents are hidden:
    # 7 applicable, 6 answered.
    assert (by_invitation[p1]["applicable"], by_invitation[p1]["answered"]) == (6, 6)
    assert (by_invitation[p2]["applicable"], by_invitation[p2]["answered"]) == (7, 6)
    [counts] = results.rate_rows(db, [s["round"]["id"]])
    # At threshold 1.0 only p1 (6 of 6) is a valid partial; p2 (6 of 7) is a break-off.
    assert counts["valid_partial"] == 1
