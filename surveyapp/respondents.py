"""Respondent lists: imports, panel keys that carry across rounds, and personal links."""
from __future__ import annotations

import json
import re
from pathlib import Path

from . import audit, tokens
from .db import now, transaction
from .errors import Conflict, ImportRejected, NotFound, RowError, SurveyError
from .rounds import get_round, round_questionnaires
from .tabular import read_table

STANDARD_COLUMNS = ("key", "email", "name", "group", "unit", "language")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LANGUAGES = ("", "da", "en")


def validate_rows(db, round_: dict, header: list[str], rows: list[tuple[int, dict]], filename: str) -> list[dict]:
    """Check every row of a respondent list; raise ImportRejected naming each bad one."""
    lower = {h.casefold(): h for h in header}
    if "key" not in lower and "email" not in lower:
        raise ImportRejected(filename, [RowError(1, "key", "the file needs a column 'key' or 'email'")])
    groups = set(round_questionnaires(db, round_["id"]))
    existing_keys = {r["key"] for r in db.query(
        "SELECT p.key FROM invitations i JOIN people p ON p.id = i.person_id WHERE i.round_id = ? AND i.removed_at IS NULL",
        [round_["id"]])}
    errors, records, seen = [], [], {}
    for line, raw in rows:
        cell = {name: raw.get(lower[name], "").strip() if name in lower else "" for name in STANDARD_COLUMNS}
        cell["language"] = cell["language"].casefold()  # "DA" and "da" alike
        email = cell["email"]
        key = cell["key"] or email.casefold()
        row_errors = []
        if not key:
            row_errors.append(RowError(line, "key", "neither key nor email is given"))
        if email and not EMAIL_RE.match(email):
            row_errors.append(RowError(line, "email", f"'{email}' is not an e-mail address"))
        group_error = _group_error(groups, cell["group"])
        if group_error:
            row_errors.append(RowError(line, "group", group_error))
        if cell["language"] not in LANGUAGES:
            row_errors.append(RowError(line, "language", f"language must be da or en, not '{cell['language']}'"))
        if key and key in seen:
            row_errors.append(RowError(line, "key", f"'{key}' appears twice in the file (first at line {seen[key]})"))
        elif key in existing_keys:
            row_errors.append(RowError(line, "key", f"'{key}' is already on this round's list"))
        if len(key) > 200:
            row_errors.append(RowError(line, "key", "longer than 200 characters"))
        seen.setdefault(key, line)
        attributes = {h: raw[h] for h in header if h.casefold() not in STANDARD_COLUMNS and raw.get(h, "") != ""}
        errors.extend(row_errors)
        records.append({"line": line, "key": key, "email": email or None, "name": cell["name"] or None,
                        "group": cell["group"], "unit": cell["unit"], "language": cell["language"] or None,
                        "attributes": attributes})
    if errors:
        raise ImportRejected(filename, errors)
    if not records:
        raise ImportRejected(filename, [RowError(2, "-", "the file has no respondents")])
    return records


def _group_error(groups: set[str], group: str) -> str | None:
    """Why a respondent cannot be in `group` of a round whose questionnaires are for `groups`
    ('' among them: anyone may), or None."""
    if "" in groups or group in groups:
        return None
    if not group:
        return f"group is required (one of {', '.join(sorted(groups))})"
    return f"unknown group '{group}' (this round has {', '.join(sorted(groups))})"


def _refuse_closed(round_: dict) -> None:
    if round_["status"] == "closed":
        raise Conflict(f"round '{round_['name']}' is closed")


def import_respondents(db, round_ref, path: str | Path | None = None, secret: str = "", data: bytes | None = None,
                       filename: str | None = None, actor: str = "cli") -> dict:
    """Add every row of a file to a round's list, or nothing if any row is bad."""
    round_ = get_round(db, round_ref)
    _refuse_closed(round_)
    name = filename or str(path)
    header, rows = read_table(path, data, name)
    with transaction(db):
        records = validate_rows(db, round_, header, rows, name)
        for record in records:
            add_invitation(db, round_, record, secret)
        audit.record(db, actor, "respondents.imported", round_["id"], file=Path(name).name, rows=len(records))
    return {"round": round_["id"], "added": len(records)}


