"""The respondent's pages through the Flask test client: every path from link to thank-you."""
from __future__ import annotations

import re
import threading
from html import unescape

import pytest

from respond_setup import answers_of, html
from surveyapp import rounds, tokens


def response_of(db, invitation_id: int) -> dict | None:
    row = db.execute("SELECT * FROM responses WHERE invitation_id = ?", (invitation_id,)).fetchone()
    return dict(row) if row else None


PAGE1_OK = {"faggruppe": "2", "anciennitet": "7", "action": "next"}


# ---------------------------------------------------------------- links that cannot be answered


@pytest.mark.parametrize("token", ["x" * 43, "short", "A" * 43, "with space and more letters than forty three chars"])
def test_unknown_or_malformed_token_is_a_friendly_404(client, survey, token):
    survey()
    response = client.get(f"/s/{token}")
    assert response.status_code == 404
    assert "Linket virker ikke" in html(response)
    assert "<form" not in html(response) and "Traceback" not in html(response)


def test_token_made_with_another_key_is_refused(client, survey, db):
    s = survey()
    forged = tokens.make_token("another-secret", s["invitations"]["p1"])
    assert client.get(f"/s/{forged}").status_code == 404
    assert client.post(f"/s/{forged}/1", data=PAGE1_OK).status_code == 404
    assert db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 0


def test_round_not_open_yet_is_403_and_stores_nothing(client, survey, db):
    s = survey(status="draft")
    token = s["tokens"]["p1"]
    for response in (client.get(f"/s/{token}"), client.get(f"/s/{token}/1"), client.post(f"/s/{token}/1", data=PAGE1_OK)):
        assert response.status_code == 403
        assert "ikke åbnet endnu" in html(response) and "<form" not in html(response)
    assert db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 0


def test_closed_round_is_410_and_stores_nothing(client, survey, db):
    s = survey(status="closed")
    token = s["tokens"]["p1"]
    for response in (client.get(f"/s/{token}"), client.get(f"/s/{token}/review"), client.post(f"/s/{token}/1", data=PAGE1_OK),
                     client.post(f"/s/{token}/submit")):
        assert response.status_code == 410
        assert "lukket" in html(response) and "<form" not in html(response)
    assert db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 0


def test_round_closed_while_answering_keeps_earlier_answers_and_refuses_new(client, survey, db):
    s = survey()
    token, inv = s["tokens"]["p1"], s["invitations"]["p1"]
    assert client.post(f"/s/{token}/1", data=PAGE1_OK).status_code == 302
    rounds.close_round(db, s["round"]["id"])
    response = client.post(f"/s/{token}/2", data={"samarbejde_1": "3", "action": "next"})
    assert response.status_code == 410
    assert answers_of(db, inv) == {"faggruppe": (2.0, None), "anciennitet": (7.0, None)}


def test_page_number_outside_the_questionnaire_is_404(client, survey):
    token = survey()["tokens"]["p1"]
    assert client.get(f"/s/{token}/99").status_code == 404
    assert client.get(f"/s/{token}/0").status_code == 404


# ---------------------------------------------------------------- the form itself


def test_inputs_are_named_by_item_id_with_option_codes_as_values(client, survey):
    token = survey()["tokens"]["p1"]
    page = html(client.get(f"/s/{token}/2"))
    # a scale item: one fieldset with a legend, radios named by the item id, codes as values
    block = page[page.index('id="item-samarbejde_1"'):page.index('id="item-samarbejde_2"')]
    assert "<fieldset" in block and "<legend>" in block
    assert re.findall(r'name="samarbejde_1" value="(\d+)"', block) == ["1", "2", "3", "4", "9"]
    for code in ("1", "2", "3", "4", "9"):
        assert f'<label class="choice{" choice-missing" if code == "9" else ""}" for="samarbejde_1-{code}"><input type="radio" id="samarbejde_1-{code}"' in block
    # "Ved ikke" sits in its own group, apart from the substantive options
    missing_group = block[block.index("choices-missing"):]
    assert "Ved ikke" in missing_group and "I høj grad" not in missing_group
    # multiple choice: checkboxes under one name
    assert re.findall(r'type="checkbox" id="kanaler-\d" name="kanaler" value="(\d)"', page) == ["1", "2", "3"]
    # one form per page, posting to itself, with a CSRF field
    assert page.count("<form") == 1 and 'method="post"' in page and 'name="csrf_token"' in page
    # progress bar
    assert re.search(r'<progress[^>]*max="3" value="2"', page)


