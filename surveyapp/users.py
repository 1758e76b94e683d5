"""Console accounts: creation, password hashing (Argon2id) and roles."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from . import audit
from .db import now, transaction
from .errors import Conflict, SurveyError

ROLES = ("admin", "unit_lead", "evaluator")
_hasher = PasswordHasher()


def create_user(db, username: str, password: str, role: str, units: list[str] | None = None, actor: str = "cli") -> int:
    username = (username or "").strip()
    if not username:
        raise SurveyError("a user needs a name")
    if role not in ROLES:
        raise SurveyError(f"role must be one of {', '.join(ROLES)}")
    if len(password or "") < 10:
        raise SurveyError("the password must have at least 10 characters")
    if role == "unit_lead" and not units:
        raise SurveyError("a unit lead needs at least one unit")
    with transaction(db):
        if db.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
            raise Conflict(f"user '{username}' exists")
        user_id = db.execute(
            "INSERT INTO users (username, password_hash, role, units, created_at) VALUES (?, ?, ?, ?, ?)",
            (username, _hasher.hash(password), role, json.dumps(units or []), now()),
        ).lastrowid
        audit.record(db, actor, "user.created", username=username, role=role, units=units or [])
    return user_id


def verify_password(db, username: str, password: str) -> dict | None:
    """The active user if the password matches, else None (timing does not reveal which failed)."""
    row = db.execute("SELECT * FROM users WHERE username = ? AND active = 1", (username,)).fetchone()
    if row is None:
        try:
            _hasher.verify(_DUMMY_HASH, password or "")
        except (VerificationError, InvalidHashError):
            pass
        return None
    try:
        _hasher.verify(row["password_hash"], password or "")
    except (VerificationError, InvalidHashError):
        return None
    return user_dict(row)


def get_user(db, user_id: int, stamp: str | None = None) -> dict | None:
    """The active user; with `stamp`, only if the session's stamp still matches (see session_stamp)."""
    row = db.execute("SELECT * FROM users WHERE id = ? AND active = 1", (user_id,)).fetchone()
    if row is None or (stamp is not None and stamp != _stamp_of(row)):
        return None
    return user_dict(row)


def user_dict(row) -> dict:
    user = dict(row)
    user.pop("password_hash", None)
    user["units"] = json.loads(user["units"])
    return user


_DUMMY_HASH = _hasher.hash("not a real password")


# --- Console: account administration, session stamps and login throttling -------------------

LOGIN_WINDOW_MINUTES = 15
LOGIN_MAX_FAILURES = 5          # per username and client address within the window
LOGIN_MAX_FAILURES_ADDR = 30    # per client address over all usernames within the window


def list_users(db) -> list[dict]:
    return [user_dict(r) for r in db.query("SELECT * FROM users ORDER BY username")]


def update_user(db, username: str, actor: str, role: str | None = None, units: list[str] | None = None,
                active: bool | None = None, password: str | None = None) -> dict:
    """Change a user's role, units, active flag or password (each change audited)."""
    with transaction(db):
        row = db.execute("SELECT * FROM users WHERE username = ?", (username,)).fetchone()
        if row is None:
            raise SurveyError(f"user '{username}' not found")
        changes: dict = {}
        new_role = role or row["role"]
        if role is not None:
            if role not in ROLES:
                raise SurveyError(f"role must be one of {', '.join(ROLES)}")
            changes["role"] = role
        new_units = json.loads(row["units"]) if units is None else [u.strip() for u in units if u.strip()]
        if units is not None:
            changes["units"] = json.dumps(new_units)
        if new_role == "unit_lead" and not new_units:
            raise SurveyError("a unit lead needs at least one unit")
        if active is not None:
            changes["active"] = int(bool(active))
        if password is not None:
            if len(password) < 10:
                raise SurveyError("the password must have at least 10 characters")
            changes["password_hash"] = _hasher.hash(password)
        if changes:
            sets = ", ".join(f"{k} = ?" for k in changes)
            db.execute(f"UPDATE users SET {sets} WHERE id = ?", (*changes.values(), row["id"]))
            logged = {k: (json.loads(v) if k == "units" else v) for k, v in changes.items() if k != "password_hash"}
            if "password_hash" in changes:
                logged["password"] = "changed"
            audit.record(db, actor, "user.updated", username=username, **logged)
    return user_dict(db.execute("SELECT * FROM users WHERE username = ?", (username,)).fetchone())


def session_stamp(db, user_id: int) -> str | None:
    """A short fingerprint of the user's password hash and state: a session carries it, so a
    password change, deactivation or role change ends every session made before it."""
    row = db.execute("SELECT password_hash, role, units, active FROM users WHERE id = ?", (user_id,)).fetchone()
    if row is None or not row["active"]:
        return None
    return _stamp_of(row)


def _stamp_of(row) -> str:
    material = f"{row['password_hash']}|{row['role']}|{row['units']}".encode()
    return hashlib.sha256(material).hexdigest()[:24]


def client_key(secret: str, remote_addr: str | None) -> str:
    """The client address as a keyed hash: login_attempts never stores an IP address."""
    return hmac.new((secret or "").encode(), f"login:{remote_addr or '-'}".encode(), hashlib.sha256).hexdigest()[:32]


def _window_start(minutes: int = LOGIN_WINDOW_MINUTES) -> str:
    start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(minutes=minutes)
    return start.isoformat()


def login_blocked(db, username: str, client: str) -> bool:
    """True when this username from this client (or this client overall) failed too often lately."""
    since = _window_start()
    per_user = db.execute(
        "SELECT COUNT(*) FROM login_attempts WHERE username = ? AND remote_addr = ? AND succeeded = 0 AND at >= ?",
        (username, client, since)).fetchone()[0]
    per_addr = db.execute(
        "SELECT COUNT(*) FROM login_attempts WHERE remote_addr = ? AND succeeded = 0 AND at >= ?",
        (client, since)).fetchone()[0]
    return per_user >= LOGIN_MAX_FAILURES or per_addr >= LOGIN_MAX_FAILURES_ADDR


def record_login(db, username: str, client: str, succeeded: bool) -> None:
    """Log one attempt; a success clears the failures of that username from that client."""
    with transaction(db):
        if succeeded:
            db.execute("DELETE FROM login_attempts WHERE username = ? AND remote_addr = ? AND succeeded = 0",
                       (username, client))
        db.execute("INSERT INTO login_attempts (username, remote_addr, succeeded, at) VALUES (?, ?, ?, ?)",
                   (username[:200], client, int(succeeded), now()))
        # Keep the table small: attempts older than a day are of no use to the throttle.
        db.execute("DELETE FROM login_attempts WHERE at < ?", (_window_start(24 * 60),))
