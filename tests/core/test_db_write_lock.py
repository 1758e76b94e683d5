"""db.WriteLock: writers of one database file wait for each other across threads and processes
(instead of sleeping in SQLite's busy handler), a forked worker gets its own lock, a writer that
cannot get in line within the busy timeout fails as SQLite would after its own, and a file system
without flock falls back to SQLite alone."""
from __future__ import annotations

import contextlib
import errno
import multiprocessing
import os
import sqlite3
import threading
import time

import pytest

from surveyapp import db as db_module
from surveyapp.db import WriteLock, connect, transaction

fork = multiprocessing.get_context("fork")


def _hold_in_child(db_path, ready, release):
    db = connect(db_path)
    with WriteLock.of(db).held():
        ready.set()
        release.wait(10)


@contextlib.contextmanager
def held_by_another_process(db_path):
    """Another process holds the write lock until the block ends or `release` is set."""
    ready, release = fork.Event(), fork.Event()
    child = fork.Process(target=_hold_in_child, args=(str(db_path), ready, release))
    child.start()
    try:
        assert ready.wait(10)
        yield release
    finally:
        release.set()
        child.join(10)


def _try_in_child(db_path, result):
    # The parent holds the lock while this forked child tries for 0.2 s.
    try:
        with WriteLock.of(connect(db_path)).held(timeout=0.2) as locked:
            result.put(locked)
    except sqlite3.OperationalError as error:
        result.put(str(error))


def test_a_writer_in_another_process_waits_until_the_lock_is_released(db_path):
    db = connect(db_path)
    db.execute("CREATE TABLE log (what TEXT, at REAL)")
    with held_by_another_process(db_path) as release:
        threading.Timer(0.3, release.set).start()
        started = time.monotonic()
        with transaction(db):  # SQLite itself is free: only the lock holds this writer back
            waited = time.monotonic() - started
            assert release.is_set()
            db.execute("INSERT INTO log VALUES ('parent', ?)", (time.time(),))
    assert waited >= 0.25
    assert db.execute("SELECT COUNT(*) FROM log").fetchone()[0] == 1


def test_a_forked_child_does_not_share_its_parents_lock(db_path):
    """An flock belongs to an open file description; a child reusing the parent's would get in
    while the parent writes (gunicorn forks its workers from a master that has migrated)."""
    db = connect(db_path)
    result = fork.Queue()
    with WriteLock.of(db).held() as locked:
        assert locked is True
        child = fork.Process(target=_try_in_child, args=(str(db_path), result))
        child.start()
        got = result.get(timeout=10)
        child.join(10)
    assert "database is locked" in got  # not True: the child did not get in while the parent wrote


def test_threads_of_one_process_take_turns(db_path):
    db_a, db_b = connect(db_path), connect(db_path)
    db_a.execute("CREATE TABLE log (what TEXT)")
    order = []
    inside = threading.Event()

    def first():
        with transaction(db_a):
            inside.set()
            time.sleep(0.2)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    assert inside.wait(5)
    with WriteLock.of(db_b).held() as locked:  # not SQLite's lock: this one, shared by the threads
        order.append("second in")
    thread.join()
    assert locked is True
    assert order == ["first done", "second in"]


def test_a_failed_write_releases_the_lock(db_path):
    db = connect(db_path)
    db.execute("CREATE TABLE t (x INTEGER)")
    with pytest.raises(ZeroDivisionError):
        with transaction(db):
            db.execute("INSERT INTO t VALUES (1)")
            1 / 0
    result = fork.Queue()
    child = fork.Process(target=_try_in_child, args=(str(db_path), result))
    child.start()
    assert result.get(timeout=10) is True
    child.join(10)
    assert db.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 0  # and the write was rolled back


def test_a_nested_write_on_a_second_connection_does_not_wait_for_itself(db_path):
    outer, inner = connect(db_path), connect(db_path)
    started = time.monotonic()
    with WriteLock.of(outer).held(timeout=2) as first:
        with WriteLock.of(inner).held(timeout=2) as second:
            pass
    assert (first, second) == (True, True)
    assert time.monotonic() - started < 1


def test_a_writer_that_cannot_get_in_line_within_the_busy_timeout_fails_as_sqlite_would(db_path, monkeypatch):
    """The wait for the lock counts against the busy timeout: no write waits longer than before."""
    monkeypatch.setattr(db_module, "BUSY_TIMEOUT_MS", 300)
    db = connect(db_path)
    db.execute("CREATE TABLE t (x INTEGER)")
    with held_by_another_process(db_path):
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            with transaction(db):
                db.execute("INSERT INTO t VALUES (1)")
        waited = time.monotonic() - started
    assert 0.25 <= waited < 2
    with transaction(db):  # free again: the next write gets in
        db.execute("INSERT INTO t VALUES (2)")
    assert [row[0] for row in db.execute("SELECT x FROM t").fetchall()] == [2]


def test_a_file_system_without_flock_leaves_the_decision_to_sqlite(db_path, monkeypatch):
    db = connect(db_path)
    db.execute("CREATE TABLE t (x INTEGER)")
    real_flock = db_module.fcntl.flock
    failures = []

    def no_locks(fd, operation):
        if not failures:
            failures.append(operation)
            raise OSError(errno.ENOLCK, "No locks available")
        return real_flock(fd, operation)

    monkeypatch.setattr(db_module.fcntl, "flock", no_locks)
    lock = WriteLock.of(db)
    with lock.held() as locked:
        assert locked is False
    with transaction(db):  # the write itself goes through
        db.execute("INSERT INTO t VALUES (1)")
    assert lock.depth == 0
    # ... and the next writer takes the lock again (the failure did not leave it half-held)
    with held_by_another_process(db_path):
        with pytest.raises(sqlite3.OperationalError):
            with lock.held(timeout=0.2):
                pass


def test_no_descriptor_outlives_a_write(tmp_path):
    def open_fds():
        return len(os.listdir("/proc/self/fd"))

    before = open_fds()
    for n in range(40):
        db = connect(tmp_path / f"d{n}.db")
        with transaction(db):
            db.execute("CREATE TABLE t (x INTEGER)")
        db.conn.close()
    assert open_fds() - before < 5


def test_one_lock_per_file_however_its_path_is_spelled(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    relative, absolute = connect("same.db"), connect(tmp_path / "same.db")
    assert WriteLock.of(relative) is WriteLock.of(absolute)
    memory = connect(":memory:")
    assert WriteLock.of(memory) is None
    with transaction(memory):
        memory.execute("CREATE TABLE t (x INTEGER)")
    assert sorted(os.listdir(tmp_path)) == ["same.db", "same.db-shm", "same.db-wal"]
