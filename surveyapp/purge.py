"""Retention: delete a round's personal data once its retention period has run out.

What goes: who was asked and who answered what. People's keys, names and e-mails (unless another
round still holds them on its list), invitation attributes, ineligibility reasons, the token
hashes (every link of the round stops working), the mail log and any other row that points at one
of the round's invitations, the link from each response to its invitation (and the anonymous key),
who registered a response on someone's behalf, and the time of day of every save.

What stays: the round, its questionnaire versions, every response with its group, unit, status
and answers (now anonymous), and each invitation as an anonymous row with its group, unit,
eligibility and started/completed flags, so response rates, indices and reports of the round
give the same figures after the purge as before it.
"""
from __future__ import annotations

import datetime as dt
import json
import time

from . import audit
from .db import now, transaction
from .errors import Conflict, SurveyError
from .rounds import get_round, list_rounds


def due_date(round_: dict) -> dt.date | None:
    """The first day the round may be purged: closed_at + retention_days (None if no period is set)."""
    if round_.get("retention_days") is None or not round_.get("closed_at"):
        return None
    closed = dt.datetime.fromisoformat(round_["closed_at"]).date()
    return closed + dt.timedelta(days=int(round_["retention_days"]))


def is_due(round_: dict, today: dt.date | None = None) -> bool:
    due = due_date(round_)
    today = today or dt.datetime.now(dt.timezone.utc).date()
    return round_["status"] == "closed" and not round_.get("purged_at") and due is not None and due <= today


def due_rounds(db, today: dt.date | None = None) -> list[dict]:
    """Closed, not yet purged rounds whose retention period has run out."""
    return [r for r in list_rounds(db) if is_due(r, today)]


def _referencing(db, table: str) -> list[tuple[str, str]]:
    """(table, column) of every foreign key in the schema that points at `table`."""
    refs = []
    for name in db.table_names():
        for fk in db.execute(f"PRAGMA foreign_key_list('{name}')").fetchall():
            if fk["table"] == table:
                refs.append((name, fk["from"]))
    return refs


def purge_round(db, round_ref, force: bool = False, actor: str = "cli", today: dt.date | None = None) -> dict:
    """Delete a closed round's personal data (see the module text). Refused before the retention
    period has run out unless `force`; refused for a round that is not closed in any case."""
    round_ = get_round(db, round_ref)
    if round_.get("purged_at"):
        return {"round": round_["id"], "name": round_["name"], "already_purged": round_["purged_at"]}
    if round_["status"] != "closed":
        raise Conflict(f"round '{round_['name']}' is {round_['status']}: close it before purging its personal data")
    due = due_date(round_)
    if not force:
        if due is None:
            raise SurveyError(f"round '{round_['name']}' has no retention period; set one or use --force")
        today = today or dt.datetime.now(dt.timezone.utc).date()
        if due > today:
            raise SurveyError(f"round '{round_['name']}' is kept until {due.isoformat()} "
                              f"({round_['retention_days']} days after it closed); use --force to purge it now")
    rid = round_["id"]
    summary: dict = {"round": rid, "name": round_["name"]}
    # Deleted and overwritten content is zeroed in the file, not left in free pages, and the WAL is
    # folded back and truncated afterwards, so the names are gone from the database file itself.
    previous = db.execute("PRAGMA secure_delete").fetchone()[0]
    db.execute("PRAGMA secure_delete = ON")
    try:
        _purge(db, round_, force, actor, summary)
    finally:
        db.execute(f"PRAGMA secure_delete = {int(previous)}")
    summary["wal_truncated"] = _truncate_wal(db)
    return summary


def _truncate_wal(db, tries: int = 10) -> bool:
    """Fold the WAL (which still holds the old pages) into the file and empty it. A server reading
    at that moment can make it busy: try again briefly; otherwise its next checkpoint does it."""
    for attempt in range(tries):
        if attempt:
            time.sleep(0.2)
        busy = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        if not busy:
            return True
    return False


