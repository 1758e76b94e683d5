"""The wrong-token throttle: a client that presents many unknown answer links gets 429.

Every server worker shares the count through the database (table `token_throttle`, migration
0005). A request with a good link touches no table: each worker keeps the set of blocked clients
in memory and re-reads it from the database at most every THROTTLE_REFRESH seconds (default 2),
in one query for all clients. A client blocked by another worker is therefore refused by this
one within THROTTLE_REFRESH seconds at the latest (at once by the worker that counted its last
miss); only a wrong link (a miss) writes to the database. Clients are stored as a keyed hash of their remote address, never
the address itself. Behind a reverse proxy, `surveyapp serve --proxy 1` makes the remote address
the real client's (werkzeug's ProxyFix), otherwise every respondent would share the proxy's.

Defaults: 20 wrong links within 10 minutes block the client for 15 minutes. A respondent who
mistypes a link a few times is never affected; a guesser gets 20 tries per quarter of an hour
against 2**256 possible links. Settings (app.config): THROTTLE_LIMIT, THROTTLE_WINDOW,
THROTTLE_BLOCK, THROTTLE_REFRESH (seconds).
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import threading
import time

from flask import current_app, render_template, request

from . import get_db
from .db import transaction

LIMIT = 20
WINDOW = 600.0
BLOCK = 900.0
REFRESH = 2.0


@functools.lru_cache(maxsize=4096)  # respondents come back with the same address: one HMAC per address
def client_key(secret: str, remote_addr: str | None) -> str:
    """A keyed hash of the client's address: the table never holds an IP address."""
    return hmac.new(secret.encode(), f"client:{remote_addr or '-'}".encode(), hashlib.sha256).hexdigest()[:32]


class Throttle:
    """Counts failures per client in a sliding-ish fixed window; blocks at `limit`."""

    def __init__(self, limit: int = LIMIT, window: float = WINDOW, block: float = BLOCK, clock=time.time,
                 refresh: float = REFRESH, monotonic=time.monotonic):
        self.limit, self.window, self.block = int(limit), float(window), float(block)
        self.clock, self.refresh, self.monotonic = clock, float(refresh), monotonic
        self._blocked: dict[str, float] = {}
        self._read_at: float | None = None  # monotonic time of the last read of every block from the db
        self._lock = threading.Lock()

    def blocked_until(self, db, client: str) -> float | None:
        """When the client's block ends, or None if it is not blocked. Reads the database only
        when the worker's copy of the blocks is older than `refresh` seconds (0: every call)."""
        now = self.clock()
        read_at = self._read_at
        if read_at is None or self.monotonic() - read_at >= self.refresh:
            self._read_blocks(db, now)
        with self._lock:
            until = self._blocked.get(client)
            if until is not None and until <= now:
                del self._blocked[client]
                until = None
        return until

    def _read_blocks(self, db, now: float) -> None:
        """Replace the worker's copy by every block the database holds now (blocks written by any
        worker; the table holds few rows, expired ones are deleted on the next miss)."""
        started = self.monotonic()
        rows = db.execute("SELECT client, blocked_until FROM token_throttle WHERE blocked_until > ?", (now,)).fetchall()
        blocked = {row["client"]: row["blocked_until"] for row in rows}
        with self._lock:
            # Keep blocks this worker counted itself that are not in the database's answer (a
            # miss committed after the read began); the database's value wins otherwise.
            for client, until in self._blocked.items():
                if until > now and client not in blocked:
                    blocked[client] = until
            self._blocked = blocked
            self._read_at = started

    def record_failure(self, db, client: str) -> float | None:
        """Count one wrong token; returns when the client's block ends if it is now blocked."""
        now = self.clock()
        with transaction(db):
            row = db.execute("SELECT window_start, failures, blocked_until FROM token_throttle WHERE client = ?",
                             (client,)).fetchone()
            if row is None or row["window_start"] + self.window <= now:
                window_start, failures = now, 1
            else:
                window_start, failures = row["window_start"], row["failures"] + 1
            blocked = row["blocked_until"] if row is not None and (row["blocked_until"] or 0) > now else None
            if failures >= self.limit:
                blocked = now + self.block
            db.execute(
                "INSERT INTO token_throttle (client, window_start, failures, blocked_until) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (client) DO UPDATE SET window_start = excluded.window_start, failures = excluded.failures, "
                "blocked_until = excluded.blocked_until",
                (client, window_start, failures, blocked),
            )
            # Forget clients whose window and block are both over (the failure path is rare: keep it tidy here).
            db.execute("DELETE FROM token_throttle WHERE window_start + ? <= ? AND COALESCE(blocked_until, 0) <= ?",
                       (self.window, now, now))
        if blocked is not None:
            self._remember(client, blocked)
        return blocked

    def _remember(self, client: str, until: float) -> None:
        with self._lock:
            if len(self._blocked) > 10_000:  # bounded memory under a flood of addresses
                now = self.clock()
                self._blocked = {c: u for c, u in self._blocked.items() if u > now}
            self._blocked[client] = until


# ------------------------------------------------------------------------------ Flask glue


def _throttle(app) -> Throttle:
    throttle = app.extensions.get("surveyapp_throttle")
    if throttle is None:
        throttle = Throttle(app.config.get("THROTTLE_LIMIT", LIMIT), app.config.get("THROTTLE_WINDOW", WINDOW),
                            app.config.get("THROTTLE_BLOCK", BLOCK), refresh=app.config.get("THROTTLE_REFRESH", REFRESH))
        app.extensions["surveyapp_throttle"] = throttle
    return throttle


def _client() -> str:
    return client_key(current_app.config["SECRET_KEY"], request.remote_addr)


def before_request():
    """Refuse a blocked client before its token is even looked up."""
    until = _throttle(current_app).blocked_until(get_db(), _client())
    if until is None:
        return None
    retry = max(1, int(until - time.time()))
    body = render_template(
        "error.html", title="For mange forsøg",
        message="Der er prøvet for mange ukendte svarlinks fra din forbindelse. Vent et kvarter, "
                "og brug så linket fra din e-mail igen.")
    return body, 429, {"Retry-After": str(retry), "Cache-Control": "no-store"}


def after_request(response):
    """A 404 on an answer page for a token that does not open anything counts as a wrong guess (a
    real link asking for a page number that does not exist does not)."""
    if response.status_code == 404:
        from .tokens import find_invitation

        db = get_db()
        token = (request.view_args or {}).get("token")
        if token and find_invitation(db, current_app.config["SECRET_KEY"], token) is not None:
            return response
        _throttle(current_app).record_failure(db, _client())
    return response


def install(bp) -> None:
    """Guard every route of a blueprint (the answer pages: `throttle.install(bp)` in web/respond.py)."""
    bp.before_request(before_request)
    bp.after_request(after_request)
