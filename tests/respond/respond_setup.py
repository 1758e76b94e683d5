"""Shared set-up for the answer-page tests (Flask client and browser): a questionnaire with every
item type, a round in the wanted state, invitations and their personal tokens."""
from __future__ import annotations

import re
from pathlib import Path

from surveyapp import questionnaire_store, respondents, rounds, tokens
from surveyapp.db import transaction

HERE = Path(__file__).resolve().parent
YAML = HERE / "respond_test.yaml"

PEOPLE = [
    {"key": "p1", "name": "Anna Andersen", "email": "anna@example.org", "unit": "Horsens", "group": ""},
    {"key": "p2", "name": "Bo Berg", "email": "bo@example.org", "unit": "Horsens", "group": ""},
    {"key": "p3", "name": "Carl Cold", "email": "carl@example.org", "unit": "Vejle", "group": "", "language": "en"},
]


def build(db, secret: str, name: str = "Runde 1", status: str = "open", anonymous: bool = False,
          answered_by: str = "self", allow_edit: bool = False, people: list[dict] | None = None) -> dict:
    """Load the test questionnaire, create a round in `status` and invite `people`.

    Returns {"round": round row, "tokens": {key: token}, "invitations": {key: invitation id}}.
    """
    questionnaire_store.load(db, YAML, actor="test")
    round_id = rounds.create_round(db, name, {"": "respond-test"}, project="test", anonymous=anonymous,
                                   allow_edit_after_submit=allow_edit, answered_by=answered_by, actor="test")
    round_ = rounds.get_round(db, round_id)
    invitations = {}
    with transaction(db):
        for person in people or PEOPLE:
            invitations[person["key"]] = respondents.add_invitation(db, round_, dict(person), secret)
    if status in ("open", "closed"):
        rounds.open_round(db, round_id, actor="test")
    if status == "closed":
        rounds.close_round(db, round_id, actor="test")
    return {"round": rounds.get_round(db, round_id),
            "tokens": {key: tokens.make_token(secret, inv) for key, inv in invitations.items()},
            "invitations": invitations}


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def html(response) -> str:
    return response.get_data(as_text=True)


def answers_of(db, invitation_id: int) -> dict:
    """The stored answers of the invitation's (personal) response: {item id: (value_num, value_text)}."""
    rows = db.query("SELECT a.item_id, a.value_num, a.value_text FROM answers a JOIN responses r ON r.id = a.response_id "
                    "WHERE r.invitation_id = ?", [invitation_id])
    return {r["item_id"]: (r["value_num"], r["value_text"]) for r in rows}
