"""Answer pages: languages, registration on someone's behalf, anonymity, CSRF and headers."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from respond_setup import csrf_from, html
from surveyapp import create_app, tokens

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- languages


def test_danish_by_default(client, survey):
    token = survey()["tokens"]["p1"]
    page = html(client.get(f"/s/{token}/2"))
    assert '<html lang="da">' in page and "Samarbejde" in page and "Næste" in page and "Ved ikke" in page


def test_english_on_request_uses_catalogue_and_questionnaire_texts(client, survey):
    token = survey()["tokens"]["p1"]
    page = html(client.get(f"/s/{token}/2?lang=en"))
    assert '<html lang="en">' in page
    for text in ("Collaboration", "there is good collaboration with the schools", "Don&#39;t know", "To a high degree",
                 "Page 2 of 3", ">Next<", ">Back<", "(required)"):
        assert text in page, text
    assert "Næste" not in page and "Ved ikke" not in page
    # the choice follows the respondent from page to page
    assert f'action="/s/{token}/2?lang=en"' in page
    response = client.post(f"/s/{token}/2?lang=en", data={"samarbejde_1": "4", "action": "next"})
    assert response.location.endswith(f"/s/{token}/4?lang=en")
    # the services' messages too
    response = client.post(f"/s/{token}/1?lang=en", data={"anciennitet": "-1", "action": "next"})
    assert response.status_code == 422
    assert "Please answer this question." in html(response) and "The number must be at least 0." in html(response)


def _switch(page: str) -> tuple[str, str] | None:
    """(href, hreflang) of the page's link to the other language, or None without one."""
    match = re.search(r'<a href="([^"]+)" hreflang="(da|en)"', page)
    return (match.group(1).replace("&amp;", "&"), match.group(2)) if match else None


def test_the_language_link_leads_to_the_same_page(client, survey):
    token = survey()["tokens"]["p1"]
    assert _switch(html(client.get(f"/s/{token}/2"))) == (f"/s/{token}/2?lang=en", "en")
    assert _switch(html(client.get(f"/s/{token}/2?lang=en"))) == (f"/s/{token}/2?lang=da", "da")
    # a page re-shown by its save (422) links to that page, not to the post
    invalid = client.post(f"/s/{token}/1", data={"anciennitet": "-1", "action": "next"})
    assert invalid.status_code == 422 and _switch(html(invalid)) == (f"/s/{token}/1?lang=en", "en")
    assert _switch(html(client.get(f"/s/{token}/review"))) == (f"/s/{token}/review?lang=en", "en")
    # a submission with required items missing re-shows their page under the submit address: the
    # link leads to the review, whose page that is
    refused = client.post(f"/s/{token}/submit")
    assert refused.status_code == 422 and _switch(html(refused)) == (f"/s/{token}/review?lang=en", "en")
    # even an unknown link's message page has one
    unknown = "z" * 43
    assert _switch(html(client.get(f"/s/{unknown}"))) == (f"/s/{unknown}?lang=en", "en")


def test_respondents_language_and_browser_language(client, survey):
    s = survey()
    english_person = html(client.get(f"/s/{s['tokens']['p3']}/1"))  # people.language = en
    assert "About you" in english_person and "Which professional group" in english_person
    assert "Om dig" in html(client.get(f"/s/{s['tokens']['p3']}/1?lang=da"))
    browser = html(client.get(f"/s/{s['tokens']['p1']}/1", headers={"Accept-Language": "en-GB,en;q=0.9"}))
    assert "About you" in browser
    danish_browser = html(client.get(f"/s/{s['tokens']['p1']}/1", headers={"Accept-Language": "da,en;q=0.5"}))
    assert "Om dig" in danish_browser


def test_error_pages_in_english(client, survey):
    s = survey(status="closed")
    assert "The questionnaire is closed" in html(client.get(f"/s/{s['tokens']['p1']}?lang=en"))
    assert "This link does not work" in html(client.get("/s/" + "z" * 43 + "?lang=en"))


def test_every_answer_page_string_is_in_the_catalogue_with_an_english_translation():
    files = [ROOT / "surveyapp" / "web" / "respond.py", *sorted((ROOT / "surveyapp" / "templates" / "respond").glob("*.html"))]
    extracted = set()
    for path in files:
        method = "python" if path.suffix == ".py" else "jinja2"
        for _, message, _, _ in extract_from_file(method, str(path)):
            extracted.add(message if isinstance(message, str) else message[0])
    assert len(extracted) > 60
    with open(ROOT / "surveyapp" / "translations" / "messages.pot", "rb") as handle:
        template = {m.id for m in read_po(handle) if m.id}
    with open(ROOT / "surveyapp" / "translations" / "en" / "LC_MESSAGES" / "messages.po", "rb") as handle:
        english = {m.id: m.string for m in read_po(handle) if m.id and not m.fuzzy}  # fuzzy ones are not compiled
    assert extracted - template == set(), "run pybabel extract (README: Answering)"
    untranslated = sorted(m for m in extracted if not english.get(m))
    assert untranslated == []


