"""Faults on the real server: SIGKILL in the middle of the load, and online backups while answers
are being written. The server is `surveyapp serve` (gunicorn, 2 workers) as a subprocess on
loopback; the respondents are bench/load_bench.py's (real HTTP, CSRF tokens read from each page),
so the benchmark and these tests run the same client code."""
from __future__ import annotations

import shutil
import sqlite3
import subprocess
import threading
import time

import pytest

pytestmark = pytest.mark.slow

RESPONDENTS = 60


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def acknowledged(stats) -> list:
    with stats.lock:
        return list(stats.acknowledged)


def start_load(bench, port, tokens, concurrency, think=0.0):
    stats, stop = bench.Stats(), threading.Event()
    thread = threading.Thread(target=bench.run_respondents, args=(port, tokens, concurrency, 60, think, stop, stats),
                              daemon=True)
    thread.start()
    return stats, stop, thread


def test_sigkill_mid_load_loses_no_acknowledged_save(bench, tmp_path):
    db_path = tmp_path / "kill.db"
    prepared = bench.prepare(db_path, RESPONDENTS)
    server = bench.Server(db_path, workers=2, threads=4, log=tmp_path / "server.log").start()
    try:
        stats, stop, load = start_load(bench, server.port, prepared["tokens"], 12)
        wait_for(lambda: len(acknowledged(stats)) >= 40, 60, "40 acknowledged page saves")
        server.kill()  # SIGKILL to the process group: master and both workers die at once
        load.join(30)
        stop.set()
        load.join(30)
    finally:
        server.kill()
    assert not load.is_alive()
    first_ack = acknowledged(stats)
    # The kill came in the middle of the load: saves had been acknowledged, clients saw the server
    # vanish, and not everyone had finished.
    assert 40 <= len(first_ack) < RESPONDENTS * 5
    assert stats.errors, "no client noticed the kill"
    assert len(stats.submitted) < RESPONDENTS

    # Straight after the crash: integrity ok, every acknowledged page is there whole, nothing is
    # half-written, nothing stored that was never sent.
    check = bench.verify(db_path, prepared, first_ack, stats.attempted)
    assert check["integrity"] == "ok"
    assert check["lost"] == 0, check["lost_detail"]
    assert check["half_written"] == 0, check["half_detail"]
    assert check["duplicated"] == 0 and check["stored_without_request"] == 0

    # Restart on the same file: the links still work, and everyone who had not finished carries on.
    server = bench.Server(db_path, workers=2, threads=4, log=tmp_path / "server.log").start()
    try:
        # A submit the server committed just before the kill never reached its client: that
        # respondent is complete in the database and has nothing left to do.
        conn = sqlite3.connect(str(db_path))
        complete_invitations = {row[0] for row in conn.execute(
            "SELECT invitation_id FROM responses WHERE status = 'complete'")}
        conn.close()
        unfinished = [i for i in range(RESPONDENTS)
                      if i not in set(stats.submitted) and prepared["invitations"][i] not in complete_invitations]
        resumed = next(r for r in unfinished if (r, 0) in set(first_ack))
        client = bench.Client(server.port)
        status, headers, _ = client.request("GET", f"/s/{prepared['tokens'][resumed]}")
        client.close()
        assert status == 302 and not headers["location"].endswith("/1")  # resumes after the saved page
        again = bench.Stats()
        pages = bench.questionnaire_pages()
        for respondent in unfinished:
            assert bench.respond(server.port, respondent, prepared["tokens"][respondent], pages, again)
    finally:
        server.stop()
    check = bench.verify(db_path, prepared, first_ack + again.acknowledged, set(stats.attempted) | set(again.attempted))
    assert check["integrity"] == "ok" and check["lost"] == 0 and check["half_written"] == 0
    assert check["answer_rows"] == RESPONDENTS * 30
    conn = sqlite3.connect(str(db_path))
    assert conn.execute("SELECT COUNT(*) FROM responses WHERE status = 'complete'").fetchone()[0] == RESPONDENTS
    assert conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == RESPONDENTS
    conn.close()


