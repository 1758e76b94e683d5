"""DB_CONNECTION_PER_THREAD (what `serve` sets): one SQLite connection per server thread, reused
across requests, never left inside a transaction, and every save visible to other connections."""
from __future__ import annotations

import sqlite3
import threading

from reliability_support import make_round, person
from surveyapp import create_app, get_db


def test_connection_is_reused_and_never_left_in_a_transaction(db, db_path, secret):
    made = make_round(db, secret, [person(i) for i in range(2)])
    app = create_app({"DATABASE": str(db_path), "TESTING": True, "WTF_CSRF_ENABLED": False, "SECRET_KEY": secret,
                      "DB_CONNECTION_PER_THREAD": True})
    seen = []

    @app.get("/_conn")
    def which():
        seen.append(id(get_db().conn))
        return "ok"

    @app.get("/_forgets_to_commit")
    def forgets():
        get_db().conn.execute("BEGIN IMMEDIATE")
        get_db().conn.execute("INSERT INTO audit_log (at, actor, action) VALUES ('x', 'test', 'half')")
        return "oops"

    client = app.test_client()
    assert client.get("/_conn").status_code == 200 and client.get("/_conn").status_code == 200
    assert seen[0] == seen[1]  # the same connection, not a new one per request

    assert client.get("/_forgets_to_commit").status_code == 200
    # The write lock was released and the half-done write rolled back at the end of the request.
    other = sqlite3.connect(str(db_path), timeout=1)
    other.execute("INSERT INTO audit_log (at, actor, action) VALUES ('y', 'test', 'other writer')")
    other.commit()
    assert other.execute("SELECT COUNT(*) FROM audit_log WHERE action = 'half'").fetchone()[0] == 0

    # A page saved through the kept connection is committed: another connection sees it at once.
    token = made["tokens"]["emp0000"]
    assert client.post(f"/s/{token}/1", data={"samarbejde_1": "4", "action": "next"}).status_code == 302
    assert other.execute("SELECT value_num FROM answers WHERE item_id = 'samarbejde_1'").fetchone()[0] == 4
    # ... and a change made by another connection is seen by the kept one on the next request.
    other.execute("UPDATE answers SET value_num = 2 WHERE item_id = 'samarbejde_1'")
    other.commit()
    other.close()
    assert 'value="2" checked' in client.get(f"/s/{token}/1").get_data(as_text=True)

    # Each thread has its own connection.
    in_thread = []
    worker = threading.Thread(target=lambda: in_thread.append(client.get("/_conn").status_code))
    worker.start()
    worker.join()
    assert in_thread == [200] and seen[-1] != seen[0]