def test_every_item_type_renders_with_a_bound_label(client, survey):
    token = survey()["tokens"]["p1"]
    page1, page4 = html(client.get(f"/s/{token}/1")), html(client.get(f"/s/{token}/4"))
    assert '<label class="item-label" for="anciennitet">' in page1 and 'id="anciennitet" name="anciennitet"' in page1
    assert 'inputmode="decimal"' in page1
    assert "Der er fire sider" in page1  # info item
    assert '<label class="item-label" for="seneste_kursus">' in page4 and 'type="date"' in page4
    assert '<textarea rows="5" maxlength="5000" id="kommentar" name="kommentar"' in page4
    # help text is tied to its input
    assert 'aria-describedby="help-anciennitet"' in page1


# ---------------------------------------------------------------- saving, required, show_if


def test_required_item_missing_reshows_page_with_message_and_stores_nothing(client, survey, db):
    s = survey()
    token, inv = s["tokens"]["p1"], s["invitations"]["p1"]
    response = client.post(f"/s/{token}/1", data={"anciennitet": "12", "action": "next"})
    assert response.status_code == 422
    page = html(response)
    assert 'id="err-faggruppe"' in page and "Besvar venligst dette spørgsmål." in page
    assert 'aria-describedby="err-faggruppe"' in page
    assert re.search(r'id="faggruppe-1"[^>]*aria-invalid="true"', page)
    assert 'value="12"' in page  # the answer given is kept on the re-shown page
    assert 'href="#item-faggruppe"' in page  # error summary links to the item
    assert answers_of(db, inv) == {}
    assert response_of(db, inv)["current_section"] == 0


def test_invalid_option_code_gives_a_message_and_stores_nothing(client, survey, db):
    s = survey()
    token, inv = s["tokens"]["p1"], s["invitations"]["p1"]
    response = client.post(f"/s/{token}/2", data={"samarbejde_1": "5", "samarbejde_2": "3", "action": "next"})
    assert response.status_code == 422
    assert "Vælg en af svarmulighederne." in html(response)
    assert answers_of(db, inv) == {}
    response = client.post(f"/s/{token}/1", data={"faggruppe": "2", "anciennitet": "61", "action": "next"})
    assert response.status_code == 422 and "Tallet må højst være 60." in html(response)
    assert answers_of(db, inv) == {}


def test_show_if_on_the_same_page_is_enforced_by_the_server(client, survey, db):
    s = survey()
    token, inv = s["tokens"]["p1"], s["invitations"]["p1"]
    # "Andet" makes the follow-up item required
    response = client.post(f"/s/{token}/1", data={"faggruppe": "7", "action": "next"})
    assert response.status_code == 422 and 'id="err-faggruppe_andet"' in html(response)
    # a follow-up answer sent although the condition does not hold is not stored (no JS: every item showed)
    response = client.post(f"/s/{token}/1", data={"faggruppe": "2", "faggruppe_andet": "Pædagog", "action": "next"})
    assert response.status_code == 302
    assert answers_of(db, inv) == {"faggruppe": (2.0, None)}
    # and with the condition met it is stored
    client.post(f"/s/{token}/1", data={"faggruppe": "7", "faggruppe_andet": "Pædagog", "action": "next"})
    assert answers_of(db, inv) == {"faggruppe": (7.0, None), "faggruppe_andet": (None, "Pædagog")}
    # the page marks the follow-up for the browser script
    page = html(client.get(f"/s/{token}/1"))
    assert 'data-show-if="faggruppe" data-show-codes="7"' in page