def test_online_backup_during_writes_is_consistent_and_restores(bench, tmp_path):
    db_path = tmp_path / "live.db"
    # The load is paced by think time (~17 saves/s), the backup commands by CPU (Python start-up
    # and imports: 5 s each with load average 10 on 2 cores; the three run back to back). With 60
    # respondents the load could end before the third copy; 120 leave it ~35 s to run.
    respondents = 120
    prepared = bench.prepare(db_path, respondents)
    server = bench.Server(db_path, workers=2, threads=4, log=tmp_path / "server.log").start()
    backups = []
    try:
        stats, stop, load = start_load(bench, server.port, prepared["tokens"], 10, think=0.2)
        for n in range(3):
            wait_for(lambda: len(acknowledged(stats)) >= 20 * (n + 1), 60, "page saves before a backup")
            before = acknowledged(stats)
            target = tmp_path / f"backup-{n}.db"
            done = subprocess.run([*bench.SURVEYAPP_COMMAND, "--db", str(db_path), "backup", str(target)],
                                  capture_output=True, text=True, timeout=60,
                                  env={"SURVEYAPP_SECRET_KEY": bench.SECRET, "PATH": "/usr/bin:/bin"})
            assert done.returncode == 0, done.stderr
            assert "integrity ok" in done.stdout
            backups.append((target, before, len(acknowledged(stats))))
        load.join(90)
    finally:
        server.stop()
    assert stats.errors == []
    # Pages were being saved while each backup command ran, and after the last one.
    assert all(after > len(before) for _, before, after in backups)
    assert len(stats.acknowledged) == respondents * 5

    for target, before, _ in backups:
        # Everything acknowledged before the backup started is in it, whole; no page is half-written.
        check = bench.verify(target, prepared, before, stats.attempted)
        assert check["integrity"] == "ok"
        assert check["lost"] == 0, check["lost_detail"]
        assert check["half_written"] == 0 and check["duplicated"] == 0
        assert check["answer_rows"] < respondents * 30  # a copy of the moment, not of the end

    # Restore: the last copy, copied into place and served with the same secret key, is a working
    # instance; respondents resume where the copy has them and finish.
    restored = tmp_path / "restored" / "surveyapp.db"
    restored.parent.mkdir()
    shutil.copy(backups[-1][0], restored)
    in_copy = set(backups[-1][1])
    server = bench.Server(restored, workers=2, threads=2, log=tmp_path / "restored.log").start()
    try:
        client = bench.Client(server.port)
        assert client.request("GET", "/healthz")[0] == 200
        client.close()
        fresh = bench.Stats()
        conn = sqlite3.connect(str(restored))
        complete_in_copy = {row[0] for row in conn.execute("SELECT invitation_id FROM responses WHERE status = 'complete'")}
        conn.close()
        unfinished = [r for r, iid in enumerate(prepared["invitations"]) if iid not in complete_in_copy][:4]
        assert unfinished
        for r in unfinished:
            assert bench.respond(server.port, r, prepared["tokens"][r], bench.questionnaire_pages(), fresh)
    finally:
        server.stop()
    check = bench.verify(restored, prepared, in_copy | set(fresh.acknowledged), set(stats.attempted) | set(fresh.attempted))
    assert check["integrity"] == "ok" and check["lost"] == 0 and check["half_written"] == 0


def test_single_process_waitress_serving_stores_every_save(bench, tmp_path):
    """`serve --workers 1` runs waitress instead of gunicorn: the same answers, stored the same way."""
    db_path = tmp_path / "waitress.db"
    prepared = bench.prepare(db_path, 8)
    server = bench.Server(db_path, workers=1, threads=4, log=tmp_path / "server.log").start()
    try:
        stats, seconds = bench.run_respondents(server.port, prepared["tokens"], 4, 60)
    finally:
        server.stop()
    assert stats.errors == [] and len(stats.submitted) == 8
    check = bench.verify(db_path, prepared, stats.acknowledged, stats.attempted)
    assert check["integrity"] == "ok" and check["lost"] == 0 and check["answer_rows"] == 8 * 30