def add_invitation(db, round_: dict, record: dict, secret: str) -> int:
    """Put one person on a round's list (creating the panel person if new); returns the invitation id."""
    person = db.execute("SELECT id FROM people WHERE project_id = ? AND key = ?", (round_["project_id"], record["key"])).fetchone()
    if person is None:
        person_id = db.execute(
            "INSERT INTO people (project_id, key, name, email, language) VALUES (?, ?, ?, ?, ?)",
            (round_["project_id"], record["key"], record.get("name"), record.get("email"), record.get("language")),
        ).lastrowid
    else:
        person_id = person["id"]
        db.execute(
            "UPDATE people SET name = COALESCE(?, name), email = COALESCE(?, email), language = COALESCE(?, language) WHERE id = ?",
            (record.get("name"), record.get("email"), record.get("language"), person_id),
        )
    # At most one invitation per person and round (UNIQUE): a removed one is brought back rather than duplicated.
    old = db.execute("SELECT id, removed_at FROM invitations WHERE round_id = ? AND person_id = ?",
                     (round_["id"], person_id)).fetchone()
    if old and old["removed_at"] is None:
        raise Conflict(f"'{record['key']}' is already on this round's list")
    attributes = json.dumps(record.get("attributes") or {}, ensure_ascii=False)
    if old:
        db.execute("UPDATE invitations SET removed_at = NULL, group_name = ?, unit = ?, attributes = ? WHERE id = ?",
                   (record.get("group") or "", record.get("unit") or "", attributes, old["id"]))
        return old["id"]
    invitation_id = db.execute(
        "INSERT INTO invitations (round_id, person_id, group_name, unit, attributes, token_hash, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (round_["id"], person_id, record.get("group") or "", record.get("unit") or "", attributes,
         f"pending:{person_id}", now()),
    ).lastrowid
    db.execute("UPDATE invitations SET token_hash = ? WHERE id = ?",
               (tokens.token_hash(tokens.make_token(secret, invitation_id)), invitation_id))
    return invitation_id


def list_respondents(db, round_ref, units: list[str] | None = None) -> list[dict]:
    round_ = get_round(db, round_ref)
    sql = ("SELECT i.id, i.group_name, i.unit, i.attributes, i.eligible, i.ineligible_reason, i.started, i.completed, "
           "p.key, p.name, p.email, p.language FROM invitations i JOIN people p ON p.id = i.person_id "
           "WHERE i.round_id = ? AND i.removed_at IS NULL")
    params: list = [round_["id"]]
    if units is not None:
        sql += f" AND i.unit IN ({','.join('?' * len(units))})"
        params.extend(units)
    rows = []
    for row in db.query(sql + " ORDER BY i.unit, i.group_name, p.key", params):
        row = dict(row)
        row["attributes"] = json.loads(row["attributes"])
        rows.append(row)
    return rows


def links(db, round_ref, secret: str, base_url: str) -> list[dict]:
    """key, email and personal answer URL of everyone on the round's list."""
    return [
        {"key": r["key"], "email": r["email"], "group": r["group_name"], "unit": r["unit"],
         "url": tokens.answer_url(base_url, tokens.make_token(secret, r["id"]))}
        for r in list_respondents(db, round_ref)
    ]


def copy_list(db, from_round, to_round, secret: str, actor: str = "cli") -> dict:
    """Start a round's list from another round's (eligible, not removed) people; panel keys carry over."""
    source, target = get_round(db, from_round), get_round(db, to_round)
    if source["project_id"] != target["project_id"]:
        raise SurveyError("lists can only be copied within a project")
    _refuse_closed(target)  # as an import or an added respondent would be refused
    added = skipped = 0
    with transaction(db):
        groups = set(round_questionnaires(db, target["id"]))
        on_list = {r["key"] for r in list_respondents(db, target["id"])}
        for row in list_respondents(db, source["id"]):
            if row["key"] in on_list or not row["eligible"] or _group_error(groups, row["group_name"]):
                skipped += 1
                continue
            add_invitation(db, target, {"key": row["key"], "group": row["group_name"], "unit": row["unit"],
                                        "attributes": row["attributes"]}, secret)
            added += 1
        audit.record(db, actor, "respondents.copied", target["id"], from_round=source["id"], added=added, skipped=skipped)
    return {"added": added, "skipped": skipped}


def get_invitation(db, invitation_id: int) -> dict:
    row = db.execute("SELECT i.*, p.key, p.name, p.email, p.language FROM invitations i "
                     "LEFT JOIN people p ON p.id = i.person_id WHERE i.id = ?", (invitation_id,)).fetchone()
    if row is None:
        raise NotFound(f"respondent {invitation_id} not found")
    return dict(row)


# --- Console: changing one respondent while a round runs --------------------------------------
# None of these touch the `answers` or `responses` tables: a respondent's stored answers stay as
# they are whatever is edited here.

def _editable_invitation(db, invitation_id: int) -> tuple[dict, dict]:
    invitation = get_invitation(db, invitation_id)
    if invitation["removed_at"]:
        raise NotFound(f"respondent {invitation_id} has been removed from the list")
    round_ = get_round(db, invitation["round_id"])
    if round_["status"] == "closed":
        raise Conflict(f"round '{round_['name']}' is closed; its list can no longer change")
    return invitation, round_


def _has_response(db, invitation: dict) -> bool:
    if invitation["started"] or invitation["completed"]:
        return True
    return db.execute("SELECT 1 FROM responses WHERE invitation_id = ?", (invitation["id"],)).fetchone() is not None