def test_show_if_across_pages_skips_a_page_and_its_required_item(client, survey, db):
    s = survey()
    token = s["tokens"]["p1"]
    client.post(f"/s/{token}/1", data={"faggruppe": "2", "action": "next"})
    response = client.post(f"/s/{token}/2", data={"samarbejde_1": "4", "action": "next"})
    assert response.status_code == 302 and response.location.endswith(f"/s/{token}/4")  # page 3 is for social workers
    assert client.get(f"/s/{token}/3").location.endswith(f"/s/{token}/4")
    assert "Side 3 af 3" in html(client.get(f"/s/{token}/4"))
    # a social worker gets page 3, with the item that depends on page 1 rendered by the server
    client.post(f"/s/{token}/1", data={"faggruppe": "1", "action": "next"})
    page3 = html(client.get(f"/s/{token}/3"))
    assert 'name="sr_sager"' in page3 and "Side 3 af 4" in page3
    assert "data-show-if" not in page3  # decided on the server: nothing left for the browser
    response = client.post(f"/s/{token}/2", data={"samarbejde_1": "4", "action": "next"})
    assert response.location.endswith(f"/s/{token}/3")


def test_blank_field_clears_a_stored_answer(client, survey, db):
    s = survey()
    token, inv = s["tokens"]["p1"], s["invitations"]["p1"]
    client.post(f"/s/{token}/1", data=PAGE1_OK)
    client.post(f"/s/{token}/1", data={"faggruppe": "2", "anciennitet": "", "action": "next"})
    assert answers_of(db, inv) == {"faggruppe": (2.0, None)}


# ---------------------------------------------------------------- navigation and resume


def test_the_first_save_marks_the_invitation_started_and_later_saves_keep_it(client, survey, db):
    s = survey()
    token, inv = s["tokens"]["p1"], s["invitations"]["p1"]
    client.get(f"/s/{token}/1")
    started = lambda: db.execute("SELECT started FROM invitations WHERE id = ?", (inv,)).fetchone()[0]  # noqa: E731
    assert started() == 0  # opening the page is not starting
    assert client.post(f"/s/{token}/1", data=PAGE1_OK).status_code == 302
    assert started() == 1
    assert client.post(f"/s/{token}/2", data={"samarbejde_1": "3", "action": "next"}).status_code == 302
    assert started() == 1 and answers_of(db, inv)["samarbejde_1"] == (3.0, None)


def test_resume_goes_to_first_unfinished_page_with_answers_in_place(app, survey, db):
    s = survey()
    token = s["tokens"]["p1"]
    first = app.test_client()
    assert first.get(f"/s/{token}").location.endswith(f"/s/{token}/1")
    first.post(f"/s/{token}/1", data={"faggruppe": "7", "faggruppe_andet": "Pædagog", "anciennitet": "2,5", "action": "next"})
    first.post(f"/s/{token}/2", data={"samarbejde_1": "9", "kanaler": ["1", "3"], "action": "next"})
    # a new browser (no cookies) with the same link
    again = app.test_client()
    response = again.get(f"/s/{token}")
    assert response.status_code == 302 and response.location.endswith(f"/s/{token}/4")
    page1 = html(again.get(f"/s/{token}/1"))
    assert re.search(r'id="faggruppe-7"[^>]*checked', page1) and not re.search(r'id="faggruppe-1"[^>]*checked', page1)
    assert 'value="Pædagog"' in page1 and 'value="2,5"' in page1
    page2 = html(again.get(f"/s/{token}/2"))
    assert re.search(r'id="samarbejde_1-9"[^>]*checked', page2)
    assert re.search(r'id="kanaler-1"[^>]*checked', page2) and re.search(r'id="kanaler-3"[^>]*checked', page2)
    assert not re.search(r'id="kanaler-2"[^>]*checked', page2)


