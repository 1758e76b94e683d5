"""Online backups with SQLite's backup API.

The copy is taken in one step under a read transaction, so it is the database exactly as it was
at one commit, even while respondents keep saving pages (WAL mode lets them write meanwhile).
It is written to a temporary file beside the target, checked with `PRAGMA integrity_check`, and
only then renamed into place: a backup file that exists is always complete.

Restoring is `restore` (`surveyapp restore FILE`) while the server is stopped. The personal links
are derived from the secret key, so keep the key (SURVEYAPP_SECRET_KEY or the `secret_key` file
beside the database) with the backups, in a separate safe place.
"""
from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from .errors import SurveyError


def backup(source: str | os.PathLike, target: str | os.PathLike, overwrite: bool = False) -> dict:
    """Copy the live database `source` to `target` consistently; returns facts about the copy."""
    source, target = Path(source).resolve(), Path(target).resolve()
    if not source.exists():
        raise SurveyError(f"{source}: no such database")
    if target == source:
        raise SurveyError("the backup file must not be the database itself")
    if target.exists() and not overwrite:
        raise SurveyError(f"{target} exists; choose a new file name or pass --overwrite")
    if target.is_dir():
        raise SurveyError(f"{target} is a folder; give a file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    started = time.monotonic()
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        src.execute("PRAGMA busy_timeout = 30000")
        dst = sqlite3.connect(str(partial))
        try:
            src.backup(dst, pages=-1)  # one step: a single consistent snapshot
            # The copy is a self-contained file: fold its journal in, so it can be copied anywhere.
            dst.execute("PRAGMA journal_mode = DELETE")
            problems = _integrity_problems(dst)
            if problems:
                raise SurveyError(f"the copy failed its integrity check: {problems}")
            counts = _counts(dst, ("responses", "answers", "invitations"))
        finally:
            dst.close()
        os.chmod(partial, 0o600)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    return {"file": str(target), "bytes": target.stat().st_size, "seconds": round(time.monotonic() - started, 3),
            "integrity": "ok", **counts}


def restore(backup_file: str | os.PathLike, target: str | os.PathLike) -> dict:
    """Put a backup's content into the database at `target` through SQLite itself.

    Safer than copying files: the target's WAL is handled by SQLite (a stale `-wal` file next to
    a copied-in database could otherwise be replayed onto it), and the copy is checked first.
    Stop the server first; a running one would see the restored content at its next request.
    """
    backup_file, target = Path(backup_file).resolve(), Path(target).resolve()
    if not backup_file.exists():
        raise SurveyError(f"{backup_file}: no such backup file")
    if backup_file == target:
        raise SurveyError("the backup and the database are the same file")
    src = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
    try:
        problems = _integrity_problems(src)
        if problems:
            raise SurveyError(f"{backup_file} fails its integrity check: {problems}; nothing restored")
        if not src.execute("SELECT 1 FROM sqlite_master WHERE name = 'migrations'").fetchone():
            raise SurveyError(f"{backup_file} is not a surveyapp database; nothing restored")
        target.parent.mkdir(parents=True, exist_ok=True)
        dst = sqlite3.connect(str(target), timeout=30)
        try:
            dst.execute("PRAGMA busy_timeout = 30000")
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode = WAL")
            counts = _counts(dst, ("responses", "answers"))
        finally:
            dst.close()
    finally:
        src.close()
    # A backup made by an older surveyapp lacks the newer migrations: apply them now, so the
    # restored database has the schema this code expects (a server that was not stopped would
    # otherwise fail on it until its next start, which migrates).
    from .db import connect, migrate

    db = connect(target)
    try:
        migrated = migrate(db)
    finally:
        db.conn.close()
    return {"file": str(target), "from": str(backup_file), **counts, "migrated": migrated}


def _integrity_problems(conn: sqlite3.Connection) -> list:
    """The first rows of `PRAGMA integrity_check` if it finds anything; [] for a sound file."""
    try:
        check = conn.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as error:  # not an SQLite file at all ("file is not a database")
        return [str(error)]
    return [] if [tuple(r) for r in check] == [("ok",)] else check[:3]


def _counts(conn: sqlite3.Connection, tables: tuple) -> dict:
    """Row counts of those of `tables` the file has."""
    present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables if t in present}
