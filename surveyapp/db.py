"""The SQLite connection, its pragmas and the migration runner.

Every module that writes goes through `connect()` and wraps one logical change in
`with transaction(db):` so that a crash never leaves half of it behind.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import threading
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows: writers then wait in SQLite's busy handler only
    fcntl = None

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
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    db = sqlite_utils.Database(conn)
    # See WriteLock; one lock per file however the path is spelled, none for a memory database.
    db.write_lock_path = None if str(path) in ("", ":memory:") else f"{os.path.realpath(path)}-writer.lock"
    return db


@contextlib.contextmanager
def transaction(db: sqlite_utils.Database):
    """One logical write: BEGIN IMMEDIATE ... COMMIT, rolled back on any exception.

    Nested use joins the outer transaction, so service functions can call each other.
    """
    conn = db.conn
    if conn.in_transaction:
        yield db
        return
    lock = WriteLock.of(db)
    with lock.held() if lock else contextlib.nullcontext():
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")


class WriteLock:
    """Lines up the writers of one database file, across the threads and processes of surveyapp.

    SQLite lets one writer in at a time and makes the others wait in its busy handler, which
    sleeps 1, 2, 5, 10, ... ms between tries. With many small writes at once (a round opening:
    hundreds of page saves a second from several server workers) those sleeps left a quarter of
    the CPU idle while saves waited (bench/README.md, "Load"). Here a writer first takes a lock
    shared by the threads of its process and then an flock on `<database>-writer.lock`, shared
    with the other processes, tried again every 0.05-1 ms; so a waiting writer gets in about
    when the one before it commits. SQLite's own locking still decides, and still guards any
    connection that does not come through here.

    A writer that cannot get in line within the busy timeout fails with the error SQLite gives
    after its own busy timeout ("database is locked"), so no write waits longer than before.
    Where the lock file cannot be opened or locked (a read-only folder, a file system without
    flock), writers wait in SQLite's busy handler alone, as before. The lock file is opened for
    each write and closed after it: no descriptor outlives a write, and none is inherited by a
    process forked in between.
    """

    _by_path: dict[str, "WriteLock"] = {}
    _by_path_lock = threading.Lock()

    def __init__(self, path: str):
        self.path = path
        self.threads = threading.RLock()  # re-entrant: a nested write on a second connection
        self.depth = 0  # writes open in the thread holding `threads` (a nested one: > 1)

    @classmethod
    def of(cls, db) -> "WriteLock | None":
        path = getattr(db, "write_lock_path", None)
        if path is None or fcntl is None:
            return None
        lock = cls._by_path.get(path)
        if lock is None:
            with cls._by_path_lock:
                lock = cls._by_path.setdefault(path, cls(path))
        return lock

    @classmethod
    def forget_inherited(cls) -> None:
        """After fork: the child starts with fresh locks (a thread lock copied from the parent
        could be copied held)."""
        cls._by_path = {}
        cls._by_path_lock = threading.Lock()

    @contextlib.contextmanager
    def held(self, timeout: float | None = None):
        """Hold the lock for one write: yields True when held (or already held by this thread),
        False when the lock file cannot be used. Raises sqlite3.OperationalError when the lock
        is not free within `timeout` seconds (default: the busy timeout)."""
        timeout = BUSY_TIMEOUT_MS / 1000 if timeout is None else timeout
        deadline = time.monotonic() + timeout
        if not self.threads.acquire(timeout=timeout):
            raise _still_locked(timeout)
        fd = None
        try:
            self.depth += 1
            if self.depth == 1:
                fd = self._lock_file(deadline, timeout)
            yield self.depth > 1 or fd is not None
        finally:
            if fd is not None:
                os.close(fd)  # releases the flock
            self.depth -= 1
            self.threads.release()

    def _lock_file(self, deadline: float, timeout: float) -> int | None:
        """A descriptor of the lock file holding its flock, or None where none can be had."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)  # flock needs no write access
        except OSError:
            return None
        pause = 0.00005
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return fd
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise _still_locked(timeout) from None
                    time.sleep(pause)
                    pause = min(pause * 2, 0.001)
        except BaseException as error:
            os.close(fd)
            if isinstance(error, OSError):  # e.g. ENOLCK: this file system has no flock
                return None
            raise


def _still_locked(timeout: float) -> sqlite3.OperationalError:
    return sqlite3.OperationalError(f"database is locked (other writers held it for {timeout:g} s)")


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=WriteLock.forget_inherited)


MAX_ROW_ID = 2**63 - 1  # SQLite's INTEGER: a larger Python int raises OverflowError when bound


def row_id(ref) -> int | None:
    """`ref` as a row id when it is one, else None: ASCII digits within SQLite's INTEGER range.
    Not str.isdigit alone: '²' and Arabic-Indic digits pass it, and int() then fails or reads them."""
    text = str(ref).strip()
    if text.isascii() and text.isdigit() and len(text) <= 19 and int(text) <= MAX_ROW_ID:  # int() refuses > 4300 digits
        return int(text)
    return None


def find_by_id_or_name(db, table: str, name_column: str, ref, project: str | None, what: str) -> dict:
    """A row of `table` by numeric id or by name (within a project when given), as rounds,
    families and other things named on the command line are found. Raises NotFound, or
    SurveyError when the name is ambiguous across projects."""
    text = str(ref).strip()
    row = None
    if (number := row_id(text)) is not None:
        row = db.execute(f"SELECT * FROM {table} WHERE id = ?", (number,)).fetchone()
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
