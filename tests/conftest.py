"""Fixtures every test area shares: a real SQLite file per test, the app, a loaded round."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from surveyapp import create_app
from surveyapp.db import connect, migrate

ROOT = Path(__file__).resolve().parent.parent
QUESTIONNAIRES = ROOT / "questionnaires"
OUTPUT = ROOT / "test-output"

MINIMAL_YAML = textwrap.dedent("""\
    id: demo-fidelity
    title: Fidelitetsmåling
    language: da
    personal: false      # answered for a unit, not about a person: no small-number suppression
    scales:
      grad5:
        options:
          - {code: 1, label: Slet ikke}
          - {code: 2, label: I mindre grad}
          - {code: 3, label: I nogen grad}
          - {code: 4, label: I høj grad}
          - {code: 5, label: I meget høj grad}
        missing:
          - {code: 9, label: Ved ikke}
    sections:
      - id: opsporing
        title: Opsporing
        items:
          - {id: ops_1, text: Der er udviklet særlige redskaber til opsporing, scale: grad5}
          - {id: ops_2, text: Der er afholdt visitationsmøder, scale: grad5}
    indices:
      - {id: opsporing, title: Opsporing, items: [ops_1, ops_2]}
    """)

SECRET = "test-secret-key-not-for-production"


def pytest_sessionstart(session):
    """Compile the translation catalogues when a .po is newer than its .mo (dev.py does this too),
    so that plain `pytest` tests the English pages against the catalogue in the tree."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in (ROOT / "surveyapp" / "translations").glob("*/LC_MESSAGES/*.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with po.open("rb") as source:
                catalog = read_po(source)
            with mo.open("wb") as target:
                write_mo(target, catalog)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    monkeypatch.setenv("SURVEYAPP_SECRET_KEY", SECRET)
    monkeypatch.setenv("SURVEYAPP_BASE_URL", "http://testserver")
    monkeypatch.delenv("SURVEYAPP_DB", raising=False)


@pytest.fixture
def secret() -> str:
    return SECRET


@pytest.fixture(scope="session")
def demo_db_file(tmp_path_factory) -> Path:
    """The demo database (`surveyapp demo`: three projects, rounds, fidelity, families), built once
    per session under SECRET. Copy it before changing it."""
    from surveyapp.demo import build_demo

    path = tmp_path_factory.mktemp("demo") / "demo.db"
    database = connect(path)
    migrate(database)
    build_demo(database, SECRET)
    database.conn.close()
    return path


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "survey.db"


@pytest.fixture
def db(db_path):
    database = connect(db_path)
    migrate(database)
    yield database
    database.conn.close()


@pytest.fixture
def app(db_path):
    application = create_app({"DATABASE": str(db_path), "TESTING": True, "WTF_CSRF_ENABLED": False,
                              "SECRET_KEY": SECRET})
    yield application


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def minimal_yaml(tmp_path) -> Path:
    path = tmp_path / "demo-fidelity.yaml"
    path.write_text(MINIMAL_YAML, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """Where tests save screenshots and figures for a reviewer to look at."""
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT
