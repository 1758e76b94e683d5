"""`surveyapp backup` and `surveyapp restore` on real files (the backup under live HTTP load is in
test_reliability_faults.py)."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

from click.testing import CliRunner

from reliability_support import make_round, person
from surveyapp import create_app, responses as rs, tokens
from surveyapp.cli import main


def save_first_page(db, secret, token, value="3"):
    response = rs.start_response(db, secret, token, tokens.find_invitation(db, secret, token))
    rs.save_page(db, response, 0, {f"samarbejde_{i}": value for i in range(1, 5)})


def answers(path) -> list:
    conn = sqlite3.connect(str(path))
    rows = sorted(tuple(r) for r in conn.execute("SELECT response_id, item_id, value_num FROM answers"))
    conn.close()
    return rows


def test_backup_then_restore_over_a_crashed_database(db, db_path, secret, tmp_path):
    made = make_round(db, secret, [person(i) for i in range(6)])
    for key in ("emp0000", "emp0001"):
        save_first_page(db, secret, made["tokens"][key])
    runner = CliRunner()
    backup_file = tmp_path / "backups" / "b1.db"
    done = runner.invoke(main, ["--db", str(db_path), "backup", str(backup_file)])
    assert done.exit_code == 0, done.output
    at_backup = answers(backup_file)
    assert len(at_backup) == 8 and at_backup == answers(db_path)
    assert sqlite3.connect(str(backup_file)).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert backup_file.stat().st_mode & 0o777 == 0o600  # personal data: the owner only
    assert list(backup_file.parent.iterdir()) == [backup_file]  # no temporary file left behind

    # The same name again is refused (a backup is never overwritten by accident) ...
    again = runner.invoke(main, ["--db", str(db_path), "backup", str(backup_file)])
    assert again.exit_code == 1 and "exists" in again.output
    onto_itself = runner.invoke(main, ["--db", str(db_path), "backup", str(db_path)])
    assert onto_itself.exit_code == 1 and "must not be the database itself" in onto_itself.output

    # Later answers, then a process dies with its writes still in the WAL (no checkpoint, no close).
    save_first_page(db, secret, made["tokens"]["emp0002"])
    db.conn.close()
    script = textwrap.dedent(f"""
        import os, sqlite3
        conn = sqlite3.connect({str(db_path)!r}, isolation_level=None)
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        conn.execute("UPDATE answers SET value_num = 1")
        os._exit(0)
    """)
    subprocess.run([sys.executable, "-c", script], check=True)
    assert db_path.with_name(db_path.name + "-wal").stat().st_size > 0
    assert len(answers(db_path)) == 12

    # A broken or foreign file is refused and changes nothing.
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    refused = runner.invoke(main, ["--db", str(db_path), "restore", str(junk), "--yes"])
    assert refused.exit_code == 1 and "nothing restored" in refused.output  # refused, not a crash
    assert len(answers(db_path)) == 12

    restored = runner.invoke(main, ["--db", str(db_path), "restore", str(backup_file), "--yes"])
    assert restored.exit_code == 0, restored.output
    assert answers(db_path) == at_backup
    conn = sqlite3.connect(str(db_path))
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()

    # A working instance: the restored answers are on the respondent's page; new answers save.
    app = create_app({"DATABASE": str(db_path), "TESTING": True, "WTF_CSRF_ENABLED": False, "SECRET_KEY": secret})
    client = app.test_client()
    page = client.get(f"/s/{made['tokens']['emp0000']}/1").get_data(as_text=True)
    assert 'value="3" checked' in page
    assert client.post(f"/s/{made['tokens']['emp0003']}/1", data={"samarbejde_1": "5", "action": "next"}).status_code == 302
    assert len(answers(db_path)) == 9


def test_restore_asks_before_replacing(db, db_path, secret, tmp_path):
    make_round(db, secret, [person(0)])
    backup_file = tmp_path / "b.db"
    assert CliRunner().invoke(main, ["--db", str(db_path), "backup", str(backup_file)]).exit_code == 0
    declined = CliRunner().invoke(main, ["--db", str(db_path), "restore", str(backup_file)], input="n\n")
    assert declined.exit_code != 0 and "Aborted" in declined.output


def test_restoring_a_backup_from_an_older_version_brings_its_schema_up_to_date(db, db_path, secret, tmp_path):
    made = make_round(db, secret, [person(0), person(1)])
    save_first_page(db, secret, made["tokens"]["emp0000"])
    backup_file = tmp_path / "old.db"
    assert CliRunner().invoke(main, ["--db", str(db_path), "backup", str(backup_file)]).exit_code == 0
    # what a backup made before migration 0007 looks like: neither its index nor its record
    old = sqlite3.connect(str(backup_file))
    old.execute("DROP INDEX questionnaire_versions_id_sha256")
    old.execute("DELETE FROM migrations WHERE name = '0007_version_hash_index.sql'")
    old.commit()
    old.close()

    done = CliRunner().invoke(main, ["--db", str(db_path), "restore", "--yes", str(backup_file)])
    assert done.exit_code == 0, done.output
    restored = sqlite3.connect(str(db_path))
    assert restored.execute("SELECT 1 FROM sqlite_master WHERE name = 'questionnaire_versions_id_sha256'").fetchone()
    assert restored.execute("SELECT 1 FROM migrations WHERE name = '0007_version_hash_index.sql'").fetchone()
    restored.close()
    # the answer pages' look-up (which names the index) works on the restored database at once
    from surveyapp.db import connect

    again = connect(db_path)
    visit = tokens.find_visit(again, secret, made["tokens"]["emp0000"])
    assert visit["response"] is not None and visit["questionnaire_sha256"]
    again.conn.close()
