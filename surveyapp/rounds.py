"""Projects and measurement rounds: creation and lifecycle (draft -> open -> closed)."""
from __future__ import annotations

import datetime as dt

from . import audit
from .db import find_by_id_or_name, now, row_id, transaction
from .errors import Conflict, NotFound, SurveyError
from .questionnaire_store import resolve_version

DEFAULT_PROJECT = "default"


def ensure_project(db, project_id: str | None = None, name: str | None = None, min_n: int | None = None) -> str:
    project_id = project_id or default_project(db)
    row = db.execute("SELECT id FROM projects WHERE id = ?", (project_id,)).fetchone()
    if row is None:
        db.execute(
            "INSERT INTO projects (id, name, min_n, created_at) VALUES (?, ?, ?, ?)",
            (project_id, name or project_id, 5 if min_n is None else min_n, now()),
        )
    elif name or min_n is not None:
        db.execute(
            "UPDATE projects SET name = COALESCE(?, name), min_n = COALESCE(?, min_n) WHERE id = ?",
            (name, min_n, project_id),
        )
    return project_id


def default_project(db) -> str:
    """The only project there is, else 'default'."""
    rows = db.execute("SELECT id FROM projects ORDER BY created_at LIMIT 2").fetchall()
    return rows[0]["id"] if len(rows) == 1 else DEFAULT_PROJECT


def get_project(db, project_id: str) -> dict:
    row = db.execute("SELECT * FROM projects WHERE id = ?", (project_id,)).fetchone()
    if row is None:
        raise NotFound(f"project '{project_id}' not found")
    return dict(row)


def list_projects(db) -> list[dict]:
    return [dict(r) for r in db.query("SELECT * FROM projects ORDER BY created_at, id")]


def _parse_date(value: str | None, what: str) -> str | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise SurveyError(f"{what}: '{value}' is not a date (YYYY-MM-DD)") from None


def create_round(
    db,
    name: str,
    questionnaires: dict[str, str],
    project: str | None = None,
    opens: str | None = None,
    closes: str | None = None,
    partial_threshold: float = 0.5,
    anonymous: bool = False,
    allow_edit_after_submit: bool = False,
    answered_by: str = "self",
    retention_days: int | None = None,
    actor: str = "cli",
) -> int:
    """Create a draft round. `questionnaires` maps respondent group ('' = everyone) to a
    questionnaire id, optionally 'id@version'; the newest version is frozen otherwise."""
    name = (name or "").strip()
    if not name:
        raise SurveyError("a round needs a name")
    if not questionnaires:
        raise SurveyError("a round needs at least one questionnaire")
    if not 0 < float(partial_threshold) <= 1:
        raise SurveyError("the partial threshold must be above 0 and at most 1 (e.g. 0.5)")
    if answered_by not in ("self", "citizen", "unit"):
        raise SurveyError("answered_by must be self, citizen or unit")
    retention_days = _retention(retention_days)
    opens_date, closes_date = _parse_date(opens, "--opens"), _parse_date(closes, "--closes")
    if opens_date and closes_date and closes_date < opens_date:
        raise SurveyError("the round closes before it opens")
    with transaction(db):
        if not project:
            existing = [p["id"] for p in list_projects(db)]
            if len(existing) > 1:
                raise SurveyError(f"there are several projects ({', '.join(existing)}); say which with --project")
        project_id = ensure_project(db, project)
        if db.execute("SELECT 1 FROM rounds WHERE project_id = ? AND name = ?", (project_id, name)).fetchone():
            raise Conflict(f"project '{project_id}' already has a round named '{name}'")
        frozen = {}
        for group, ref in questionnaires.items():
            qid, _, version = (ref or "").strip().partition("@")
            if not qid:
                raise SurveyError(f"no questionnaire id given for group '{group}'" if group else "no questionnaire id given")
            number = row_id(version) if version else None
            if version and number is None:
                raise SurveyError(f"'{ref}': the version after @ must be a number (e.g. {qid}@2)")
            frozen[group or ""] = resolve_version(db, qid, number)["id"]
        cursor = db.execute(
            "INSERT INTO rounds (project_id, name, opens, closes, partial_threshold, anonymous, "
            "allow_edit_after_submit, answered_by, retention_days, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (project_id, name, opens_date, closes_date, float(partial_threshold), int(anonymous),
             int(allow_edit_after_submit), answered_by, retention_days, now()),
        )
        round_id = cursor.lastrowid
        for group, version_id in frozen.items():
            db.execute(
                "INSERT INTO round_questionnaires (round_id, group_name, questionnaire_version_id) VALUES (?, ?, ?)",
                (round_id, group, version_id),
            )
        audit.record(db, actor, "round.created", round_id, name=name, questionnaires=questionnaires)
    return round_id


def get_round(db, ref, project: str | None = None) -> dict:
    """A round by id or by name (within a project when given)."""
    return find_by_id_or_name(db, "rounds", "name", ref, project, "round")


def list_rounds(db, project: str | None = None) -> list[dict]:
    sql = ("SELECT r.*, (SELECT COUNT(*) FROM invitations i WHERE i.round_id = r.id AND i.removed_at IS NULL) AS invited "
           "FROM rounds r")
    params = []
    if project:
        sql += " WHERE r.project_id = ?"
        params.append(project)
    rounds = [dict(row) for row in db.query(sql + " ORDER BY r.project_id, COALESCE(r.opens, r.created_at), r.id", params)]
    questionnaires = _questionnaires_of(db, project)  # one query for all the rounds, not one per round
    for row in rounds:
        row["questionnaires"] = questionnaires.get(row["id"], {})
    return rounds