def test_no_hard_coded_danish_outside_gettext_in_answer_templates():
    """Template text outside {{ _() }} would not be translated: only tags, expressions and punctuation remain."""
    for path in (ROOT / "surveyapp" / "templates" / "respond").glob("*.html"):
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"\{#.*?#\}", "", text, flags=re.S)
        text = text.replace("{% block body_class %}respond{% endblock %}", "")  # a CSS class, not text
        text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", "", text, flags=re.S)
        text = re.sub(r'[\w-]+="[^"]*"', "", text)  # attributes built up in macros
        text = re.sub(r"<[^>]+>", "", text)
        leftovers = [w for w in re.findall(r"[A-Za-zÆØÅæøå]{3,}", text)]
        assert leftovers == [], f"{path.name}: {leftovers}"


# ---------------------------------------------------------------- registration on someone's behalf


def test_citizen_registration_comes_first_and_is_stored(client, survey, db):
    s = survey(answered_by="citizen")
    token, inv = s["tokens"]["p1"], s["invitations"]["p1"]
    assert client.get(f"/s/{token}").location.endswith(f"/s/{token}/register")
    assert client.get(f"/s/{token}/1").location.endswith(f"/s/{token}/register")
    page = html(client.get(f"/s/{token}/register"))
    assert "Svarene handler om:" in page and "Anna Andersen" in page
    assert 'name="participants"' not in page  # only for units
    bad = client.post(f"/s/{token}/register", data={"registered_by": " ", "mode": "telepathy", "reference_date": "2024-13-01"})
    assert bad.status_code == 422
    for field in ("registered_by", "mode", "reference_date"):
        assert f'id="err-{field}"' in html(bad)
    assert db.execute("SELECT registered_by FROM responses WHERE invitation_id = ?", (inv,)).fetchone() is None
    good = client.post(f"/s/{token}/register", data={"registered_by": "Sagsbehandler Sofie", "mode": "phone",
                                                      "reference_date": "2024-03-05"})
    assert good.status_code == 302 and good.location.endswith(f"/s/{token}/1")
    row = db.execute("SELECT registered_by, registration_mode, reference_date, participants FROM responses "
                     "WHERE invitation_id = ?", (inv,)).fetchone()
    assert tuple(row) == ("Sagsbehandler Sofie", "phone", "2024-03-05", None)
    page1 = html(client.get(f"/s/{token}/1"))
    assert "Anna Andersen" in page1 and 'value="back"' in page1  # back leads to the registration
    assert client.post(f"/s/{token}/1", data={"action": "back"}).location.endswith(f"/s/{token}/register")
    client.post(f"/s/{token}/1", data={"faggruppe": "2", "action": "next"})
    client.post(f"/s/{token}/2", data={"samarbejde_1": "1", "action": "next"})
    review = html(client.get(f"/s/{token}/review"))
    assert "Sagsbehandler Sofie" in review and "Over telefonen" in review and "2024-03-05" in review


def test_unit_registration_records_who_took_part(client, survey, db):
    s = survey(answered_by="unit")
    token, inv = s["tokens"]["p2"], s["invitations"]["p2"]
    page = html(client.get(f"/s/{token}/register"))
    assert "Svarene gives på vegne af:" in page and "<strong>Horsens</strong>" in page and 'name="participants"' in page
    client.post(f"/s/{token}/register", data={"registered_by": "Projektleder Per", "mode": "in_person",
                                              "reference_date": "2024-04-01", "participants": "Kerneteamet"})
    row = db.execute("SELECT registered_by, registration_mode, reference_date, participants FROM responses "
                     "WHERE invitation_id = ?", (inv,)).fetchone()
    assert tuple(row) == ("Projektleder Per", "in_person", "2024-04-01", "Kerneteamet")
    assert "<strong>Horsens</strong>" in html(client.get(f"/s/{token}/1"))


def test_self_answered_round_has_no_registration_step(client, survey):
    token = survey()["tokens"]["p1"]
    assert client.get(f"/s/{token}/register").location.endswith(f"/s/{token}/1")


