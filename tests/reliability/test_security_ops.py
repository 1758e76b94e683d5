"""Security, checked by behaviour: links, the wrong-token throttle, headers, cookies, CSRF and
anonymity. The answer pages are driven through the real app on a real SQLite file."""
from __future__ import annotations

import base64
import io
import hashlib
import re
import secrets

import pytest

from reliability_support import make_round, person
from surveyapp import create_app, tokens
from surveyapp.db import transaction
from surveyapp.throttle import Throttle, client_key

CSRF_RE = re.compile(r'name="csrf_token"\s+value="([^"]+)"')


def page_form(number: int) -> dict:
    prefix = ["samarbejde", "viden", "ledelse", "metoder", "resultater"][number - 1]
    return {f"{prefix}_1": "4", f"{prefix}_2": "2", f"{prefix}_3": "9", f"{prefix}_4": "5",
            f"{prefix}_valg": ["1", "4"], f"{prefix}_kommentar": "Fin dag", "action": "next"}


def answer_all(client, token: str, csrf: bool = False) -> None:
    for number in range(1, 6):
        form = page_form(number)
        if csrf:
            form["csrf_token"] = CSRF_RE.search(client.get(f"/s/{token}/{number}").get_data(as_text=True)).group(1)
        assert client.post(f"/s/{token}/{number}", data=form).status_code == 302
    form = {}
    if csrf:
        form["csrf_token"] = CSRF_RE.search(client.get(f"/s/{token}/review").get_data(as_text=True)).group(1)
    assert client.post(f"/s/{token}/submit", data=form).status_code == 302


def answer_count(db) -> int:
    return db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]


@pytest.fixture
def round_(db, secret):
    return make_round(db, secret, [person(i) for i in range(8)])


# ------------------------------------------------------------------------------------ tokens


def test_tokens_carry_at_least_128_bits_and_differ(db, secret, round_):
    all_tokens = list(round_["tokens"].values())
    for token in all_tokens:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        assert len(raw) * 8 >= 128
    assert len(set(all_tokens)) == len(all_tokens)
    # Derived from the secret key: another key gives other links for the same invitations.
    assert tokens.make_token("another-secret", 1) != tokens.make_token(secret, 1)


def test_no_token_text_anywhere_in_the_database_file(app, db, db_path, secret):
    personal = make_round(db, secret, [person(i) for i in range(6)], name="Personlig")
    anonymous = make_round(db, secret, [person(i) for i in range(6, 12)], name="Anonym", anonymous=True)
    client = app.test_client()
    for token in list(personal["tokens"].values())[:3] + list(anonymous["tokens"].values())[:3]:
        answer_all(client, token)
    assert answer_count(db) == 6 * 30
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.conn.close()
    blob = db_path.read_bytes()
    wal = db_path.with_name(db_path.name + "-wal")
    blob += wal.read_bytes() if wal.exists() else b""
    every = list(personal["tokens"].values()) + list(anonymous["tokens"].values())
    for token in every:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        assert token.encode() not in blob and raw not in blob and token[:20].encode() not in blob
    # ... while the hashes that find them are there.
    assert all(hashlib.sha256(t.encode()).hexdigest().encode() in blob for t in every)


def test_wrong_token_of_the_right_shape_is_404_and_stores_nothing(client, db, secret, round_):
    good = round_["tokens"]["emp0000"]
    flipped = good[:-1] + ("A" if good[-1] != "A" else "B")
    random_token = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    other_key = tokens.make_token("not-the-servers-key", round_["invitations"]["emp0000"])
    for token in (flipped, random_token, other_key):
        assert tokens.looks_like_token(token)
        assert client.get(f"/s/{token}").status_code == 404
        assert client.post(f"/s/{token}/1", data=page_form(1)).status_code == 404
    assert answer_count(db) == 0
    assert client.get(f"/s/{good}").status_code == 302


def test_write_access_to_the_database_alone_does_not_make_a_link(client, db, secret, round_):
    """The stored hash finds the row; the HMAC under the server's key (compared with
    hmac.compare_digest) decides. Planting the hash of a made-up token in the table opens nothing."""
    forged = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    with transaction(db):
        db.execute("UPDATE invitations SET token_hash = ? WHERE id = ?",
                   (tokens.token_hash(forged), round_["invitations"]["emp0001"]))
    assert client.get(f"/s/{forged}").status_code == 404
    assert client.post(f"/s/{forged}/1", data=page_form(1)).status_code == 404
    assert answer_count(db) == 0