def update_respondent(db, invitation_id: int, actor: str = "cli", **changes) -> dict:
    """Change name, email, language (of the person) or group, unit (of this round's entry).

    The panel key never changes. Group and unit cannot change once the person has started
    answering (the response was filed under them)."""
    allowed = {"name", "email", "language", "group", "unit"}
    unknown = set(changes) - allowed
    if unknown:
        raise SurveyError(f"cannot change {', '.join(sorted(unknown))} of a respondent")
    with transaction(db):
        invitation, round_ = _editable_invitation(db, invitation_id)
        clean = {k: ("" if v is None else str(v).strip()) for k, v in changes.items()}
        if "email" in clean and clean["email"] and not EMAIL_RE.match(clean["email"]):
            raise SurveyError(f"'{clean['email']}' is not an e-mail address")
        if "language" in clean and clean["language"] not in LANGUAGES:
            raise SurveyError(f"language must be da or en, not '{clean['language']}'")  # as the import says it
        if "group" in clean and clean["group"] != invitation["group_name"]:
            group_error = _group_error(set(round_questionnaires(db, round_["id"])), clean["group"])
            if group_error:
                raise SurveyError(group_error)
        moved = {k for k, col in (("group", "group_name"), ("unit", "unit")) if k in clean and clean[k] != invitation[col]}
        if moved and _has_response(db, invitation):
            raise Conflict(f"{' and '.join(sorted(moved))} cannot change: {invitation['key']} has started answering")
        before = {"name": invitation["name"], "email": invitation["email"], "language": invitation["language"],
                  "group": invitation["group_name"], "unit": invitation["unit"]}
        person_sets = {k: (clean[k] or None) for k in ("name", "email", "language") if k in clean}
        if person_sets:
            db.execute(f"UPDATE people SET {', '.join(f'{k} = ?' for k in person_sets)} WHERE id = ?",
                       (*person_sets.values(), invitation["person_id"]))
        inv_sets = {col: clean[k] for k, col in (("group", "group_name"), ("unit", "unit")) if k in clean}
        if inv_sets:
            db.execute(f"UPDATE invitations SET {', '.join(f'{k} = ?' for k in inv_sets)} WHERE id = ?",
                       (*inv_sets.values(), invitation_id))
        changed = {k: {"from": before[k], "to": clean[k] or None} for k in clean if (before[k] or "") != clean[k]}
        if changed:
            audit.record(db, actor, "respondent.edited", round_["id"], key=invitation["key"], changes=changed)
    return get_invitation(db, invitation_id)


def mark_ineligible(db, invitation_id: int, reason: str, actor: str = "cli", ineligible: bool = True) -> dict:
    """Mark a respondent ineligible (left the job, wrong address …) or, with ineligible=False, eligible again.

    Ineligible people stay on the list (reported apart) and get no mails."""
    reason = (reason or "").strip()
    if ineligible and not reason:
        raise SurveyError("give a reason (e.g. left the job, wrong address)")
    with transaction(db):
        invitation, round_ = _editable_invitation(db, invitation_id)
        db.execute("UPDATE invitations SET eligible = ?, ineligible_reason = ? WHERE id = ?",
                   (0 if ineligible else 1, reason if ineligible else None, invitation_id))
        audit.record(db, actor, "respondent.ineligible" if ineligible else "respondent.eligible", round_["id"],
                     key=invitation["key"], reason=reason or None)
    return get_invitation(db, invitation_id)


def remove_respondent(db, invitation_id: int, actor: str = "cli") -> dict:
    """Take someone off the list (added by mistake). Refused once they have answered:
    their answers would stay while they left the denominator; mark them ineligible instead."""
    with transaction(db):
        invitation, round_ = _editable_invitation(db, invitation_id)
        if _has_response(db, invitation):
            raise Conflict(f"{invitation['key']} has started answering and cannot be removed; mark them ineligible instead")
        db.execute("UPDATE invitations SET removed_at = ? WHERE id = ?", (now(), invitation_id))
        audit.record(db, actor, "respondent.removed", round_["id"], key=invitation["key"])
    return get_invitation(db, invitation_id)


def add_respondent(db, round_ref, record: dict, secret: str, actor: str = "cli") -> int:
    """Put one person on a round's list, checked by the same rules as a file import.

    `record` has key and/or email, and optionally name, group, unit, language.
    Raises ImportRejected (line 1 = the form) naming every problem."""
    round_ = get_round(db, round_ref)
    _refuse_closed(round_)
    header = list(STANDARD_COLUMNS)
    row = {column: str(record.get(column) or "") for column in header}
    with transaction(db):
        records = validate_rows(db, round_, header, [(1, row)], "form")
        invitation_id = add_invitation(db, round_, records[0], secret)
        audit.record(db, actor, "respondent.added", round_["id"], key=records[0]["key"])
    return invitation_id