# ---------------------------------------------------------------- anonymity


def test_anonymous_answers_cannot_be_joined_to_the_person(client, app, survey, db, secret):
    s = survey(anonymous=True)
    for key in ("p2", "p1"):  # answered in the opposite order of the list
        token = s["tokens"][key]
        first_page = html(client.get(f"/s/{token}/1"))
        assert "Undersøgelsen er anonym" in first_page
        client.post(f"/s/{token}/1", data={"faggruppe": "7" if key == "p1" else "2", "faggruppe_andet": "Anna-gruppe",
                                           "anciennitet": "3", "action": "next"})
        client.post(f"/s/{token}/2", data={"samarbejde_1": "2", "action": "next"})
        assert client.post(f"/s/{token}/submit").status_code == 302
    responses = [dict(r) for r in db.query("SELECT * FROM responses")]
    answers = [dict(r) for r in db.query("SELECT * FROM answers")]
    assert len(responses) == 2 and all(r["status"] == "complete" for r in responses)
    # 1. no column refers to the invitation
    assert all(r["invitation_id"] is None for r in responses)
    # 2. nothing stored with the answers equals anything stored about people or invitations
    personal = set()
    for row in db.query("SELECT i.id, i.token_hash, i.person_id, i.created_at, p.key, p.name, p.email "
                        "FROM invitations i JOIN people p ON p.id = i.person_id"):
        personal.update(str(v) for v in dict(row).values() if v is not None)
    for token in s["tokens"].values():
        personal.update({token, tokens.token_hash(token)})
    structural = {"id", "round_id", "response_id", "questionnaire_version_id", "current_section", "item_version"}
    stored = {str(v) for row in responses + answers for k, v in row.items() if v is not None and k not in structural}
    assert stored & personal == set()
    joinable = [(col, table) for table in ("responses", "answers") for col in [c[1] for c in db.execute(f"PRAGMA table_info({table})")]
                if col in ("invitation_id", "person_id", "token_hash", "email", "key", "name")]
    assert [j for j in joinable if j != ("invitation_id", "responses")] == []
    # 3. the key that finds a response again needs the secret key: it is not the token's hash
    keys = {r["anonymous_key"] for r in responses}
    assert keys.isdisjoint({tokens.token_hash(t) for t in s["tokens"].values()})
    assert keys.isdisjoint({hashlib.sha256(t.encode()).hexdigest() for t in s["tokens"].values()})
    assert keys == {tokens.anonymous_key(secret, s["tokens"][k]) for k in ("p1", "p2")}
    assert keys.isdisjoint({tokens.anonymous_key("another-secret", t) for t in s["tokens"].values()})
    # 4. timestamps are dates only, so the order of answering cannot be matched to anything
    for row in responses:
        for column in ("started_at", "last_saved_at", "submitted_at"):
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", row[column]), (column, row[column])
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", a["saved_at"]) for a in answers)
    # 5. the invitations only learn "completed", so response rates still work
    completed = {r["id"]: r["completed"] for r in db.query("SELECT id, completed FROM invitations")}
    assert completed == {s["invitations"]["p1"]: 1, s["invitations"]["p2"]: 1, s["invitations"]["p3"]: 0}
    # 6. and the respondent still gets back to their own answers (thank-you page)
    assert "Tak for dine svar" in html(client.get(f"/s/{s['tokens']['p1']}"))


def test_anonymous_respondent_resumes_with_answers_in_place(app, survey, db):
    s = survey(anonymous=True)
    token = s["tokens"]["p1"]
    app.test_client().post(f"/s/{token}/1", data={"faggruppe": "2", "anciennitet": "11", "action": "next"})
    later = app.test_client()
    assert later.get(f"/s/{token}").location.endswith(f"/s/{token}/2")
    assert 'value="11"' in html(later.get(f"/s/{token}/1"))
    # someone else's link does not see them
    assert 'value="11"' not in html(later.get(f"/s/{s['tokens']['p2']}/1"))


# ---------------------------------------------------------------- CSRF and headers


@pytest.fixture
def csrf_app(db_path, secret):
    return create_app({"DATABASE": str(db_path), "TESTING": True, "WTF_CSRF_ENABLED": True, "SECRET_KEY": secret})