def _purge(db, round_: dict, force: bool, actor: str, summary: dict) -> None:
    rid = round_["id"]
    with transaction(db):
        invitations = [dict(r) for r in db.execute(
            "SELECT i.id, i.person_id, p.key, p.name, p.email FROM invitations i LEFT JOIN people p ON p.id = i.person_id "
            "WHERE i.round_id = ?", (rid,)).fetchall()]
        invitation_ids = [i["id"] for i in invitations]
        person_ids = sorted({i["person_id"] for i in invitations if i["person_id"] is not None})
        identifiers = {v for i in invitations for v in (i["key"], i["name"], i["email"]) if v and len(v) >= 3}

        # Rows elsewhere that point at the round's invitations (the mail log, and whatever other
        # areas keep per respondent) say who was contacted: they go. Responses are unlinked instead.
        deleted: dict[str, int] = {}
        for table, column in _referencing(db, "invitations"):
            if table in ("responses", "invitations") or not invitation_ids:
                continue
            deleted[table] = sum(db.execute(f'DELETE FROM "{table}" WHERE "{column}" IN ({_marks(chunk)})', chunk).rowcount
                                 for chunk in _chunks(invitation_ids))

        unlinked = db.execute(
            "UPDATE responses SET invitation_id = NULL, anonymous_key = NULL, registered_by = NULL, participants = NULL, "
            "started_at = substr(started_at, 1, 10), last_saved_at = substr(last_saved_at, 1, 10), "
            "submitted_at = substr(submitted_at, 1, 10) WHERE round_id = ?", (rid,)).rowcount
        db.execute("UPDATE answers SET saved_at = substr(saved_at, 1, 10) "
                   "WHERE response_id IN (SELECT id FROM responses WHERE round_id = ?)", (rid,))
        db.execute(
            "UPDATE invitations SET person_id = NULL, attributes = '{}', ineligible_reason = NULL, "
            "token_hash = 'purged:' || id, created_at = substr(created_at, 1, 10), removed_at = substr(removed_at, 1, 10) "
            "WHERE round_id = ?", (rid,))

        # A person on no other list is gone entirely; one still on another round's list stays for that round.
        kept = set()
        for table, column in _referencing(db, "people"):
            for chunk in _chunks(person_ids):
                kept.update(r[0] for r in db.execute(
                    f'SELECT DISTINCT "{column}" FROM "{table}" WHERE "{column}" IN ({_marks(chunk)})', chunk))
        removed_people = sum(db.execute(f"DELETE FROM people WHERE id IN ({_marks(chunk)})", chunk).rowcount
                             for chunk in _chunks([p for p in person_ids if p not in kept]))

        # Audit entries of the round that name one of its people lose their details.
        scrubbed = 0
        if identifiers:
            for row in db.execute("SELECT id, details FROM audit_log WHERE round_id = ?", (rid,)).fetchall():
                if any(ident in row["details"] for ident in identifiers):
                    db.execute("UPDATE audit_log SET details = ? WHERE id = ?", (json.dumps({"purged": True}), row["id"]))
                    scrubbed += 1

        stamp = now()
        db.execute("UPDATE rounds SET purged_at = ? WHERE id = ?", (stamp, rid))
        summary.update({
            "purged_at": stamp,
            "invitations_anonymised": len(invitation_ids),
            "people_deleted": removed_people,
            "people_kept_for_other_rounds": len(person_ids) - removed_people,
            "responses_unlinked": unlinked,
            "answers_kept": db.execute("SELECT COUNT(*) FROM answers a JOIN responses r ON r.id = a.response_id "
                                       "WHERE r.round_id = ?", (rid,)).fetchone()[0],
            "rows_deleted": deleted,
            "audit_entries_scrubbed": scrubbed,
        })
        audit.record(db, actor, "round.purged", rid, forced=bool(force), invitations=len(invitation_ids),
                     people_deleted=removed_people, responses=unlinked)


def _chunks(values: list, size: int = 500):
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _marks(chunk: list) -> str:
    return ",".join("?" * len(chunk))