def round_questionnaires(db, round_id: int) -> dict[str, dict]:
    return _questionnaires_of(db, round_id=round_id).get(round_id, {})


def _questionnaires_of(db, project: str | None = None, round_id: int | None = None) -> dict[int, dict[str, dict]]:
    """{round id: {group: {"version_id", "questionnaire", "version"}}} of one round, a project's rounds or all."""
    sql = ("SELECT rq.round_id, rq.group_name, rq.questionnaire_version_id, v.questionnaire_id, v.version "
           "FROM round_questionnaires rq JOIN questionnaire_versions v ON v.id = rq.questionnaire_version_id")
    if round_id is not None:
        sql, params = sql + " WHERE rq.round_id = ?", [round_id]
    elif project:
        sql, params = sql + " WHERE rq.round_id IN (SELECT id FROM rounds WHERE project_id = ?)", [project]
    else:
        params = []
    found: dict[int, dict[str, dict]] = {}
    for r in db.query(sql + " ORDER BY rq.round_id, rq.group_name", params):
        found.setdefault(r["round_id"], {})[r["group_name"]] = {
            "version_id": r["questionnaire_version_id"], "questionnaire": r["questionnaire_id"], "version": r["version"]}
    return found


def version_for_group(db, round_id: int, group: str) -> int:
    """The questionnaire version a respondent group answers in a round."""
    rows = round_questionnaires(db, round_id)
    entry = rows.get(group or "") or rows.get("")
    if entry is None:
        raise SurveyError(f"the round has no questionnaire for group '{group}' (groups: {', '.join(sorted(rows)) or 'none'})")
    return entry["version_id"]


def set_status(db, ref, status: str, actor: str = "cli") -> dict:
    allowed = {"open": ("draft", "closed"), "closed": ("open",), "draft": ()}
    with transaction(db):
        round_ = get_round(db, ref)
        if round_["status"] == status:
            return round_
        if round_["status"] not in allowed[status]:
            raise Conflict(f"round '{round_['name']}' is {round_['status']} and cannot become {status}")
        column = "opened_at" if status == "open" else "closed_at"
        db.execute(f"UPDATE rounds SET status = ?, {column} = ? WHERE id = ?", (status, now(), round_["id"]))
        audit.record(db, actor, f"round.{'opened' if status == 'open' else 'closed'}", round_["id"], name=round_["name"])
    return get_round(db, round_["id"])


def open_round(db, ref, actor: str = "cli") -> dict:
    return set_status(db, ref, "open", actor)


def close_round(db, ref, actor: str = "cli") -> dict:
    return set_status(db, ref, "closed", actor)


MAX_RETENTION_DAYS = 36_500  # 100 years


def _retention(days) -> int | None:
    """Days answers are kept after the round closes (None: no limit set)."""
    if days in (None, ""):
        return None
    number = row_id(days)  # a whole number in ASCII digits, or None
    if number is None or number > MAX_RETENTION_DAYS:
        raise SurveyError(f"the retention period is a whole number of days from 0 to {MAX_RETENTION_DAYS}")
    return number


def update_round(db, ref, actor: str = "cli", **changes) -> dict:
    """Change dates, threshold or flags of a round (the questionnaire is frozen once created)."""
    allowed = {"opens", "closes", "partial_threshold", "anonymous", "allow_edit_after_submit", "retention_days", "name"}
    unknown = set(changes) - allowed
    if unknown:
        raise SurveyError(f"cannot change {', '.join(sorted(unknown))} of a round")
    with transaction(db):
        round_ = get_round(db, ref)
        if "anonymous" in changes and bool(changes["anonymous"]) != bool(round_["anonymous"]):
            if db.execute("SELECT 1 FROM responses WHERE round_id = ? LIMIT 1", (round_["id"],)).fetchone():
                raise Conflict("anonymity cannot change once the round has responses")
        for key in ("opens", "closes"):
            if key in changes:
                changes[key] = _parse_date(changes[key], key)
        if "partial_threshold" in changes and not 0 < float(changes["partial_threshold"]) <= 1:
            raise SurveyError("the partial threshold must be above 0 and at most 1")
        if "retention_days" in changes:
            changes["retention_days"] = _retention(changes["retention_days"])
        if "name" in changes:
            changes["name"] = (changes["name"] or "").strip()
            if not changes["name"]:
                raise SurveyError("a round needs a name")
            if db.execute("SELECT 1 FROM rounds WHERE project_id = ? AND name = ? AND id != ?",
                          (round_["project_id"], changes["name"], round_["id"])).fetchone():
                raise Conflict(f"project '{round_['project_id']}' already has a round named '{changes['name']}'")
        if changes:
            sets = ", ".join(f"{key} = ?" for key in changes)
            db.execute(f"UPDATE rounds SET {sets} WHERE id = ?", (*changes.values(), round_["id"]))
            audit.record(db, actor, "round.updated", round_["id"], **changes)
    return get_round(db, round_["id"])
