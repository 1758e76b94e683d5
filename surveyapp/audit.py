"""The audit log: who changed what, and when. Every administrative service function writes here."""
from __future__ import annotations

import json

from .db import now


def record(db, actor: str, action: str, round_id: int | None = None, **details) -> None:
    db.execute(
        "INSERT INTO audit_log (at, actor, action, round_id, details) VALUES (?, ?, ?, ?, ?)",
        (now(), actor or "system", action, round_id, json.dumps(details, ensure_ascii=False, default=str)),
    )


def entries(db, round_id: int | None = None, limit: int = 500) -> list[dict]:
    sql = "SELECT * FROM audit_log"
    params: list = []
    if round_id is not None:
        sql += " WHERE round_id = ?"
        params.append(round_id)
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(limit)
    rows = []
    for row in db.query(sql, params):
        row = dict(row)
        row["details"] = json.loads(row["details"])
        rows.append(row)
    return rows