# ------------------------------------------------------------------------------------ throttle


def test_many_wrong_tokens_get_429_for_that_client_only(app, db, round_):
    client = app.test_client()
    good = round_["tokens"]["emp0002"]
    attacker = {"REMOTE_ADDR": "203.0.113.9"}
    for _ in range(20):
        wrong = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
        assert client.get(f"/s/{wrong}", environ_base=attacker).status_code == 404
    blocked = client.get(f"/s/{good}", environ_base=attacker)  # even a real link, from that client
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert "For mange" in blocked.get_data(as_text=True)
    assert client.post(f"/s/{good}/1", data=page_form(1), environ_base=attacker).status_code == 429
    assert answer_count(db) == 0
    # Another client is not affected.
    assert client.get(f"/s/{good}", environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code == 302
    # A second worker process (another app on the same database) knows the client is blocked.
    other_worker = create_app({"DATABASE": app.config["DATABASE"], "TESTING": True, "WTF_CSRF_ENABLED": False,
                               "SECRET_KEY": app.config["SECRET_KEY"]})
    assert other_worker.test_client().get(f"/s/{good}", environ_base=attacker).status_code == 429
    # No IP address is stored.
    dump = "\n".join(str(tuple(r)) for r in db.execute("SELECT * FROM token_throttle"))
    assert "203.0.113.9" not in dump and dump


def test_a_few_mistyped_links_do_not_block(client, round_):
    good = round_["tokens"]["emp0003"]
    for _ in range(5):
        assert client.get(f"/s/{good[:-2]}xx").status_code == 404
    # A real link asking for pages that do not exist is not guessing: it never counts.
    for _ in range(30):
        assert client.get(f"/s/{good}/99").status_code == 404
    assert client.get(f"/s/{good}").status_code == 302


def test_throttle_window_and_block_expire(db):
    now = [1000.0]
    throttle = Throttle(limit=3, window=60, block=120, clock=lambda: now[0])
    who = client_key("k", "192.0.2.1")
    assert throttle.record_failure(db, who) is None
    now[0] += 61  # the window passed: the count starts again
    assert throttle.record_failure(db, who) is None
    assert throttle.record_failure(db, who) is None
    assert throttle.record_failure(db, who) == pytest.approx(now[0] + 120)
    assert throttle.blocked_until(db, who) == pytest.approx(now[0] + 120)
    fresh_worker = Throttle(limit=3, window=60, block=120, clock=lambda: now[0])  # no memory of its own
    assert fresh_worker.blocked_until(db, who) is not None
    now[0] += 121
    assert throttle.blocked_until(db, who) is None and fresh_worker.blocked_until(db, who) is None


# ------------------------------------------------------------------------------------ headers, cookies, CSRF


def test_answer_pages_send_no_store_no_referrer_and_a_strict_csp(client, round_):
    token = round_["tokens"]["emp0004"]
    for path in (f"/s/{token}/1", f"/s/{token}/review", f"/s/{'x' * 43}"):
        response = client.get(path)
        headers = response.headers
        assert "no-store" in headers["Cache-Control"]
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Content-Type-Options"] == "nosniff"
        csp = dict(part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";") if part.strip())
        assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
        assert csp["frame-ancestors"] == "'none'"
        assert headers["X-Frame-Options"] == "DENY"   # older browsers ignore frame-ancestors
        assert "'unsafe-inline'" not in csp.get("style-src", csp["default-src"])
        html = response.get_data(as_text=True)
        # Nothing the CSP would block: no inline scripts, event handlers or style attributes.
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
        assert not re.search(r"\son[a-z]+\s*=", html, re.I) and " style=" not in html


def _login(client, db, username="sikker-admin"):
    from surveyapp.users import create_user

    create_user(db, username, "a-long-password-123", "admin", [])
    return client.post("/login", data={"username": username, "password": "a-long-password-123"})


