"""Every shipped questionnaire renders as answer pages and can be answered and submitted."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from markupsafe import escape

from surveyapp import questionnaire_store, respondents, rounds, tokens
from surveyapp.db import transaction
from surveyapp.questionnaire import load_file

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p for p in (ROOT / "questionnaires").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_questionnaire_can_be_answered_in_danish_and_english(path, client, db, secret):
    q = load_file(path)
    questionnaire_store.load(db, path, actor="test")
    round_id = rounds.create_round(db, "R", {"": q.id}, project="shipped", actor="test")
    group = (q.groups or [""])[0]
    with transaction(db):
        invitation = respondents.add_invitation(db, rounds.get_round(db, round_id),
                                                {"key": "k1", "name": "N", "group": group, "unit": "U"}, secret)
    rounds.open_round(db, round_id, actor="test")
    token = tokens.make_token(secret, invitation)
    for index, section in enumerate(q.sections):
        number = index + 1
        page = client.get(f"/s/{token}/{number}")
        if page.status_code == 302:  # every item on it is skipped for this group/answers
            continue
        assert page.status_code == 200, (path.name, number)
        text = page.get_data(as_text=True)
        english = client.get(f"/s/{token}/{number}?lang=en").get_data(as_text=True)
        if section.title_en:
            assert str(escape(section.title_en)) in english
        form = {"action": "next"}
        for item in section.items:
            if item.type == "info" or not q.applies_to_group(item, group):
                continue
            if item.show_if is None:
                assert f'name="{item.id}"' in text, (path.name, item.id)
            codes = q.substantive_codes(item)
            if codes:
                rendered = re.findall(rf'name="{item.id}" value="(-?\d+)"', text)
                assert rendered[:len(codes)] == [str(c) for c in codes]
                form[item.id] = str(codes[-1])
            elif item.type == "number":
                form[item.id] = str(int(item.min if item.min is not None else 1))
            elif item.type == "date":
                form[item.id] = "2024-01-31"
            elif item.type == "text":
                form[item.id] = "svar"
        response = client.post(f"/s/{token}/{number}", data=form)
        assert response.status_code == 302, (path.name, number, response.get_data(as_text=True)[-2000:])
    assert client.post(f"/s/{token}/submit").status_code == 302
    status = db.execute("SELECT status FROM responses WHERE invitation_id = ?", (invitation,)).fetchone()[0]
    assert status == "complete"
