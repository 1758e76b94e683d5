"""Login, throttling, session hardening and CSRF for the console."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from click.testing import CliRunner

from surveyapp import create_app, users
from surveyapp.cli import main
from surveyapp.db import connect

from console_helpers import PASSWORDS, SECRET


def sent_to_login(response) -> bool:
    """Not logged in (any more): the console answers with a redirect to the login page."""
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def post_login(client, username, password, addr="127.0.0.1", next_url=""):
    return client.post("/login", data={"username": username, "password": password, "next": next_url},
                       environ_base={"REMOTE_ADDR": addr})


def test_login_sets_a_hardened_session_and_logout_ends_it(console_app, cdb):
    client = console_app.test_client()
    assert sent_to_login(client.get("/console/"))
    response = post_login(client, "boss", PASSWORDS["boss"])
    assert response.status_code == 302 and response.headers["Location"] == "/console/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie  # http base URL
    expires = dt.datetime.strptime(re.search(r"Expires=([^;]+)", cookie).group(1), "%a, %d %b %Y %H:%M:%S GMT")
    hours = (expires - dt.datetime.utcnow()).total_seconds() / 3600
    assert 7.9 < hours <= 8.0  # a console session lasts a working day, not a month
    assert client.get("/console/").status_code == 200
    attempt = cdb.execute("SELECT username, remote_addr, succeeded FROM login_attempts").fetchone()
    assert attempt["username"] == "boss" and attempt["succeeded"] == 1
    assert "127.0.0.1" not in attempt["remote_addr"]  # stored as a keyed hash, never the address
    assert client.post("/logout").status_code == 302
    assert sent_to_login(client.get("/console/"))


def test_a_session_ends_eight_hours_after_login_however_active(console_app):
    client = console_app.test_client()
    post_login(client, "boss", PASSWORDS["boss"])
    assert client.get("/console/").status_code == 200
    with client.session_transaction() as session:
        session["login_at"] -= 7 * 3600
    assert client.get("/console/").status_code == 200
    with client.session_transaction() as session:
        session["login_at"] -= 3600 + 5
    assert sent_to_login(client.get("/console/"))


def test_wrong_password_and_unknown_user_get_the_same_answer(console_app):
    client = console_app.test_client()
    wrong = post_login(client, "boss", "not-the-password")
    unknown = post_login(client, "nobody", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert "Forkert brugernavn eller adgangskode." in wrong.get_data(as_text=True)
    assert "Forkert brugernavn eller adgangskode." in unknown.get_data(as_text=True)
    assert sent_to_login(client.get("/console/"))


def test_throttling_after_five_failures_per_username_and_client(console_app, cdb):
    client = console_app.test_client()
    for _ in range(users.LOGIN_MAX_FAILURES):
        assert post_login(client, "boss", "wrong-password", "10.0.0.1").status_code == 401
    blocked = post_login(client, "boss", PASSWORDS["boss"], "10.0.0.1")  # even the right password
    assert blocked.status_code == 429
    assert "For mange mislykkede forsøg" in blocked.get_data(as_text=True)
    assert sent_to_login(client.get("/console/"))
    # Another client is not blocked; nor is another user from the same client.
    assert post_login(console_app.test_client(), "boss", PASSWORDS["boss"], "10.0.0.2").status_code == 302
    assert post_login(console_app.test_client(), "reader", PASSWORDS["reader"], "10.0.0.1").status_code == 302
    # After the window the user can log in again.
    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=users.LOGIN_WINDOW_MINUTES + 1)).replace(microsecond=0)
    cdb.execute("UPDATE login_attempts SET at = ? WHERE succeeded = 0", (old.isoformat(),))
    assert post_login(client, "boss", PASSWORDS["boss"], "10.0.0.1").status_code == 302


def test_next_goes_only_to_this_site(console_app):
    client = console_app.test_client()
    assert client.get("/console/audit").headers["Location"].startswith("/login?next=/console/audit")
    assert post_login(client, "boss", PASSWORDS["boss"], next_url="/console/audit").headers["Location"] == "/console/audit"
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        other = console_app.test_client()
        assert post_login(other, "boss", PASSWORDS["boss"], next_url=evil).headers["Location"] == "/console/"


def test_password_change_and_deactivation_end_existing_sessions(console_app, cdb):
    client = console_app.test_client()
    post_login(client, "lead", PASSWORDS["lead"])
    assert client.get("/console/").status_code == 200
    users.update_user(cdb, "lead", "boss", password="a-brand-new-password")
    assert sent_to_login(client.get("/console/"))
    post_login(client, "lead", "a-brand-new-password")
    assert client.get("/console/").status_code == 200
    users.update_user(cdb, "lead", "boss", units=["Horsens", "Kolding"])  # wider rights need a new login
    assert sent_to_login(client.get("/console/"))
    post_login(client, "lead", "a-brand-new-password")
    users.update_user(cdb, "lead", "boss", active=False)
    assert sent_to_login(client.get("/console/"))
    assert post_login(client, "lead", "a-brand-new-password").status_code == 401


@pytest.fixture
def csrf_app(console_db_path, secret):
    return create_app({"DATABASE": str(console_db_path), "TESTING": True, "SECRET_KEY": secret})


def token_from(html: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)


def test_forms_need_the_csrf_token(csrf_app, cdb):
    client = csrf_app.test_client()
    no_token = client.post("/login", data={"username": "boss", "password": PASSWORDS["boss"]})
    assert no_token.status_code == 400
    page = client.get("/login").get_data(as_text=True)
    ok = client.post("/login", data={"username": "boss", "password": PASSWORDS["boss"], "csrf_token": token_from(page)})
    assert ok.status_code == 302
    round_id = cdb.execute("SELECT id FROM rounds").fetchone()[0]
    forged = client.post(f"/console/rounds/{round_id}/status", data={"action": "close"})
    assert forged.status_code == 400
    assert cdb.execute("SELECT status FROM rounds WHERE id = ?", (round_id,)).fetchone()[0] == "open"
    page = client.get(f"/console/rounds/{round_id}").get_data(as_text=True)
    closed = client.post(f"/console/rounds/{round_id}/status", data={"action": "close", "csrf_token": token_from(page)})
    assert closed.status_code == 302
    assert cdb.execute("SELECT status FROM rounds WHERE id = ?", (round_id,)).fetchone()[0] == "closed"
    entry = cdb.execute("SELECT actor FROM audit_log WHERE action = 'round.closed'").fetchone()
    assert entry["actor"] == "boss"


def test_secure_cookie_behind_https(console_db_path, secret, monkeypatch):
    monkeypatch.setenv("SURVEYAPP_BASE_URL", "https://survey.example.dk")
    app = create_app({"DATABASE": str(console_db_path), "TESTING": True, "WTF_CSRF_ENABLED": False, "SECRET_KEY": secret})
    response = post_login(app.test_client(), "boss", PASSWORDS["boss"])
    assert "Secure" in response.headers["Set-Cookie"]


def test_first_admin_from_the_command_line(db_path, monkeypatch):
    monkeypatch.setenv("SURVEYAPP_NEW_PASSWORD", "first-admin-password")
    result = CliRunner().invoke(main, ["--db", str(db_path), "user", "create", "chef", "--role", "admin"])
    assert result.exit_code == 0, result.output
    app = create_app({"DATABASE": str(db_path), "TESTING": True, "WTF_CSRF_ENABLED": False, "SECRET_KEY": SECRET})
    client = app.test_client()
    assert post_login(client, "chef", "first-admin-password").status_code == 302
    assert client.get("/console/users").status_code == 200
    db = connect(db_path)
    assert db.execute("SELECT role FROM users WHERE username = 'chef'").fetchone()[0] == "admin"
    assert db.execute("SELECT password_hash FROM users WHERE username = 'chef'").fetchone()[0].startswith("$argon2id$")


def test_console_pages_stay_danish_for_an_english_browser(console_app, console_db_path):
    from console_helpers import login

    client = console_app.test_client()
    assert "Log ind i konsollen" in client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    login(client, console_db_path, "boss")
    page = client.get("/console/", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    assert "Målerunder" in page and "Svarprocent" in page and "Log ud" in page


def test_admin_manages_accounts_in_the_browser(console_app, console_db_path, cdb):
    from console_helpers import login

    admin = console_app.test_client()
    login(admin, console_db_path, "boss")
    created = admin.post("/console/users", data={"action": "create", "username": "vejle", "password": "vejle-password-1",
                                                 "role": "unit_lead", "units": "Vejle, Horsens"})
    assert created.status_code == 302
    row = cdb.execute("SELECT role, units, active FROM users WHERE username = 'vejle'").fetchone()
    assert (row["role"], row["units"], row["active"]) == ("unit_lead", '["Vejle", "Horsens"]', 1)
    short = admin.post("/console/users", data={"action": "create", "username": "kort", "password": "kort", "role": "evaluator"})
    assert short.status_code == 400 and "adgangskoden skal have mindst 10 tegn" in short.get_data(as_text=True)
    no_unit = admin.post("/console/users", data={"action": "create", "username": "x", "password": "x-password-1", "role": "unit_lead"})
    assert no_unit.status_code == 400 and "mindst én enhed" in no_unit.get_data(as_text=True)
    new = console_app.test_client()
    assert post_login(new, "vejle", "vejle-password-1").status_code == 302
    assert new.get("/console/").status_code == 200
    assert admin.post("/console/users", data={"action": "deactivate", "username": "vejle"}).status_code == 302
    assert sent_to_login(new.get("/console/"))  # the open session ends
    assert post_login(console_app.test_client(), "vejle", "vejle-password-1").status_code == 401
    self_off = admin.post("/console/users", data={"action": "deactivate", "username": "boss"})
    assert self_off.status_code == 400 and cdb.execute("SELECT active FROM users WHERE username = 'boss'").fetchone()[0] == 1
    actions = [r["action"] for r in cdb.query("SELECT action FROM audit_log WHERE actor = 'boss' ORDER BY id")]
    assert actions == ["user.created", "user.updated"]
    # The list shows each lead's units as typed, Danish letters included.
    assert admin.post("/console/users", data={"action": "create", "username": "aarhus", "password": "aarhus-password-1",
                                              "role": "unit_lead", "units": "Århus Ø, Vejle"}).status_code == 302
    page = admin.get("/console/users").get_data(as_text=True)
    listed = dict(re.findall(r"<tr><td>([^<]+)</td><td>unit_lead</td><td>([^<]*)</td>", page))
    assert listed == {"aarhus": "Århus Ø, Vejle", "lead": "Horsens", "lead2": "Kolding", "vejle": "Vejle, Horsens"}