def test_session_cookie_is_httponly_samesite_and_secure_behind_tls(db, db_path, monkeypatch):
    monkeypatch.setenv("SURVEYAPP_BASE_URL", "https://survey.example.dk")
    app = create_app({"DATABASE": str(db_path), "TESTING": True, "WTF_CSRF_ENABLED": False})
    response = _login(app.test_client(), db)
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_session_cookie_without_tls_is_not_marked_secure(db, db_path):
    app = create_app({"DATABASE": str(db_path), "TESTING": True, "WTF_CSRF_ENABLED": False})
    cookie = _login(app.test_client(), db).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_csrf_rejects_posts_without_the_token(db, db_path, secret, round_):
    app = create_app({"DATABASE": str(db_path), "TESTING": True, "WTF_CSRF_ENABLED": True, "SECRET_KEY": secret})
    client = app.test_client()
    token = round_["tokens"]["emp0005"]
    client.get(f"/s/{token}/1")
    refused = client.post(f"/s/{token}/1", data=page_form(1))
    assert refused.status_code == 400 and "sikkerhedsfelt" in refused.get_data(as_text=True)
    assert client.post(f"/s/{token}/1", data={**page_form(1), "csrf_token": "forged"}).status_code == 400
    assert answer_count(db) == 0
    assert client.post("/login", data={"username": "x", "password": "y"}).status_code == 400
    # With the token from the page the same post is saved.
    answer_all(client, token, csrf=True)
    assert answer_count(db) == 30


# ------------------------------------------------------------------------------------ anonymity


def test_an_anonymous_round_cannot_be_joined_to_people(app, db, secret):
    anon = make_round(db, secret, [person(i) for i in range(10)], name="Anonym", anonymous=True)
    client = app.test_client()
    for key in ("emp0001", "emp0004", "emp0007"):
        answer_all(client, anon["tokens"][key])
    rows = [dict(r) for r in db.execute("SELECT * FROM responses WHERE round_id = ?", (anon["round_id"],))]
    assert len(rows) == 3
    assert all(r["invitation_id"] is None for r in rows)
    # No value of a response row (other than round, group, unit) occurs in invitations or people.
    linkable = set()
    for table in ("invitations", "people"):
        for r in db.execute(f"SELECT * FROM {table}"):
            linkable.update(str(v) for k, v in dict(r).items() if v not in (None, "") and k not in ("round_id", "group_name", "unit"))
    for r in rows:
        for column in ("anonymous_key", "registered_by", "participants", "source"):
            if r[column] not in (None, "", "web"):
                assert str(r[column]) not in linkable, column
    # Times are kept as dates only, so the order of answering cannot be matched to mail times.
    for r in rows:
        for column in ("started_at", "last_saved_at", "submitted_at"):
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", r[column]), (column, r[column])
    assert {len(r[0]) for r in db.execute("SELECT saved_at FROM answers")} == {10}
    # The only thing the list learns is who completed: 3 flags, not which answers are whose.
    assert db.execute("SELECT COUNT(*) FROM invitations WHERE round_id = ? AND completed = 1",
                      (anon["round_id"],)).fetchone()[0] == 3
    # A query that tries the obvious join finds nothing.
    joined = db.execute("SELECT COUNT(*) FROM responses r JOIN invitations i ON i.id = r.invitation_id "
                        "OR i.token_hash = r.anonymous_key WHERE r.round_id = ?", (anon["round_id"],)).fetchone()[0]
    assert joined == 0


# ------------------------------------------------------------------------------------ bodies too large


def test_oversized_bodies_get_413_and_store_nothing(client, db, round_):
    token = round_["tokens"]["emp0006"]
    big = {**page_form(1), "samarbejde_kommentar": "x" * (6 * 1024 * 1024)}
    response = client.post(f"/s/{token}/1", data=big)
    assert response.status_code == 413
    assert "for stor" in response.get_data(as_text=True)
    assert answer_count(db) == 0
    # A respondent list upload in the console (logged in as admin), 6 MB against a 5 MB limit.
    assert _login(client, db).status_code == 302
    people_before = db.execute("SELECT COUNT(*) FROM people").fetchone()[0]
    csv_body = b"key,email\n" + b"".join(b"k%07d,p%07d@example.dk\n" % (i, i) for i in range(200_000))
    assert len(csv_body) > 5 * 1024 * 1024
    upload = client.post(f"/console/rounds/{round_['round_id']}/upload", data={"file": (io.BytesIO(csv_body), "liste.csv")},
                         content_type="multipart/form-data")
    assert upload.status_code == 413
    assert db.execute("SELECT COUNT(*) FROM people").fetchone()[0] == people_before


def _urls(app, samples):
    """(rule, URL with the sample values filled in) for every route of the app."""
    for rule in app.url_map.iter_rules():
        url = rule.rule
        for name in rule.arguments:
            url = re.sub(rf"<(?:[a-z]+:)?{name}>", str(samples.get(name, 1)), url)
        yield rule, url