def test_back_saves_without_demanding_required_items(client, survey, db):
    s = survey()
    token, inv = s["tokens"]["p1"], s["invitations"]["p1"]
    client.post(f"/s/{token}/1", data=PAGE1_OK)
    response = client.post(f"/s/{token}/2", data={"samarbejde_2": "3", "action": "back"})
    assert response.status_code == 302 and response.location.endswith(f"/s/{token}/1")
    assert answers_of(db, inv)["samarbejde_2"] == (3.0, None)
    # the page is not counted as done: resuming returns to it
    assert response_of(db, inv)["current_section"] == 1
    assert client.get(f"/s/{token}").location.endswith(f"/s/{token}/2")
    # Back with an invalid answer is refused like any save, and stores nothing
    response = client.post(f"/s/{token}/2", data={"samarbejde_2": "8", "action": "back"})
    assert response.status_code == 422
    assert answers_of(db, inv)["samarbejde_2"] == (3.0, None)


def test_first_page_has_no_back_button_later_pages_do(client, survey):
    token = survey()["tokens"]["p1"]
    assert 'value="back"' not in html(client.get(f"/s/{token}/1"))
    assert 'value="back"' in html(client.get(f"/s/{token}/2"))


def test_last_page_leads_to_review_listing_answers_with_edit_links(client, survey, db):
    s = survey()
    token = s["tokens"]["p1"]
    client.post(f"/s/{token}/1", data={"faggruppe": "7", "faggruppe_andet": "Pædagog", "action": "next"})
    client.post(f"/s/{token}/2", data={"samarbejde_1": "4", "kanaler": ["2", "3"], "action": "next"})
    response = client.post(f"/s/{token}/4", data={"seneste_kursus": "2024-05-01", "kommentar": "Godt", "action": "next"})
    assert response.location.endswith(f"/s/{token}/review")
    page = html(client.get(f"/s/{token}/review"))
    for text in ("Andet", "Pædagog", "I høj grad", "Telefon, E-mail", "2024-05-01", "Godt", "Ikke besvaret"):
        assert text in page
    for number in (1, 2, 4):
        assert f'href="/s/{token}/{number}"' in page
    assert f'href="/s/{token}/3"' not in page  # the skipped page is not listed
    assert f'action="/s/{token}/submit"' in page and "Indsend" in page


def test_review_flags_missing_required_and_submit_sends_back_to_that_page(client, survey, db):
    s = survey()
    token, inv = s["tokens"]["p1"], s["invitations"]["p1"]
    client.post(f"/s/{token}/1", data=PAGE1_OK)
    client.post(f"/s/{token}/2", data={"samarbejde_2": "2", "action": "back"})  # required samarbejde_1 left blank
    review = html(client.get(f"/s/{token}/review"))
    assert "Nogle spørgsmål skal besvares" in review and f'href="/s/{token}/2#item-samarbejde_1"' in review
    response = client.post(f"/s/{token}/submit")
    assert response.status_code == 422
    page = html(response)
    assert 'id="err-samarbejde_1"' in page and f'action="/s/{token}/2"' in page
    assert response_of(db, inv)["status"] == "started"


# ---------------------------------------------------------------- submission


def answer_everything(client, token):
    client.post(f"/s/{token}/1", data=PAGE1_OK)
    client.post(f"/s/{token}/2", data={"samarbejde_1": "3", "action": "next"})
    client.post(f"/s/{token}/4", data={"kommentar": "Tak", "action": "next"})
    return client.post(f"/s/{token}/submit")


