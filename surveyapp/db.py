"""The SQLite connection, its pragmas and the migration runner.

Every module that writes goes through `connect()` and wraps one logical change in
`with transaction(db):` so that a crash never leaves half of it behind.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
from pathlib import Path

import sqlite_utils

from .errors import NotFound, SurveyError

BUSY_TIMEOUT_MS = 10_000


def default_db_path() -> Path:
    return Path(os.environ.get("SURVEYAPP_DB") or Path.cwd() / "instance" / "surveyapp.db")


def connect(path: str | os.PathLike | None = None) -> sqlite_utils.Database:
    """Open the database with the pragmas every connection needs.

    The connection runs in autocommit mode (isolation_level=None); `transaction()` issues
    BEGIN IMMEDIATE so that writers queue on the busy timeout instead of failing midway.
    """
    path = Path(path or default_db_path())
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return sqlite_utils.Database(conn)


@contextlib.contextmanager
def transaction(db: sqlite_utils.Database):
    """One logical write: BEGIN IMMEDIATE ... COMMIT, rolled back on any exception.

    Nested use joins the outer transaction, so service functions can call each other.
    """
    conn = db.conn
    if conn.in_transaction:
        yield db
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


def find_by_id_or_name(db, table: str, name_column: str, ref, project: str | None, what: str) -> dict:
    """A row of `table` by numeric id or by name (within a project when given), as rounds,
    families and other things named on the command line are found. Raises NotFound, or
    SurveyError when the name is ambiguous across projects."""
    text = str(ref).strip()
    row = None
    if text.isdigit():
        row = db.execute(f"SELECT * FROM {table} WHERE id = ?", (int(text),)).fetchone()
    if row is None:
        sql, params = f"SELECT * FROM {table} WHERE {name_column} = ?", [text]
        if project:
            sql += " AND project_id = ?"
            params.append(project)
        rows = db.execute(sql, params).fetchall()
        if len(rows) > 1:
            raise SurveyError(f"several projects have a {what} named '{text}'; use its id or --project")
        row = rows[0] if rows else None
    if row is None:
        raise NotFound(f"{what} '{text}' not found")
    return dict(row)


def now() -> str:
    """UTC timestamp as stored everywhere: ISO 8601 with seconds."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def migration_files() -> list[tuple[str, str]]:
    """(name, sql) of every migration shipped with the package, in order."""
    folder = Path(__file__).resolve().parent / "migrations"
    files = sorted(folder.glob("*.sql"))
    return [(p.name, p.read_text(encoding="utf-8")) for p in files]


def applied_migrations(db: sqlite_utils.Database) -> set[str]:
    if "migrations" not in db.table_names():
        return set()
    return {row["name"] for row in db.query("SELECT name FROM migrations")}


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply the migrations not yet applied, each in its own transaction.

    Safe to run any number of times; an existing database is upgraded in place and
    never recreated. Returns the names applied now.
    """
    db.execute(
        "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    done = applied_migrations(db)
    applied = []
    for name, sql in migration_files():
        if name in done:
            continue
        conn = db.conn
        # executescript would commit on its own; run the statements inside one transaction.
        conn.execute("BEGIN IMMEDIATE")
        # Another process (two `init`s, a web worker starting) may have applied it meanwhile.
        if conn.execute("SELECT 1 FROM migrations WHERE name = ?", (name,)).fetchone():
            conn.execute("ROLLBACK")
            continue
        try:
            for statement in split_sql(sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO migrations (name, applied_at) VALUES (?, ?)", (name, now())
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        applied.append(name)
    return applied


def split_sql(script: str) -> list[str]:
    """Split a migration into complete statements (sqlite3.complete_statement knows the grammar)."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        if not buffer and line.strip().startswith("--"):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


def init(path: str | os.PathLike | None = None) -> tuple[sqlite_utils.Database, list[str]]:
    db = connect(path)
    return db, migrate(db)