def test_every_post_route_refuses_a_post_without_csrf_token(db, db_path, secret, round_):
    """Generic: any route that accepts POST (now or added later) answers 400 without the token,
    before its view runs (so before login checks too), and nothing changes in the database."""
    app = create_app({"DATABASE": str(db_path), "TESTING": True, "WTF_CSRF_ENABLED": True, "SECRET_KEY": secret})
    client = app.test_client()
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN "
                                       "('token_throttle', 'login_attempts')")]
    before = {t: db.execute(f'SELECT * FROM "{t}"').fetchall() for t in tables}
    samples = {"token": round_["tokens"]["emp0007"], "project": "p", "slot": "baseline"}
    posted = []
    for rule, url in _urls(app, samples):
        if not rule.methods & {"POST", "PUT", "PATCH", "DELETE"}:
            continue
        for method in sorted(rule.methods & {"POST", "PUT", "PATCH", "DELETE"}):
            response = client.open(url, method=method, data={"action": "next", "username": "a", "password": "b"})
            assert response.status_code == 400, (method, url, response.status_code)
            posted.append(url)
    assert len(posted) >= 5 and any(u.startswith("/s/") for u in posted)
    assert {t: db.execute(f'SELECT * FROM "{t}"').fetchall() for t in tables} == before


def test_behind_a_proxy_the_throttle_sees_the_real_client(bench, tmp_path):
    """`serve --proxy 1` (nginx/Caddy in front): the X-Forwarded-For client is throttled, other
    respondents coming through the same proxy are not; the scheme comes from X-Forwarded-Proto."""
    prepared = bench.prepare(tmp_path / "proxy.db", 2)
    server = bench.Server(tmp_path / "proxy.db", workers=2, threads=2, log=tmp_path / "server.log",
                          extra_args=("--proxy", "1")).start()
    try:
        client = bench.Client(server.port)
        guesser = {"X-Forwarded-For": "203.0.113.50", "X-Forwarded-Proto": "https"}
        for _ in range(20):
            wrong = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
            assert client.request("GET", f"/s/{wrong}", headers=guesser)[0] == 404
        good = prepared["tokens"][0]
        assert client.request("GET", f"/s/{good}", headers=guesser)[0] == 429
        status, headers, _ = client.request("GET", f"/s/{good}", headers={"X-Forwarded-For": "198.51.100.20",
                                                                           "X-Forwarded-Proto": "https"})
        assert status == 302 and headers["location"].startswith(("https://", "/s/"))
        client.close()
    finally:
        server.stop()


PUBLIC = {"/", "/healthz", "/login", "/logout", "/static/<path:filename>"}  # plus the answer links /s/...


def test_every_route_but_the_public_ones_needs_a_login_and_evaluators_cannot_write(db, db_path, secret, round_):
    """Generic over the URL map, so a route added later is covered too: anonymous requests are sent
    to the login page, and an evaluator (read-only) gets 403 on every POST outside the answer links."""
    app = create_app({"DATABASE": str(db_path), "TESTING": True, "WTF_CSRF_ENABLED": False, "SECRET_KEY": secret})
    samples = {"token": round_["tokens"]["emp0007"], "project": "p", "slot": "baseline", "filename": "app.css"}
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN "
                                       "('token_throttle', 'login_attempts', 'audit_log')")]
    before = {t: db.execute(f'SELECT * FROM "{t}"').fetchall() for t in tables}
    anonymous = app.test_client()
    guarded = 0
    for rule, url in _urls(app, samples):
        if rule.rule in PUBLIC or rule.rule.startswith("/s/"):
            continue
        for method in sorted(rule.methods & {"GET", "POST"}):
            response = anonymous.open(url, method=method)
            assert response.status_code == 302 and "/login" in response.headers["Location"], (method, url)
            guarded += 1
    assert guarded >= 20

    from surveyapp.users import create_user

    create_user(db, "laeser", "a-long-password-123", "evaluator", [])
    evaluator = app.test_client()
    assert evaluator.post("/login", data={"username": "laeser", "password": "a-long-password-123"}).status_code == 302
    writes = 0
    for rule, url in _urls(app, samples):
        if "POST" not in rule.methods or rule.rule in PUBLIC or rule.rule.startswith("/s/"):
            continue
        assert evaluator.post(url, data={"name": "x"}).status_code == 403, url
        writes += 1
    assert writes >= 10
    assert {t: db.execute(f'SELECT * FROM "{t}"').fetchall() for t in tables if t != "users"} == \
        {t: rows for t, rows in before.items() if t != "users"}
