"""Migrations: an empty database gets the whole schema, an older one is upgraded in place
(data kept), and running init again changes nothing."""
from __future__ import annotations

import sqlite3

import pytest

from surveyapp import db as dbmod
from surveyapp import questionnaire_store, rounds
from surveyapp.db import applied_migrations, connect, migrate

REAL = dbmod.migration_files()


def schema(path) -> dict[str, list[str]]:
    """{table: [column names]} of a database file, read with plain sqlite3."""
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: [c[1] for c in conn.execute(f"PRAGMA table_info('{t}')")] for t in tables}
    finally:
        conn.close()


def test_migrations_are_numbered_and_shipped():
    names = [name for name, _ in REAL]
    assert names[0] == "0001_initial.sql"
    assert names == sorted(names)
    assert all(name[:4].isdigit() and name.endswith(".sql") for name in names)
    assert len({name[:4] for name in names}) == len(names), "two migrations share a number"


def test_empty_database_gets_every_migration_and_init_twice_is_a_no_op(cli, db_path):
    first = cli("init")
    assert "applied" in first.stdout and "0001_initial.sql" in first.stdout
    before = schema(db_path)
    assert {"projects", "rounds", "invitations", "responses", "answers", "audit_log", "migrations"} <= set(before)
    second = cli("init")
    assert second.exit_code == 0 and "up to date" in second.stdout
    assert schema(db_path) == before
    conn = connect(db_path)
    assert applied_migrations(conn) == {name for name, _ in REAL}
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    conn.conn.close()


def test_older_database_is_upgraded_in_place_with_its_data(tmp_path, monkeypatch, minimal_yaml):
    old_path, fresh_path = tmp_path / "old.db", tmp_path / "fresh.db"
    extra = ("9999_test_upgrade.sql",
             "ALTER TABLE projects ADD COLUMN contact TEXT;\nCREATE INDEX projects_contact ON projects(contact);\n")

    # An installation from the first release: only 0001 exists.
    monkeypatch.setattr(dbmod, "migration_files", lambda: REAL[:1])
    old = connect(old_path)
    assert migrate(old) == ["0001_initial.sql"]
    questionnaire_store.load(old, minimal_yaml)
    round_id = rounds.create_round(old, "Måling 1", {"": "demo-fidelity"}, "familie", "2019-03-01", "2019-03-31")
    rounds.open_round(old, round_id)
    old.conn.close()
    assert set(schema(old_path)["projects"]) == {"id", "name", "min_n", "created_at"}

    # The new release: every shipped migration plus one more that changes an existing table.
    monkeypatch.setattr(dbmod, "migration_files", lambda: REAL + [extra])
    upgraded = connect(old_path)
    applied = migrate(upgraded)
    assert applied == [name for name, _ in REAL[1:]] + [extra[0]]
    # Data kept, not recreated.
    round_ = rounds.get_round(upgraded, "Måling 1")
    assert (round_["id"], round_["status"], round_["opens"]) == (round_id, "open", "2019-03-01")
    assert [tuple(r) for r in upgraded.execute("SELECT id, contact FROM projects")] == [("familie", None)]
    assert [tuple(r) for r in upgraded.execute("SELECT questionnaire_id, version FROM questionnaire_versions")] == [("demo-fidelity", 1)]
    assert migrate(upgraded) == []
    upgraded.conn.close()

    # The upgraded file has exactly the schema a new installation gets.
    fresh = connect(fresh_path)
    migrate(fresh)
    fresh.conn.close()
    assert schema(old_path) == schema(fresh_path)


def test_a_failing_migration_leaves_nothing_behind(tmp_path, monkeypatch):
    path = tmp_path / "x.db"
    broken = ("9998_broken.sql", "CREATE TABLE half_done (id INTEGER);\nINSERT INTO no_such_table VALUES (1);\n")
    monkeypatch.setattr(dbmod, "migration_files", lambda: REAL + [broken])
    conn = connect(path)
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn)
    assert "half_done" not in conn.table_names()
    assert broken[0] not in applied_migrations(conn)
    assert applied_migrations(conn) == {name for name, _ in REAL}
    conn.conn.close()


def test_split_sql_keeps_triggers_whole():
    script = ("-- comment\nCREATE TABLE t (a INTEGER);\n"
              "CREATE TRIGGER t_ai AFTER INSERT ON t BEGIN\n  UPDATE t SET a = a + 1;\n  SELECT 1;\nEND;\n")
    statements = dbmod.split_sql(script)
    assert len(statements) == 2
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")