def test_submit_completes_and_the_link_then_shows_thanks_without_a_form(client, survey, db):
    s = survey()
    token, inv = s["tokens"]["p1"], s["invitations"]["p1"]
    response = answer_everything(client, token)
    assert response.status_code == 302 and response.location.endswith(f"/s/{token}/done")
    row = response_of(db, inv)
    assert row["status"] == "complete" and row["submitted_at"]
    assert db.execute("SELECT completed FROM invitations WHERE id = ?", (inv,)).fetchone()[0] == 1
    for url in (f"/s/{token}", f"/s/{token}/done", f"/s/{token}/1", f"/s/{token}/review"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "Tak for dine svar" in html(response) and "<form" not in html(response)
        assert "Se eller ret" not in html(response)


def test_answers_cannot_change_after_submission(client, survey, db):
    s = survey()
    token, inv = s["tokens"]["p1"], s["invitations"]["p1"]
    answer_everything(client, token)
    before = answers_of(db, inv)
    response = client.post(f"/s/{token}/1", data={"faggruppe": "1", "action": "next"})
    assert response.status_code == 409 and "kan ikke længere ændres" in html(response)
    autosave = client.post(f"/s/{token}/1", data={"faggruppe": "1"}, headers={"X-Autosave": "1"})
    assert autosave.status_code == 409 and autosave.get_json()["saved"] is False
    assert answers_of(db, inv) == before


def test_double_submit_is_harmless(client, survey, db):
    s = survey()
    token, inv = s["tokens"]["p1"], s["invitations"]["p1"]
    answer_everything(client, token)
    first = response_of(db, inv)
    response = client.post(f"/s/{token}/submit")
    assert response.status_code == 302 and response.location.endswith(f"/s/{token}/done")
    assert response_of(db, inv) == first
    assert db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 1


def test_edit_after_submit_when_the_round_allows_it(client, survey, db):
    s = survey(allow_edit=True)
    token, inv = s["tokens"]["p1"], s["invitations"]["p1"]
    answer_everything(client, token)
    thanks = client.get(f"/s/{token}")
    assert thanks.status_code == 200 and "Tak for dine svar" in html(thanks)
    assert f'href="/s/{token}/review"' in html(thanks)
    assert "<form" in html(client.get(f"/s/{token}/1"))
    response = client.post(f"/s/{token}/1", data={"faggruppe": "1", "anciennitet": "9", "action": "next"})
    assert response.status_code == 302
    assert answers_of(db, inv)["anciennitet"] == (9.0, None)
    assert response_of(db, inv)["status"] == "complete"
    # once the round closes, nothing can change any more
    rounds.close_round(db, s["round"]["id"])
    assert client.post(f"/s/{token}/1", data={"faggruppe": "2", "action": "next"}).status_code == 409
    assert answers_of(db, inv)["faggruppe"] == (1.0, None)


# ---------------------------------------------------------------- two tabs


def test_two_clients_with_the_same_link_share_one_response(app, survey, db):
    s = survey()
    token, inv = s["tokens"]["p1"], s["invitations"]["p1"]
    tab_a, tab_b = app.test_client(), app.test_client()
    tab_a.get(f"/s/{token}/1")
    tab_b.get(f"/s/{token}/1")
    assert tab_a.post(f"/s/{token}/1", data=PAGE1_OK).status_code == 302
    assert tab_b.post(f"/s/{token}/2", data={"samarbejde_1": "2", "action": "next"}).status_code == 302
    assert db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 1
    assert answers_of(db, inv) == {"faggruppe": (2.0, None), "anciennitet": (7.0, None), "samarbejde_1": (2.0, None)}


def test_two_tabs_saving_at_the_same_moment_create_one_response(app, survey, db):
    s = survey()
    token, inv = s["tokens"]["p1"], s["invitations"]["p1"]
    barrier = threading.Barrier(4)
    results = []

    def tab(number, data):
        client = app.test_client()
        barrier.wait()
        results.append(client.post(f"/s/{token}/{number}", data=data).status_code)

    threads = [threading.Thread(target=tab, args=args) for args in
               [(1, PAGE1_OK), (2, {"samarbejde_2": "4", "action": "back"}),
                (4, {"kommentar": "a", "action": "next"}), (2, {"kanaler": ["1"], "action": "back"})]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results) == [302, 302, 302, 302]
    assert db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 1
    stored = answers_of(db, inv)
    assert stored["faggruppe"] == (2.0, None) and stored["kommentar"] == (None, "a")
    # the two page-2 saves each replace page 2: one of them wins, whole
    assert ("samarbejde_2" in stored) != ("kanaler" in stored)


# ---------------------------------------------------------------- autosave


def test_autosave_stores_partial_page_as_json_and_keeps_the_place(client, survey, db):
    s = survey()
    token, inv = s["tokens"]["p1"], s["invitations"]["p1"]
    response = client.post(f"/s/{token}/1", data={"anciennitet": "4"}, headers={"X-Autosave": "1"})
    assert response.status_code == 200 and response.get_json() == {"saved": True}
    assert answers_of(db, inv) == {"anciennitet": (4.0, None)}
    assert response_of(db, inv)["current_section"] == 0
    bad = client.post(f"/s/{token}/1", data={"anciennitet": "fire"}, headers={"X-Autosave": "1"})
    assert bad.status_code == 422 and bad.get_json()["errors"] == {"anciennitet": "Skriv et tal."}
    assert answers_of(db, inv) == {"anciennitet": (4.0, None)}


def test_changing_an_earlier_answer_removes_answers_it_now_hides_on_later_pages(client, survey, db):
    s = survey(allow_edit=True)
    token, inv = s["tokens"]["p1"], s["invitations"]["p1"]
    client.post(f"/s/{token}/1", data={"faggruppe": "1", "action": "next"})
    client.post(f"/s/{token}/2", data={"samarbejde_1": "3", "action": "next"})
    client.post(f"/s/{token}/3", data={"sr_sager": "25", "action": "next"})
    assert client.post(f"/s/{token}/submit").status_code == 302
    assert answers_of(db, inv)["sr_sager"] == (25.0, None)
    # edited after submission: no longer a social worker, so page 3's answer must not survive
    client.post(f"/s/{token}/1", data={"faggruppe": "2", "action": "next"})
    assert "sr_sager" not in answers_of(db, inv)
    # Only the answer cells: the page also carries a random CSRF token that may contain "25".
    review_answers = re.findall(r"<dd>(.*?)</dd>", html(client.get(f"/s/{token}/review")), re.S)
    assert review_answers and not any(re.search(r"\b25\b", cell) for cell in review_answers)


def base_of(page: str) -> str:
    """The page's hidden _base field (the answers as stored when it was loaded), unescaped."""
    return unescape(re.search(r'name="_base" value="([^"]*)"', page).group(1))


def test_an_old_copy_of_the_page_does_not_blank_answers_given_in_another_tab(app, survey, db):
    s = survey()
    token, inv = s["tokens"]["p1"], s["invitations"]["p1"]
    tab_a, tab_b = app.test_client(), app.test_client()
    page_b = html(tab_b.get(f"/s/{token}/1"))  # tab B loads page 1 while it is still empty
    base_b = base_of(page_b)
    page_a = html(tab_a.get(f"/s/{token}/1"))
    base_a = base_of(page_a)
    tab_a.post(f"/s/{token}/1", data={"anciennitet": "5", "_base": base_a}, headers={"X-Autosave": "1"})
    # tab B answers only the group; its (stale) empty years field must not wipe tab A's answer
    response = tab_b.post(f"/s/{token}/1", data={"faggruppe": "2", "anciennitet": "", "action": "next", "_base": base_b})
    assert response.status_code == 302
    assert answers_of(db, inv) == {"faggruppe": (2.0, None), "anciennitet": (5.0, None)}
    # a field the tab did change is written, also to blank
    page = html(tab_b.get(f"/s/{token}/1"))
    base = base_of(page)
    tab_b.post(f"/s/{token}/1", data={"faggruppe": "2", "anciennitet": "", "action": "next", "_base": base})
    assert answers_of(db, inv) == {"faggruppe": (2.0, None)}


def test_link_of_a_respondent_removed_from_the_list_stops_working(client, survey, db):
    from surveyapp import respondents

    s = survey()
    token = s["tokens"]["p2"]
    assert client.get(f"/s/{token}").status_code == 302
    respondents.remove_respondent(db, s["invitations"]["p2"], actor="test")
    assert client.get(f"/s/{token}").status_code == 404
    assert client.post(f"/s/{token}/1", data=PAGE1_OK).status_code == 404
    assert db.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 0
