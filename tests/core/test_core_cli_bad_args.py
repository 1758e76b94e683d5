"""Command lines that gave a Python traceback (found by a probe of every command with bad values):
each is now one 'error: ...' line with a non-zero exit, and the database is unchanged."""
from __future__ import annotations

import shutil

import pytest

from surveyapp.db import connect

from core_helpers import Cli

HUGE = "9" * 30


@pytest.fixture
def demo_cli(demo_db_file, tmp_path, monkeypatch, secret):
    monkeypatch.setenv("SURVEYAPP_SECRET_KEY", secret)
    path = tmp_path / "demo.db"
    shutil.copy(demo_db_file, path)
    return Cli(path)


def counts(path) -> dict:
    db = connect(path)
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'audit_log'")]
    result = {t: db.execute(f"SELECT count(*) FROM [{t}]").fetchone()[0] for t in tables}
    db.conn.close()
    return result


def refused(cli, *args, exit_code: int = 1) -> str:
    before = counts(cli.db_path)
    result = cli(*args, ok=False)
    assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert counts(cli.db_path) == before
    return lines[0]


@pytest.mark.parametrize("today,reason", [
    ("2013-02-30", "'2013-02-30' is not a date"),
    ("31-12-2013", "'31-12-2013' is not a date"),
    ("0001-01-01", "is before the birth date"),
])
def test_a_bad_today_is_refused(demo_cli, today, reason):
    assert reason in refused(demo_cli, "cases", "worklist", "--project", "familieprogression", "--today", today)


def test_a_crosstab_of_a_free_text_item_is_refused(demo_cli):
    message = refused(demo_cli, "report", "crosstab", "Marts 2013", "faggruppe_andet", "faggruppe", "--project", "forebyggelse")
    assert "'faggruppe_andet' is a text item" in message


@pytest.mark.parametrize("args", [
    ("activities", "status", HUGE, "Måling 3"),
    ("audit", "--limit", HUGE),
    ("retention", "Marts 2013", HUGE),
    ("round", "create", "--name", "X", "--questionnaire", "forebyggelse-ledere", "--project", "forebyggelse",
     "--retention-days", HUGE),
    ("reminders", "send", "September 2014", "--min-days", HUGE, "--dry-run"),
    ("serve", "--port", "-1"),
])
def test_numbers_out_of_range_are_usage_errors(demo_cli, args):
    assert "is not in the range" in refused(demo_cli, *args, exit_code=2)


def test_a_questionnaire_version_that_is_no_number_is_refused(demo_cli):
    message = refused(demo_cli, "round", "create", "--name", "X", "--questionnaire", "forebyggelse-ledere@²",
                      "--project", "forebyggelse")
    assert "the version after @ must be a number" in message


@pytest.mark.parametrize("port", ["abc", "0", "70000", "1" * 5000])
def test_a_bad_smtp_port_setting_is_named(demo_cli, monkeypatch, port):
    monkeypatch.setenv("SURVEYAPP_SMTP_PORT", port)
    message = refused(demo_cli, "invitations", "send", "September 2014", "--dry-run")
    assert "SURVEYAPP_SMTP_PORT must be a port number" in message


def test_a_file_that_is_not_a_database_is_named(tmp_path):
    junk = tmp_path / "answers.csv"
    junk.write_bytes(b"key;email\n" * 300)
    result = Cli(junk)("round", "list", ok=False)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.strip() == f"error: {junk}: file is not a database"
    assert junk.read_bytes() == b"key;email\n" * 300  # not touched


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "sav"])
@pytest.mark.parametrize("out", ["", "missing-folder-is-made/../" + "x" * 300])
def test_an_export_path_that_cannot_be_written_is_named(demo_cli, tmp_path, monkeypatch, fmt, out):
    monkeypatch.chdir(tmp_path)
    message = refused(demo_cli, "export", "--round", "Marts 2013", "--project", "forebyggelse", "--format", fmt, "--out", out)
    assert "Is a directory" in message or "File name too long" in message


def test_output_into_a_missing_folder_is_named(demo_cli, tmp_path):
    target = tmp_path / "no" / "such" / "schema.json"
    assert refused(demo_cli, "questionnaire", "schema", "--out", target) == f"error: {target}: No such file or directory"


def test_deeply_nested_answers_are_a_usage_error(demo_cli):
    message = refused(demo_cli, "cases", "register", "F003-1", "--slot", "M1", "--questionnaire", "who5", "--mode", "in_person",
                      "--date", "2026-11-05", "--by", "Anne", "--answers", "[" * 100_000, exit_code=2)
    assert "nested too deeply" in message


def test_opening_a_family_without_a_project_is_refused(demo_cli):
    message = refused(demo_cli, "cases", "open", "F900", "--unit", "Esbjerg", "--opened", "2026-01-05", "--project", " ")
    assert "a family needs a project" in message


def test_opening_a_family_in_a_new_project_works(demo_cli):
    result = demo_cli("cases", "open", "F900", "--unit", "Esbjerg", "--opened", "2026-01-05", "--project", "nyt-projekt")
    assert "family F900 opened" in result.stdout
    db = connect(demo_cli.db_path)
    assert db.execute("SELECT project_id FROM cases WHERE key = 'F900'").fetchone()[0] == "nyt-projekt"
    db.conn.close()
