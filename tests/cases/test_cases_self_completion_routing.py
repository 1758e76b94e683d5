"""Self-completion links follow the schedule's item routing: the leisure-job question of
trivsel-unge (`fritidsjob`, asked only of those over 13 on the day) is never put in front of a
younger child on their own answer pages, a value posted for it is not stored, and the rates'
applicable count leaves it out. A professional's registration is unchanged, and the list of
items not asked never shows up as a respondent attribute in the lists or the export."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from cases_helpers import trivsel

from surveyapp import cases, report_data, respondents, responses, results, rounds

TODAY = dt.date(2024, 8, 10)


@pytest.fixture
def family(loaded):
    db = loaded
    cases.open_case(db, "fp", "F1", "Aarhus", "2024-01-10")
    cases.add_member(db, "F1", "F1-10", "barn", "2014-03-01", name="Ida")      # 10 on TODAY
    cases.add_member(db, "F1", "F1-15", "barn", "2009-03-01", name="Oskar")    # 15 on TODAY
    cases.add_member(db, "F1", "F1-13", "barn", "2010-09-01", name="Liv")      # 13 on TODAY, 14 from 2024-09-01
    return db


def link_path(db, secret, key, today=TODAY) -> str:
    [link] = cases.self_completion_link(db, secret, "http://testserver", key, "M1", "anna", today=today)
    assert link["questionnaire"] == "trivsel-unge"
    return link["url"].replace("http://testserver", "")


def walk(client, path: str) -> tuple[list[str], str]:
    """Open the link and follow it to the first page; return the HTML of every page (GET)
    from there to the review page and the review page itself."""
    opened = client.get(path)
    assert opened.status_code == 302
    pages, target = [], opened.headers["Location"]
    assert re.search(r"/s/[^/]+/\d+$", target), target  # the registration is recorded: straight to the questions
    number = int(target.rsplit("/", 1)[1])
    while True:
        page = client.get(f"{path}/{number}")
        if page.status_code != 200:
            break
        pages.append(page.get_data(as_text=True))
        number += 1
    return pages, client.get(f"{path}/review").get_data(as_text=True)


def stored(db, key: str) -> dict:
    rows = db.query("SELECT a.item_id, a.value_num FROM answers a JOIN responses r ON r.id = a.response_id "
                    "JOIN measurements ms ON ms.response_id = r.id JOIN case_members m ON m.id = ms.member_id "
                    "JOIN people p ON p.id = m.person_id WHERE p.key = ?", [key])
    return {r["item_id"]: r["value_num"] for r in rows}


def test_ten_year_old_is_never_asked_the_leisure_job_question(family, client, secret):
    db = family
    path = link_path(db, secret, "F1-10")
    pages, review = walk(client, path)
    assert len(pages) == 1  # trivsel-unge has one page
    assert 'name="trivsel_humoer"' in pages[0]
    assert 'name="fritidsjob"' not in pages[0] and "Har du et fritidsjob?" not in pages[0]
    assert "Har du et fritidsjob?" not in review

    # A crafted post with a value for it stores the asked items only.
    saved = client.post(f"{path}/1", data={**trivsel(4, 3, 2, 4, 3, fritidsjob=1), "action": "next"})
    assert saved.status_code == 302 and saved.headers["Location"].endswith(f"{path}/review")
    assert stored(db, "F1-10") == {"trivsel_humoer": 4, "trivsel_hjemme": 3, "trivsel_skole": 2,
                                   "trivsel_venner": 4, "trivsel_overskud": 3}
    done = client.post(f"{path}/submit")
    assert done.status_code == 302 and done.headers["Location"].endswith(f"{path}/done")
    assert "fritidsjob" not in stored(db, "F1-10")
    status = db.execute("SELECT r.status, r.registration_mode FROM responses r JOIN measurements ms ON ms.response_id = r.id "
                        "JOIN case_members m ON m.id = ms.member_id JOIN people p ON p.id = m.person_id WHERE p.key = 'F1-10'"
                        ).fetchone()
    assert tuple(status) == ("complete", "self_completion")


def test_fifteen_year_old_is_asked_and_the_answer_is_stored(family, client, secret):
    db = family
    path = link_path(db, secret, "F1-15")
    pages, review = walk(client, path)
    assert 'name="fritidsjob"' in pages[0]
    client.post(f"{path}/1", data={**trivsel(2, 2, 2, 2, 2, fritidsjob=1), "action": "next"})
    assert stored(db, "F1-15")["fritidsjob"] == 1


def test_a_link_reissued_after_the_birthday_asks_the_question(family, client, secret):
    db = family
    path = link_path(db, secret, "F1-13")  # 13 on 2024-08-10
    assert 'name="fritidsjob"' not in walk(client, path)[0][0]
    again = link_path(db, secret, "F1-13", today=dt.date(2024, 9, 2))  # 14 now: the same link, routing updated
    assert again == path
    assert 'name="fritidsjob"' in walk(client, path)[0][0]


def test_applicable_count_excludes_the_item_not_asked(family, client, secret):
    db = family
    path_10, path_15 = link_path(db, secret, "F1-10"), link_path(db, secret, "F1-15")
    round_id = db.execute("SELECT round_id FROM measurements LIMIT 1").fetchone()[0]
    rounds.update_round(db, round_id, actor="test", partial_threshold=1.0)
    # Both answer the five well-being items and save without submitting; fritidsjob is not answered.
    for path in (path_10, path_15):
        assert client.post(f"{path}/1", data={**trivsel(3, 3, 3, 3, 3), "action": "back"}).status_code == 302
    rows = results.response_rows(db, [round_id])
    counts = sorted((r["applicable"], r["answered"]) for r in rows)
    # 10-year-old: 5 asked items, 5 answered; 15-year-old: 6 asked (with fritidsjob), 5 answered.
    assert counts == [(5, 5), (6, 5)]
    [rate] = results.rate_rows(db, [round_id])
    assert (rate["complete"], rate["valid_partial"]) == (0, 1)  # 5/5 >= 1.0; 5/6 < 1.0


def test_professional_registration_is_unchanged(family, secret):
    db = family
    with pytest.raises(responses.PageInvalid) as refused:
        cases.register_measurement(db, secret, "F1-10", "M1", "trivsel-unge", trivsel(3, 3, 3, 3, 3, fritidsjob=2),
                                   "phone", "2024-07-10", "anna", today=TODAY)
    assert list(refused.value.errors) == ["fritidsjob"]
    assert db.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 0
    young = cases.register_measurement(db, secret, "F1-10", "M1", "trivsel-unge", trivsel(3, 3, 3, 3, 3),
                                       "phone", "2024-07-10", "anna", today=TODAY)
    old = cases.register_measurement(db, secret, "F1-15", "M1", "trivsel-unge", trivsel(1, 2, 3, 4, 5, fritidsjob=2),
                                     "in_person", "2024-07-10", "anna", today=TODAY)
    assert young["status"] == old["status"] == "complete"
    assert stored(db, "F1-10") == {f"trivsel_{k}": 3 for k in ("humoer", "hjemme", "skole", "venner", "overskud")}
    assert stored(db, "F1-15")["fritidsjob"] == 2
    # The registration writes the routing on the date it refers to onto the invitation.
    lists = dict(db.execute("SELECT p.key, i.not_asked FROM invitations i JOIN people p ON p.id = i.person_id").fetchall())
    assert lists == {"F1-10": '["fritidsjob"]', "F1-15": "[]"}


def test_not_asked_is_not_a_respondent_attribute(family, client, secret):
    db = family
    path = link_path(db, secret, "F1-10")
    client.post(f"{path}/1", data={**trivsel(3, 3, 3, 3, 3), "action": "next"})
    client.post(f"{path}/submit")
    round_id = db.execute("SELECT round_id FROM measurements LIMIT 1").fetchone()[0]
    db.execute("UPDATE projects SET min_n = 1 WHERE id = 'fp'")
    [person] = respondents.list_respondents(db, round_id)
    assert person["attributes"] == {"case": "F1", "slot": "M1"}
    assert "not_asked" not in person
    exported = report_data.export_data(db, [round_id], secret=secret)
    assert exported["attributes"] == ["case", "slot"]
    [row] = exported["rows"]
    assert "not_asked" not in row and not any("not_asked" in str(k) for k in row)
    assert row["fritidsjob"] in (None, "")
