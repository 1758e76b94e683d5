"""Fixtures for the console tests: a populated round, accounts, logged-in clients and a real
SMTP server (aiosmtpd) on loopback that collects every delivered message."""
from __future__ import annotations

import shutil

import pytest

from surveyapp.db import connect, migrate
from console_helpers import SECRET, build_round, login, make_users, running_smtp_server


@pytest.fixture(scope="session")
def console_template(tmp_path_factory):
    """A database with accounts and one open round, built once; each test gets a copy."""
    path = tmp_path_factory.mktemp("console-template") / "template.db"
    db = connect(path)
    migrate(db)
    make_users(db)
    build_round(db, SECRET)
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.conn.close()
    return path


@pytest.fixture
def console_db_path(console_template, db_path):
    shutil.copy(console_template, db_path)
    return db_path


@pytest.fixture
def cdb(console_db_path):
    database = connect(console_db_path)
    yield database
    database.conn.close()


@pytest.fixture
def console_app(console_db_path, secret, smtp_server):
    from surveyapp import create_app

    app = create_app({"DATABASE": str(console_db_path), "TESTING": True, "WTF_CSRF_ENABLED": False, "SECRET_KEY": secret,
                      "SMTP_HOST": "127.0.0.1", "SMTP_PORT": smtp_server.port, "SMTP_TLS": "none",
                      "MAIL_FROM": "Projektledelsen <survey@example.dk>", "BASE_URL": "http://testserver"})
    return app


@pytest.fixture
def as_user(console_app, console_db_path):
    def make(username: str | None):
        client = console_app.test_client()
        if username:
            login(client, console_db_path, username)
        return client
    return make


@pytest.fixture
def smtp_server():
    with running_smtp_server() as server:
        yield server
