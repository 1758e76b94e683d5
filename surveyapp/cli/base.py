"""The `surveyapp` command group, shared options and output helpers.

Each area registers its commands on these groups in its own module (core, mailing,
reports, ops, fidelity, cases); `surveyapp/cli/__init__.py` imports them all.
"""
from __future__ import annotations

import csv
import functools
import io
import json
import sqlite3
from pathlib import Path

import click

from .. import config
from ..db import MAX_ROW_ID, connect, default_db_path, migrate
from ..errors import ImportRejected, SurveyError
from ..questionnaire import QuestionnaireError
from ..rounds import MAX_RETENTION_DAYS


class App:
    """What every command needs: the database path, a connection and the settings."""

    def __init__(self, db_path: str | None):
        self.db_path = Path(db_path) if db_path else default_db_path()
        self._db = None

    @property
    def db(self):
        if self._db is None:
            try:
                self._db = connect(self.db_path)
                migrate(self._db)
            except sqlite3.DatabaseError as problem:  # not SQLite, damaged, or a path SQLite cannot open
                raise SurveyError(f"{self.db_path}: {problem}") from None
        return self._db

    @functools.cached_property
    def settings(self) -> dict:
        return config.settings(self.db_path)

    @property
    def secret(self) -> str:
        return self.settings["SECRET_KEY"]


pass_app = click.make_pass_decorator(App)

# Whole numbers on the command line, bounded so that an absurd value is a usage error rather
# than an OverflowError in SQLite (> 2**63) or in date arithmetic.
ROW_ID = click.IntRange(1, MAX_ROW_ID)
DAYS = click.IntRange(0, MAX_RETENTION_DAYS)
COUNT = click.IntRange(1, 1_000_000)


class Group(click.Group):
    """Turns the services' errors into one-line reasons on stderr and a non-zero exit."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except QuestionnaireError as error:
            for problem in error.problems:
                click.echo(str(problem), err=True)
            ctx.exit(1)
        except ImportRejected as error:
            click.echo(f"error: {error}", err=True)
            for row in error.errors:
                click.echo(f"{error.filename}: {row}", err=True)
            ctx.exit(1)
        except SurveyError as error:
            click.echo(f"error: {error}", err=True)
            ctx.exit(1)
        except OSError as error:  # a file the command reads or writes: missing folder, name too long, no permission
            where = f"{error.filename}: " if error.filename not in (None, "") else ""
            click.echo(f"error: {where}{error.strerror or error}", err=True)
            ctx.exit(1)
        except click.UsageError as error:
            # A wrong command line is one line too (interface.md), with the command it concerns.
            where = error.ctx.command_path if error.ctx else ctx.command_path
            click.echo(f"error: {where}: {error.format_message()} (see {where} --help)", err=True)
            ctx.exit(2)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", "db_path", envvar="SURVEYAPP_DB", type=click.Path(dir_okay=False),
              help="SQLite database file (default: instance/surveyapp.db, or $SURVEYAPP_DB).")
@click.pass_context
def main(ctx, db_path):
    """surveyapp: questionnaires, measurement rounds, response rates and reports."""
    ctx.obj = App(db_path)


def subgroup(name: str, help_text: str) -> click.Group:
    group = Group(name, help=help_text)
    main.add_command(group)
    return group


questionnaire = subgroup("questionnaire", "Validate and load questionnaire YAML files.")
round_ = subgroup("round", "Create measurement rounds and open or close them.")
respondents = subgroup("respondents", "Respondent lists.")
invitations = subgroup("invitations", "Personal links and invitation e-mails.")
reminders = subgroup("reminders", "Reminder e-mails to those who have not completed.")
responses = subgroup("responses", "Answers from other tools.")
report = subgroup("report", "Tables computed from the stored answers.")
user = subgroup("user", "Accounts for the web console.")


def check_files(files, load) -> None:
    """Validate every file with load(path); raise QuestionnaireError with the problems of all of
    them (the command group prints each as FILE:LINE: message and exits 1)."""
    problems = []
    for path in files:
        try:
            load(path)
        except QuestionnaireError as error:
            problems.extend(error.problems)
    if problems:
        raise QuestionnaireError(problems)


format_option = click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)


def emit(rows, fmt: str, columns: list[str] | None = None) -> None:
    """Print rows as JSON (one document), CSV or an aligned table."""
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
        return
    if isinstance(rows, dict):
        rows = [rows]
    if not rows:
        click.echo("(no rows)" if fmt == "table" else "", err=fmt == "table")
        return
    columns = columns or list(rows[0].keys())
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")  # shell pipelines (cut, awk) expect plain newlines
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _plain(row.get(k)) for k in columns})
        click.echo(buffer.getvalue(), nl=False)
        return
    table = [[_plain(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(str(c)), *(len(r[i]) for r in table)) for i, c in enumerate(columns)]
    click.echo("  ".join(str(c).ljust(w) for c, w in zip(columns, widths)))
    for r in table:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths)))


def _plain(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