def test_post_without_csrf_token_is_rejected_and_stores_nothing(csrf_app, survey, db):
    s = survey()
    token = s["tokens"]["p1"]
    client = csrf_app.test_client()
    client.get(f"/s/{token}/1")
    response = client.post(f"/s/{token}/1", data={"faggruppe": "2", "action": "next"})
    assert response.status_code == 400
    autosave = client.post(f"/s/{token}/1", data={"faggruppe": "2"}, headers={"X-Autosave": "1"})
    assert autosave.status_code == 400
    assert client.post(f"/s/{token}/submit").status_code == 400
    assert db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 0


def test_post_with_csrf_token_from_the_page_is_accepted(csrf_app, survey, db):
    s = survey()
    token = s["tokens"]["p1"]
    client = csrf_app.test_client()
    csrf = csrf_from(html(client.get(f"/s/{token}/1")))
    response = client.post(f"/s/{token}/1", data={"faggruppe": "2", "action": "next", "csrf_token": csrf})
    assert response.status_code == 302
    autosave = client.post(f"/s/{token}/2", data={"samarbejde_2": "4"}, headers={"X-Autosave": "1", "X-CSRFToken": csrf})
    assert autosave.status_code == 200
    assert db.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 2


def test_csrf_token_of_one_link_does_not_open_another(csrf_app, survey, db):
    """The answer pages' token is bound to the link (surveyapp/web/link_csrf.py), not to a session:
    a token read from one respondent's page is refused on another's, in the body or the header."""
    s = survey()
    mine, theirs = s["tokens"]["p1"], s["tokens"]["p2"]
    client = csrf_app.test_client()
    my_csrf = csrf_from(html(client.get(f"/s/{mine}/1")))
    assert csrf_from(html(client.get(f"/s/{theirs}/1"))) != my_csrf
    other = csrf_app.test_client()  # another browser: no cookie in common
    assert other.post(f"/s/{theirs}/1", data={"faggruppe": "2", "action": "next", "csrf_token": my_csrf}).status_code == 400
    assert other.post(f"/s/{theirs}/1", data={"faggruppe": "2"},
                      headers={"X-Autosave": "1", "X-CSRFToken": my_csrf}).status_code == 400
    assert db.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 0
    # the right token works from a client that never loaded a page (nothing kept in a session)
    assert other.post(f"/s/{mine}/1", data={"faggruppe": "2", "action": "next", "csrf_token": my_csrf}).status_code == 302
    assert db.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 1


def test_answer_pages_set_no_session_cookie(csrf_app, survey):
    """A respondent has no login: no page of the answer flow hands out a cookie."""
    token = survey()["tokens"]["p1"]
    client = csrf_app.test_client()
    responses = [client.get(f"/s/{token}"), client.get(f"/s/{token}/1")]
    csrf = csrf_from(html(responses[-1]))
    responses.append(client.post(f"/s/{token}/1", data={"faggruppe": "2", "action": "next", "csrf_token": csrf}))
    responses.append(client.get(f"/s/{token}/review"))
    assert [r.status_code for r in responses] == [302, 200, 302, 200]
    assert [r.headers.getlist("Set-Cookie") for r in responses] == [[], [], [], []]


def test_csrf_works_over_https_without_a_referer(csrf_app, survey, db):
    """The pages send Referrer-Policy: no-referrer, so a browser posts without Referer."""
    token = survey()["tokens"]["p1"]
    client = csrf_app.test_client()
    csrf = csrf_from(html(client.get(f"/s/{token}/1", base_url="https://survey.example")))
    response = client.post(f"/s/{token}/1", base_url="https://survey.example",
                           data={"faggruppe": "2", "action": "next", "csrf_token": csrf})
    assert response.status_code == 302
    assert db.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 1


def test_answer_pages_are_never_cached_and_never_leak_the_link(client, survey):
    s = survey()
    token = s["tokens"]["p1"]
    answered = survey(status="closed")
    for url in (f"/s/{token}/1", f"/s/{token}/review", "/s/" + "q" * 43, f"/s/{answered['tokens']['p1']}"):
        response = client.get(url)
        assert response.headers["Cache-Control"] == "no-store", url
        assert response.headers["Referrer-Policy"] == "no-referrer", url
    response = client.post(f"/s/{token}/1", data={"action": "next"})
    assert response.status_code == 422 and response.headers["Cache-Control"] == "no-store"


def test_pages_have_no_inline_script_or_style(client, survey):
    token = survey()["tokens"]["p1"]
    for url in (f"/s/{token}/1", f"/s/{token}/2", f"/s/{token}/review"):
        page = html(client.get(url))
        assert "style=" not in page and "onclick" not in page.lower()
        assert re.findall(r"<script[^>]*>([^<]*)</script>", page) == [""]
