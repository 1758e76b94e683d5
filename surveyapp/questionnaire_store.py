"""Registering validated questionnaires as versions, and reading them back."""
from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import yaml

from . import audit
from .db import now, transaction
from .errors import NotFound
from .questionnaire import Problem, Questionnaire, QuestionnaireError, _line_for, _line_map, parse, read_text


def load(db, path: str | Path, actor: str = "cli") -> dict:
    """Validate a YAML file and register it; a changed file becomes a new version.

    Refuses (QuestionnaireError, FILE:LINE) a changed wording under an unchanged item version
    once that item version has answers: the old answers would silently change meaning.
    """
    path = Path(path)
    text = read_text(path)  # read once: the same text is validated and stored
    return register(db, parse(text, str(path)), text, str(path), actor)


def register(db, q: Questionnaire, text: str, source: str = "<string>", actor: str = "cli") -> dict:
    # The same file saved with Windows line endings or a byte-order mark is the same version.
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    with transaction(db):
        existing = db.execute(
            "SELECT id, version FROM questionnaire_versions WHERE questionnaire_id = ? AND sha256 = ?",
            (q.id, digest),
        ).fetchone()
        if existing:
            return {"questionnaire": q.id, "version": existing["version"], "version_id": existing["id"], "new": False}
        _check_item_wording(db, q, text, source)
        db.execute(
            "INSERT INTO questionnaires (id, title, personal) VALUES (?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET title = excluded.title, personal = excluded.personal",
            (q.id, q.title, int(q.personal)),
        )
        version = db.execute(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM questionnaire_versions WHERE questionnaire_id = ?", (q.id,)
        ).fetchone()[0]
        cursor = db.execute(
            "INSERT INTO questionnaire_versions (questionnaire_id, version, source_path, yaml, sha256, loaded_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (q.id, version, source, text, digest, now()),
        )
        for item in q.question_items():
            db.execute(
                "INSERT INTO item_versions (questionnaire_id, item_id, item_version, text, construct, first_questionnaire_version) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET text = excluded.text, construct = excluded.construct",
                (q.id, item.id, item.version, item.text, item.construct_id, version),
            )
        audit.record(db, actor, "questionnaire.loaded", questionnaire=q.id, version=version, source=source)
    return {"questionnaire": q.id, "version": version, "version_id": cursor.lastrowid, "new": True}


def _check_item_wording(db, q: Questionnaire, text: str, source: str) -> None:
    """Refuse a new wording under an item version that already has answers (FILE:LINE)."""
    stored = {(row["item_id"], row["item_version"]): row["text"] for row in db.execute(
        "SELECT item_id, item_version, text FROM item_versions WHERE questionnaire_id = ?", (q.id,))}
    changed = []  # (location in the YAML, message)
    for s_index, section in enumerate(q.sections):
        for i_index, item in enumerate(section.items):
            before = stored.get((item.id, item.version))
            if item.type == "info" or before is None or before == item.text:
                continue
            if item_version_has_answers(db, q.id, item.id, item.version):
                changed.append((("sections", s_index, "items", i_index, "text"),
                                f"item '{item.id}' changed its wording but kept version {item.version}, which already has answers; "
                                f"give the new wording version {item.version + 1}"))
    if changed:
        # The YAML is composed again only to point at the offending lines.
        lines = _line_map(yaml.compose(text, Loader=yaml.SafeLoader))
        raise QuestionnaireError([Problem(source, _line_for(lines, loc), message) for loc, message in changed])


def item_version_has_answers(db, questionnaire_id: str, item_id: str, item_version: int) -> bool:
    row = db.execute(
        "SELECT 1 FROM answers a JOIN responses r ON r.id = a.response_id "
        "JOIN questionnaire_versions v ON v.id = r.questionnaire_version_id "
        "WHERE v.questionnaire_id = ? AND a.item_id = ? AND a.item_version = ? LIMIT 1",
        (questionnaire_id, item_id, item_version),
    ).fetchone()
    return row is not None


def get_version(db, version_id: int, sha256: str | None = None) -> Questionnaire:
    """The parsed questionnaire of a stored version.

    A version's text never changes once stored, so the parsed model is kept per process, keyed
    by the text's SHA-256 (not the row id: tests and tools open many databases whose ids
    overlap). Each call reads only the 64-character hash (from an index: the row holds the whole
    YAML), or nothing when the caller read it with the version id (`sha256`, as
    tokens.find_visit does); the YAML is read and parsed once.
    """
    sha = sha256
    if sha is None:
        row = db.execute("SELECT sha256 FROM questionnaire_versions INDEXED BY questionnaire_versions_id_sha256 "
                         "WHERE id = ?", (version_id,)).fetchone()
        if row is None:
            raise NotFound(f"questionnaire version {version_id} not found")
        sha = row["sha256"]
    q = _parsed.get(sha)
    if q is None:
        text = db.execute("SELECT yaml FROM questionnaire_versions WHERE id = ?", (version_id,)).fetchone()["yaml"]
        q = parse(text, f"<stored {sha[:8]}>")
        with _parsed_lock:
            if len(_parsed) >= 256:
                _parsed.clear()
            _parsed[sha] = q
    return q


_parsed: dict[str, Questionnaire] = {}
_parsed_lock = threading.Lock()


def resolve_version(db, questionnaire_id: str, version: int | None = None) -> dict:
    """The id of a questionnaire's given (default: newest) version."""
    sql = "SELECT * FROM questionnaire_versions WHERE questionnaire_id = ?"
    params: list = [questionnaire_id]
    if version is not None:
        sql += " AND version = ?"
        params.append(version)
    row = db.execute(sql + " ORDER BY version DESC LIMIT 1", params).fetchone()
    if row is None:
        raise NotFound(f"questionnaire '{questionnaire_id}'" + (f" version {version}" if version else "") +
                       " is not loaded; run `surveyapp questionnaire load FILE` first")
    return dict(row)


def list_versions(db) -> list[dict]:
    return [dict(r) for r in db.query(
        "SELECT v.id, v.questionnaire_id, v.version, v.loaded_at, v.source_path, q.title, q.personal "
        "FROM questionnaire_versions v JOIN questionnaires q ON q.id = v.questionnaire_id "
        "ORDER BY v.questionnaire_id, v.version")]
