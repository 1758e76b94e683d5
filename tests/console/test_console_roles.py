"""The role matrix: every console route x every role (and nobody logged in).

The routes are read from the application's url_map, so a new /console route that is missing
from ACCESS below fails the test, and a route without a login/role decorator fails the
anonymous case (it would answer instead of sending the visitor to /login)."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from surveyapp.db import connect

from console_helpers import invitation_id

ADMIN, LEAD, READER = "boss", "lead", "reader"
EVERYONE = {"admin", "unit_lead", "evaluator"}
ADMIN_ONLY = {"admin"}
LEADS = {"admin", "unit_lead"}
READERS = {"admin", "evaluator"}

# endpoint -> roles allowed
ACCESS = {
    "console.index": EVERYONE,
    "console.round_view": EVERYONE,
    "console.rates_csv": EVERYONE,
    "console.new_round": ADMIN_ONLY,
    "console.round_settings": ADMIN_ONLY,
    "console.round_status": ADMIN_ONLY,
    "console.copy_list": ADMIN_ONLY,
    "console.templates": ADMIN_ONLY,
    "console.resolve_mail": ADMIN_ONLY,
    "console.users": ADMIN_ONLY,
    "console.audit_log": READERS,
    "console.respondents": LEADS,
    "console.upload": LEADS,
    "console.upload_confirm": LEADS,
    "console.respondent_new": LEADS,
    "console.respondent_edit": LEADS,
    "console.respondent_eligibility": LEADS,
    "console.respondent_remove": LEADS,
    "console.send": LEADS,
}
# What an allowed role gets for a request with an empty form: a page (200), a redirect back
# with a message (302) or the form again with the problem (400).
ALLOWED_STATUS = {
    ("console.new_round", "POST"): 400,
    ("console.round_settings", "POST"): 400,
    ("console.round_status", "POST"): 400,
    ("console.copy_list", "POST"): 302,
    ("console.templates", "POST"): 400,
    ("console.resolve_mail", "POST"): 302,
    ("console.users", "POST"): 400,
    ("console.upload", "POST"): 302,
    ("console.upload_confirm", "POST"): 302,
    ("console.respondent_new", "POST"): 400,
    ("console.respondent_edit", "POST"): 302,
    ("console.respondent_eligibility", "POST"): 302,
    ("console.respondent_remove", "POST"): 302,
    ("console.send", "POST"): 200,
}
USERS = {"admin": ADMIN, "unit_lead": LEAD, "evaluator": READER}


def _console_rules() -> list[tuple[str, str, str]]:
    from surveyapp import create_app

    folder = Path(tempfile.mkdtemp(prefix="console-rules-"))
    app = create_app({"DATABASE": str(folder / "rules.db"), "TESTING": True, "SECRET_KEY": "x"})
    rules = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/console"):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                rules.append((rule.endpoint, method, rule.rule))
    assert rules, "no /console routes found"
    return rules


RULES = _console_rules()


def test_every_console_route_is_in_the_matrix():
    missing = sorted({endpoint for endpoint, _, _ in RULES} - set(ACCESS))
    assert not missing, f"add these console routes to ACCESS with the roles that may use them: {missing}"


@pytest.mark.parametrize("role", [None, "admin", "unit_lead", "evaluator"])
@pytest.mark.parametrize("endpoint,method,rule", RULES, ids=[f"{m} {r}" for _, m, r in RULES])
def test_role_matrix(console_app, console_db_path, as_user, endpoint, method, rule, role):
    db = connect(console_db_path)
    round_id = db.execute("SELECT id FROM rounds").fetchone()[0]
    inv = invitation_id(db, round_id, "hor-2")  # a Horsens respondent: the unit lead's own unit
    mail_id = db.execute("INSERT INTO mails (invitation_id, kind, step, status, at) VALUES (?, 'invitation', 0, 'sending', "
                         "'2015-03-02T10:00:00+00:00')", (inv,)).lastrowid
    db.conn.close()
    values = {"round_id": round_id, "invitation_id": inv, "mail_id": mail_id}
    with console_app.test_request_context():
        from flask import url_for

        url = url_for(endpoint, **{k: v for k, v in values.items() if f"<int:{k}>" in rule})
    client = as_user(USERS.get(role))
    response = client.open(url, method=method, data={})
    if role is None:
        assert response.status_code == 302, f"{method} {url} answered {response.status_code} to a visitor who is not logged in"
        assert "/login" in response.headers["Location"]
    elif role not in ACCESS[endpoint]:
        assert response.status_code == 403, f"{method} {url} as {role}: {response.status_code}"
    else:
        expected = ALLOWED_STATUS.get((endpoint, method), 200)
        assert response.status_code == expected, f"{method} {url} as {role}: {response.status_code}"
        if response.status_code == 302:
            assert "/login" not in response.headers["Location"]


def test_unit_lead_is_kept_to_own_units(console_app, cdb, as_user):
    round_id = cdb.execute("SELECT id FROM rounds").fetchone()[0]
    kolding = invitation_id(cdb, round_id, "kol-2")
    lead = as_user(LEAD)
    # Another unit's respondent cannot be seen, edited, marked or removed.
    assert lead.get(f"/console/rounds/{round_id}/respondents/{kolding}").status_code == 403
    assert lead.post(f"/console/rounds/{round_id}/respondents/{kolding}", data={"name": "X"}).status_code == 403
    assert lead.post(f"/console/rounds/{round_id}/respondents/{kolding}/eligibility", data={"reason": "fratrådt"}).status_code == 403
    assert lead.post(f"/console/rounds/{round_id}/respondents/{kolding}/remove").status_code == 403
    assert tuple(cdb.execute("SELECT removed_at, eligible FROM invitations WHERE id = ?", (kolding,)).fetchone()) == (None, 1)
    assert cdb.execute("SELECT name FROM people WHERE key = 'kol-2'").fetchone()[0] == "Eva Fisk"
    # The list and the numbers show only Horsens.
    page = lead.get(f"/console/rounds/{round_id}/respondents").get_data(as_text=True)
    assert "hor-1" in page and "hor-3" in page and "kol-1" not in page and "kol-2" not in page
    csv_text = lead.get(f"/console/rounds/{round_id}/rates.csv").get_data(as_text=True)
    assert "Kolding" not in csv_text and "Horsens" in csv_text
    total = [line for line in csv_text.splitlines()[1:] if line.split(",")[1:3] == ["", ""]]
    assert total and total[0].split(",")[3] == "3"  # invited: the three Horsens people only
    # Adding someone to another unit is refused.
    response = lead.post(f"/console/rounds/{round_id}/respondents/new",
                         data={"key": "kol-9", "email": "x@kolding.example", "group": "ledere", "unit": "Kolding"})
    assert response.status_code == 400
    assert not cdb.execute("SELECT 1 FROM people WHERE key = 'kol-9'").fetchone()
