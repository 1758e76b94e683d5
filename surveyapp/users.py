"""Console accounts: creation, password hashing (Argon2id) and roles."""
from __future__ import annotations

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


def get_user(db, user_id: int) -> dict | None:
    row = db.execute("SELECT * FROM users WHERE id = ? AND active = 1", (user_id,)).fetchone()
    return user_dict(row) if row else None


def user_dict(row) -> dict:
    user = dict(row)
    user.pop("password_hash", None)
    user["units"] = json.loads(user["units"])
    return user


_DUMMY_HASH = _hasher.hash("not a real password")
