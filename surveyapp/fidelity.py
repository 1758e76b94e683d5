"""Fidelity and implementation monitoring: the services behind /fidelity and `surveyapp fidelity`.

- Unit registrations: rounds answered on a unit's behalf (answered_by='unit') have one
  invitation per unit (key = the unit's name). `start_registration` creates or finds it and
  refuses a second registration once the unit has a submitted response, until an admin reopens
  it (`reopen_registration`, audited). The answering itself happens on the /s/<token> pages.
- Profiles, the overview matrix, trends and the self-evaluation matrix: rows are read here and
  every number is computed by `analysis.fidelity` / `analysis.indices`.
- Activities with milestones and a status per round, goal indicators with a value per round,
  traffic-light overrides, dropping and replacing: stored in the tables of migration 0002.
"""
from __future__ import annotations

import io
import json
import math

from analysis import fidelity as fa
from analysis.formatting import rounded

from . import audit, respondents, tokens
from .db import now, transaction
from .errors import Conflict, NotFound, SurveyError
from .questionnaire import Questionnaire
from .questionnaire_store import get_version
from .report_data import counting_response_ids
from .responses import load_answers, set_registration, start_response
from .tabular import spreadsheet_safe, write_csv
from .rounds import ensure_project, get_round, list_rounds, round_questionnaires

STATUS_ALIASES = {"ja": "ja", "yes": "ja", "nej": "nej", "no": "nej", "på vej": "paa_vej", "paa vej": "paa_vej",
                  "paa_vej": "paa_vej", "on track": "paa_vej", "in progress": "paa_vej", "n/a": "na", "na": "na"}
OVERRIDE_LIGHTS = ("green", "yellow", "red", "none")
MEASURES = ("status", "count", "percent")


# ---------------------------------------------------------------- questionnaires and rounds


def round_questionnaire(db, round_: dict) -> Questionnaire:
    """The questionnaire a unit round runs (the one for everyone, else the first group's)."""
    frozen = round_questionnaires(db, round_["id"])
    if not frozen:
        raise SurveyError(f"round '{round_['name']}' has no questionnaire")
    entry = frozen.get("") or next(iter(frozen.values()))
    return get_version(db, entry["version_id"])


def kind_rounds(db, project: str, kind: str = "fidelity") -> list[dict]:
    """The project's rounds whose questionnaire is of `kind` (fidelity / self_evaluation), in order."""
    return [r for r in list_rounds(db, project) if round_questionnaire(db, r).kind == kind]


def index_defs(q: Questionnaire) -> list[dict]:
    return [{"id": i.id, "title": i.title, "items": list(i.items), "min_share": i.min_share,
             "thresholds": (i.thresholds.green, i.thresholds.yellow) if i.thresholds else None,
             "targets": dict(i.targets or {})} for i in q.indices]


def item_labels(q: Questionnaire) -> dict[str, str]:
    return {i.id: i.text for i in q.question_items()}


def ladders(q: Questionnaire) -> list[dict]:
    """Maturity ladders: single-choice items outside every index (reported as positions, not means)."""
    in_index = {i for index in q.indices for i in index.items}
    return [{"id": i.id, "text": i.text, "options": {o.code: o.label for o in q.options(i)}}
            for i in q.question_items() if i.type == "single" and i.id not in in_index]


def checklists(q: Questionnaire) -> list[dict]:
    """Checklists: multi-select items (which offers were started, …)."""
    return [{"id": i.id, "text": i.text, "options": {o.code: o.label for o in q.options(i)}}
            for i in q.question_items() if i.type == "multiple"]


def scale_text(q: Questionnaire) -> str | None:
    """'Skala: 1 (Slet ikke) – 5 (I meget høj grad); Ved ikke = ikke besvaret' from the index items' scale."""
    for index in q.indices:
        for item_id in index.items:
            item = q.item(item_id)
            options = q.options(item)
            if not options:
                continue
            low, high = min(options, key=lambda o: o.code), max(options, key=lambda o: o.code)
            missing = ", ".join(f'"{o.label}"' for o in q.missing_options(item))
            text = f"Skala: {low.code} ({low.label}) – {high.code} ({high.label})"
            return text + (f"; {missing} tæller som ikke besvaret." if missing else ".")
    return None


def scored(q: Questionnaire, answers: dict) -> dict:
    """Answers as the analysis layer wants them: missing codes ("Ved ikke") -> None, reverse keying applied."""
    values = {}
    for item_id, value in answers.items():
        try:
            item = q.item(item_id)
        except KeyError:
            continue
        if item.type in ("scale", "single") and value is not None:
            if value in q.missing_codes(item):
                value = None
            elif item.reverse:
                value = q.reverse_value(item, value)
        values[item_id] = value
    return values


def unit_answers(db, round_: dict, raw: bool = False) -> dict[str, dict]:
    """{unit: {item: value}} of the responses that count in a round: complete or valid partial
    (report_data.counting_response_ids, the one definition of "responded"; a reopened response
    keeps counting while it is being revised)."""
    q = round_questionnaire(db, round_)
    counting = counting_response_ids(db, [round_["id"]])
    rows = db.execute("SELECT id, unit FROM responses WHERE round_id = ? AND unit <> '' ORDER BY id", (round_["id"],)).fetchall()
    result = {}
    for row in rows:
        if row["id"] in counting:
            answers = load_answers(db, row["id"], q)
            result[row["unit"]] = answers if raw else scored(q, answers)
    return result


def project_units(db, project: str) -> list[str]:
    """Every unit known in the project: on a unit round's list or with activities/indicators."""
    rows = db.execute(
        "SELECT DISTINCT i.unit FROM invitations i JOIN rounds r ON r.id = i.round_id "
        "WHERE r.project_id = ? AND i.unit <> '' AND i.removed_at IS NULL "
        "UNION SELECT unit FROM activities WHERE project_id = ? AND unit <> '' "
        "UNION SELECT unit FROM indicators WHERE project_id = ? AND unit <> ''", (project, project, project)).fetchall()
    return sorted(r[0] for r in rows)


def fidelity_projects(db) -> list[dict]:
    """Projects with at least one unit round, with their fidelity and self-evaluation rounds."""
    projects = []
    for p in db.query("SELECT DISTINCT p.* FROM projects p JOIN rounds r ON r.project_id = p.id "
                      "WHERE r.answered_by = 'unit' ORDER BY p.created_at, p.id"):
        p = dict(p)
        rounds = list_rounds(db, p["id"])
        kinds = {r["id"]: round_questionnaire(db, r).kind for r in rounds}
        p["fidelity_rounds"] = [r for r in rounds if kinds[r["id"]] == "fidelity"]
        p["self_evaluation_rounds"] = [r for r in rounds if kinds[r["id"]] == "self_evaluation"]
        p["unit_rounds"] = [r for r in rounds if r["answered_by"] == "unit"]
        projects.append(p)
    return projects


# ---------------------------------------------------------------- registrations on a unit's behalf


def _unit_round(db, round_ref, project: str | None = None) -> dict:
    round_ = get_round(db, round_ref, project)
    if round_["answered_by"] != "unit":
        raise SurveyError(f"round '{round_['name']}' is not answered on units' behalf (answered_by is "
                          f"'{round_['answered_by']}'); create it with --answered-by unit")
    return round_


def _unit_invitation(db, round_id: int, unit: str) -> int | None:
    row = db.execute("SELECT i.id FROM invitations i JOIN people p ON p.id = i.person_id "
                     "WHERE i.round_id = ? AND p.key = ? AND i.removed_at IS NULL", (round_id, unit)).fetchone()
    return row["id"] if row else None


def ensure_unit_invitation(db, round_: dict, unit: str, secret: str) -> int:
    """The unit's one invitation in the round (key = unit name), created if missing."""
    unit = (unit or "").strip()
    if not unit:
        raise SurveyError("name the unit (e.g. the municipality)")
    return _unit_invitation(db, round_["id"], unit) or _add_unit_invitation(db, round_, unit, secret)


def _add_unit_invitation(db, round_: dict, unit: str, secret: str) -> int:
    with transaction(db):
        return respondents.add_invitation(db, round_, {"key": unit, "name": unit, "unit": unit, "group": ""}, secret)


def add_units(db, round_ref, units: list[str], secret: str, actor: str = "cli") -> dict:
    """Put units on a unit round's list (one invitation each); units already there are skipped."""
    round_ = _unit_round(db, round_ref)
    added = 0
    with transaction(db):
        for unit in units:
            unit = unit.strip()
            if unit and not _unit_invitation(db, round_["id"], unit):
                _add_unit_invitation(db, round_, unit, secret)
                added += 1
        audit.record(db, actor, "fidelity.units_added", round_["id"], units=units, added=added)
    return {"round": round_["id"], "added": added}


def unit_response(db, round_id: int, unit: str) -> dict | None:
    row = db.execute("SELECT * FROM responses WHERE round_id = ? AND unit = ? ORDER BY id LIMIT 1", (round_id, unit)).fetchone()
    return dict(row) if row else None


def registrations(db, round_ref, units: list[str] | None = None) -> list[dict]:
    """Per unit on the round's list: its response status, who registered it and when, reopenings."""
    round_ = _unit_round(db, round_ref)
    # The round's responses and reopenings in one query each (not two per unit); a unit's response
    # is its first, as in unit_response.
    responses: dict[str, dict] = {}
    for row in db.query("SELECT * FROM responses WHERE round_id = ? ORDER BY id", [round_["id"]]):
        responses.setdefault(row["unit"], dict(row))
    reopenings = dict(db.execute("SELECT unit, COUNT(*) FROM unit_reopenings WHERE round_id = ? GROUP BY unit",
                                 (round_["id"],)).fetchall())
    rows = []
    for inv in respondents.list_respondents(db, round_["id"], units):
        response = responses.get(inv["unit"])
        reopened = reopenings.get(inv["unit"], 0)
        rows.append({"round": round_["name"], "unit": inv["unit"],
                     "status": response["status"] if response else "not_started",
                     "registered_by": response["registered_by"] if response else None,
                     "participants": response["participants"] if response else None,
                     "submitted_at": response["submitted_at"] if response else None,
                     "reopened": reopened})
    return rows


def start_registration(db, secret: str, round_ref, unit: str, registered_by: str, participants: str | None = None,
                       mode: str = "in_person", reference_date: str | None = None, project: str | None = None,
                       actor: str = "cli") -> dict:
    """Start (or resume) the registration of a unit's response on its behalf.

    Refused (Conflict) when the unit already has a submitted response in the round: only an
    admin's reopening lets anyone change it. Returns the answer token and whether an unfinished
    registration is resumed.
    """
    round_ = _unit_round(db, round_ref, project)
    unit = (unit or "").strip()
    if not (registered_by or "").strip():
        raise SurveyError("say who registers the answers on the unit's behalf")
    if round_["status"] != "open":
        raise Conflict(f"runden '{round_['name']}' er ikke åben ({round_['status']}); svar kan kun registreres i en åben runde")
    existing = unit_response(db, round_["id"], unit) if unit else None
    if existing and existing["status"] == "complete":
        when = (existing["submitted_at"] or "")[:10]
        by = existing["registered_by"] or "ukendt"
        raise Conflict(f"{unit} har allerede en besvarelse i runden '{round_['name']}' (registreret af {by}"
                       f"{', ' + when if when else ''}). En ny registrering kræver, at en administrator genåbner den.")
    invitation_id = ensure_unit_invitation(db, round_, unit, secret)
    token = tokens.make_token(secret, invitation_id)
    invitation = tokens.find_invitation(db, secret, token)
    if existing and existing["invitation_id"] not in (None, invitation_id):
        raise Conflict(f"{unit} har allerede en påbegyndt besvarelse i runden '{round_['name']}' på en anden liste-post")
    response = start_response(db, secret, token, invitation)
    resumed = existing is not None
    previous_by = existing["registered_by"] if existing else None
    if existing and previous_by is None:
        reopened = db.execute("SELECT previous_registered_by FROM unit_reopenings WHERE response_id = ? ORDER BY id DESC LIMIT 1",
                              (existing["id"],)).fetchone()
        previous_by = reopened["previous_registered_by"] if reopened else None
    set_registration(db, response, registered_by, mode, reference_date, participants)
    with transaction(db):
        audit.record(db, actor, "fidelity.registration_started", round_["id"], unit=unit, registered_by=registered_by.strip(),
                     participants=(participants or "").strip() or None, resumed=resumed, previous_registered_by=previous_by)
    return {"round": round_["name"], "round_id": round_["id"], "unit": unit, "token": token,
            "response_id": response["id"], "resumed": resumed, "previous_registered_by": previous_by}


def reopen_registration(db, round_ref, unit: str, reason: str, actor: str, project: str | None = None) -> dict:
    """Reopen a unit's submitted response so that it can be registered again (admin only; audited).

    The answers are kept (the new registration starts from them); the response becomes
    unsubmitted and loses its registrant (the next registration names its own), and the reopening
    is recorded with the reason and who had registered it.
    """
    round_ = _unit_round(db, round_ref, project)
    if not (reason or "").strip():
        raise SurveyError("give a reason for reopening the response")
    with transaction(db):
        response = unit_response(db, round_["id"], unit)
        if response is None:
            raise NotFound(f"{unit} has no response in round '{round_['name']}'")
        if response["status"] != "complete":
            raise Conflict(f"{unit}'s response in round '{round_['name']}' is not submitted; there is nothing to reopen")
        # The next registration names its own registrant (the answer pages ask again when opened directly).
        db.execute("UPDATE responses SET status = 'started', submitted_at = NULL, registered_by = NULL, participants = NULL, "
                   "registration_mode = NULL WHERE id = ?", (response["id"],))
        if response["invitation_id"]:
            db.execute("UPDATE invitations SET completed = 0 WHERE id = ?", (response["invitation_id"],))
        db.execute("INSERT INTO unit_reopenings (response_id, round_id, unit, reopened_by, reason, previous_registered_by, "
                   "previous_submitted_at, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (response["id"], round_["id"], unit, actor, reason.strip(), response["registered_by"],
                    response["submitted_at"], now()))
        audit.record(db, actor, "fidelity.response_reopened", round_["id"], unit=unit, reason=reason.strip(),
                     response=response["id"], previous_registered_by=response["registered_by"],
                     previous_submitted_at=response["submitted_at"])
    return {"round": round_["name"], "unit": unit, "response_id": response["id"], "reopened_by": actor}


# ---------------------------------------------------------------- profiles, overview, trends


def _latest_questionnaire(db, rounds: list[dict]) -> Questionnaire:
    if not rounds:
        raise NotFound("the project has no fidelity rounds")
    return round_questionnaire(db, rounds[-1])


def _values(db, rounds: list[dict]) -> dict[int, dict[str, dict]]:
    return {r["id"]: unit_answers(db, r) for r in rounds}


def source(q: Questionnaire) -> str:
    return f"{q.title} ({q.id})"


def rules_for(q: Questionnaire, min_other: int = fa.MIN_OTHER_UNITS) -> list[str]:
    return [f"Kilde: {source(q)}."] + fa.index_rules(index_defs(q), min_other, scale_text(q))


def profile(db, project: str, unit: str, min_other: int = fa.MIN_OTHER_UNITS) -> dict:
    """A unit's fidelity profile across the project's fidelity rounds (see analysis.fidelity.profile)."""
    rounds = kind_rounds(db, project, "fidelity")
    q = _latest_questionnaire(db, rounds)
    values = _values(db, rounds)
    if not any(unit in v for v in values.values()) and unit not in project_units(db, project):
        raise NotFound(f"unit '{unit}' is not part of project '{project}'")
    data = fa.profile(unit, [{"id": r["id"], "name": r["name"]} for r in rounds], values, index_defs(q), item_labels(q),
                      ladders(q), checklists(q), min_other)
    registrations_by_round = {}
    for r in rounds:
        response = unit_response(db, r["id"], unit)
        registrations_by_round[r["name"]] = None if response is None else {
            "status": response["status"], "registered_by": response["registered_by"],
            "participants": response["participants"], "submitted_at": response["submitted_at"]}
    data.update({"project": project, "questionnaire": q.title, "registrations": registrations_by_round,
                 "rules": rules_for(q, min_other)})
    return data


def profile_rows(data: dict) -> list[dict]:
    """A profile as flat rows (JSON/CSV): index x round."""
    rows = []
    for index in data["indices"]:
        for r in index["rounds"]:
            comp = r["comparison"] or {}
            rows.append({"unit": data["unit"], "index": index["id"], "round": r["round"], "score": rounded(r["score"]),
                         "light": r["light"], "change": rounded(r["change"]), "target": r["target"],
                         "others_mean": rounded(comp.get("others_mean")), "others_n": comp.get("others_n"),
                         "comparison_suppressed": comp.get("suppressed")})
    return rows


def overview(db, project: str, round_ref=None, units: list[str] | None = None) -> dict:
    """The units x indices matrix of one fidelity round (default: the latest), with ladders and checklists."""
    rounds = kind_rounds(db, project, "fidelity")
    if not rounds:
        raise NotFound(f"project '{project}' has no fidelity rounds")
    round_ = get_round(db, round_ref, project) if round_ref is not None else rounds[-1]
    if round_["id"] not in {r["id"] for r in rounds}:
        raise SurveyError(f"round '{round_['name']}' is not a fidelity round of project '{project}'")
    q = round_questionnaire(db, round_)
    values = unit_answers(db, round_)
    matrix = fa.overview(values, index_defs(q), round_["name"])
    if units is not None:
        matrix["rows"] = [r for r in matrix["rows"] if r["unit"] in units]
    matrix["ladders"] = [{**ladder, **fa.ladder_distribution(values, ladder["id"], ladder["options"])} for ladder in ladders(q)]
    matrix["checklists"] = [{**c, **fa.checklist_counts(values, c["id"], c["options"])} for c in checklists(q)]
    matrix.update({"project": project, "round_id": round_["id"], "rounds": [r["name"] for r in rounds],
                   "rules": rules_for(q), "questionnaire": q.title})
    return matrix


def trends(db, project: str, units: list[str] | None = None) -> dict:
    """{index_id: {unit: [score per round]}} over the project's fidelity rounds, for the trend figure."""
    rounds = kind_rounds(db, project, "fidelity")
    q = _latest_questionnaire(db, rounds)
    values = _values(db, rounds)
    indices = index_defs(q)
    all_units = sorted({u for v in values.values() for u in v})
    if units is not None:
        all_units = [u for u in all_units if u in units]
    series = {}
    for index in indices:
        series[index["id"]] = {u: [fa.unit_index(values[r["id"]][u], index)["score"] if u in values[r["id"]] else None
                                   for r in rounds] for u in all_units}
    return {"rounds": [r["name"] for r in rounds], "indices": indices, "series": series, "rules": rules_for(q), "source": source(q)}


def trend_figure_bytes(db, project: str, fmt: str = "png", units: list[str] | None = None) -> bytes:
    return trend_figures(trends(db, project, units), (fmt,))[fmt]


def trend_figures(data: dict, formats=("png", "svg")) -> dict[str, bytes]:
    """The trend figure of trends already read (`trends`), drawn once, in each of `formats`."""
    caption = fa.trend_caption(data["rounds"], data["series"], data["indices"], data["source"])
    fig = fa.trend_figure(data["rounds"], data["series"], data["indices"], caption)
    return {fmt: fa.figure_bytes(fig, fmt) for fmt in formats}


def trend_rows(data: dict) -> list[dict]:
    return [{"index": index_id, "unit": unit, "round": data["rounds"][k], "score": rounded(score)}
            for index_id, per_unit in data["series"].items() for unit, scores in per_unit.items()
            for k, score in enumerate(scores)]


def profile_pdf(db, project: str, unit: str) -> bytes:
    return profile_document(profile(db, project, unit))


def profile_document(data: dict) -> bytes:
    """The one-page PDF of a profile already read with `profile`."""
    subtitle = f"{data['questionnaire']} · projekt {data['project']} · runder: {', '.join(data['rounds'])}"
    return fa.profile_pdf(data, f"Fidelitetsprofil: {data['unit']}", data["rules"], subtitle)


def self_evaluation(db, project: str, round_ref=None, units: list[str] | None = None) -> dict:
    """The units x questions matrix of a self-evaluation round (default: the latest)."""
    rounds = kind_rounds(db, project, "self_evaluation")
    if not rounds:
        raise NotFound(f"project '{project}' has no self-evaluation rounds")
    round_ = get_round(db, round_ref, project) if round_ref is not None else rounds[-1]
    q = round_questionnaire(db, round_)
    if q.kind != "self_evaluation":
        raise SurveyError(f"round '{round_['name']}' is not a self-evaluation round")
    items = q.question_items()
    ids = {i.id for i in items}
    questions = []
    for position, item in enumerate(items):
        if item.type not in ("scale", "single"):
            continue
        reason = f"{item.id}_begrundelse" if f"{item.id}_begrundelse" in ids else None
        if reason is None and position + 1 < len(items) and items[position + 1].type == "text":
            reason = items[position + 1].id
        questions.append({"id": item.id, "text": item.text, "reason_item": reason,
                          "options": {o.code: o.label for o in q.options(item)},
                          "missing": {o.code: o.label for o in q.missing_options(item)}})
    answers = unit_answers(db, round_, raw=True)
    if units is not None:
        answers = {u: a for u, a in answers.items() if u in units}
    matrix = fa.self_evaluation_matrix(answers, questions)
    options = questions[0]["options"] if questions else {}
    matrix.update({"project": project, "round": round_["name"], "rounds": [r["name"] for r in rounds], "questionnaire": q.title,
                   "rules": [f"Kilde: {source(q)}, runde {round_['name']}.",
                             "Skala: " + " / ".join(f"{label} ({code})" for code, label in options.items())
                             + '; "Ved ikke" vises som svar, men er ikke en vurdering.',
                             "Én besvarelse pr. enhed, registreret på enhedens vegne; begrundelsen står under svaret."]})
    return matrix


def self_evaluation_rows(matrix: dict) -> list[dict]:
    return [{"round": matrix["round"], "unit": row["unit"], "item": q["id"], "code": row["cells"][q["id"]]["code"],
             "label": row["cells"][q["id"]]["label"], "reason": row["cells"][q["id"]]["reason"]}
            for row in matrix["rows"] for q in matrix["questions"]]


# ---------------------------------------------------------------- activities and milestones


def _project(db, project: str) -> str:
    if not db.execute("SELECT 1 FROM projects WHERE id = ?", (project,)).fetchone():
        raise NotFound(f"project '{project}' not found")
    return project


def _round_in(db, project: str, round_ref) -> dict | None:
    if round_ref in (None, ""):
        return None
    round_ = get_round(db, round_ref, project)
    if round_["project_id"] != project:
        raise SurveyError(f"round '{round_['name']}' belongs to project '{round_['project_id']}', not '{project}'")
    return round_


def _finite(value) -> float:
    """A count, percentage or indicator value: float() also reads 'nan', 'inf' and '1e999'."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise SurveyError(f"'{value}' is not a number")
    return number


def _required_round(db, project: str, round_ref) -> dict:
    """The round a status note, light or value belongs to: one must be named."""
    round_ = _round_in(db, project, round_ref)
    if round_ is None:
        raise SurveyError("name the round")
    return round_


def _insert_coded(db, table: str, kind: str, project: str, code: str, unit: str, from_round, fields: dict,
                  actor: str, **details) -> int:
    """Add an activity or indicator (`fields`: its own columns) at the end of the project's list,
    followed from `from_round` (None: from the start); its code is unique per project and unit."""
    with transaction(db):
        _project(db, project)
        start = _round_in(db, project, from_round)
        if db.execute(f"SELECT 1 FROM {table} WHERE project_id = ? AND unit = ? AND code = ?", (project, unit or "", code)).fetchone():
            raise Conflict(f"{kind} '{code}' exists" + (f" for {unit}" if unit else ""))
        position = db.execute(f"SELECT COALESCE(MAX(position), 0) + 1 FROM {table} WHERE project_id = ?", (project,)).fetchone()[0]
        row = {"project_id": project, "unit": unit or "", "code": code, **fields, "position": position,
               "from_round_id": start["id"] if start else None, "created_at": now()}
        row_id = db.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                            list(row.values())).lastrowid
        audit.record(db, actor, f"{kind}.added", start["id"] if start else None, project=project, code=code, unit=unit, **details)
    return row_id


def _get(db, table: str, kind: str, row_id: int) -> dict:
    row = db.execute(f"SELECT * FROM {table} WHERE id = ?", (row_id,)).fetchone()
    if row is None:
        raise NotFound(f"{kind} {row_id} not found")
    return dict(row)


def _find(db, table: str, kind: str, project: str, code: str, unit: str = "") -> dict:
    # Not db.find_by_id_or_name: a code is unique only per project AND unit, and a numeric code is a code, not a row id.
    row = db.execute(f"SELECT * FROM {table} WHERE project_id = ? AND code = ? AND unit = ?", (project, code, unit or "")).fetchone()
    if row is None:
        raise NotFound(f"{kind} '{code}'" + (f" of {unit}" if unit else "") + f" not found in project '{project}'")
    return dict(row)


def add_activity(db, project: str, code: str, title: str, owner: str | None = None, unit: str = "",
                 description: str | None = None, from_round=None, actor: str = "cli") -> int:
    code, title = (code or "").strip(), (title or "").strip()
    if not code or not title:
        raise SurveyError("an activity needs a code and a title")
    return _insert_coded(db, "activities", "activity", project, code, unit, from_round,
                         {"title": title, "owner": (owner or "").strip() or None, "description": description}, actor, title=title)


def get_activity(db, activity_id: int) -> dict:
    return _get(db, "activities", "activity", activity_id)


def find_activity(db, project: str, code: str, unit: str = "") -> dict:
    return _find(db, "activities", "activity", project, code, unit)


def add_milestone(db, activity_id: int, title: str, measure: str = "status", target: float | None = None,
                  due_round=None, actor: str = "cli") -> int:
    activity = get_activity(db, activity_id)
    target = None if target is None else _finite(target)
    if measure not in MEASURES:
        raise SurveyError(f"a milestone is measured as {', '.join(MEASURES)}, not '{measure}'")
    if measure != "status" and target is None:
        raise SurveyError("a count or percentage milestone needs a target")
    if measure == "percent" and target is not None and not 0 <= target <= 100:
        raise SurveyError("a percentage target is between 0 and 100")
    if not (title or "").strip():
        raise SurveyError("a milestone needs a title")
    with transaction(db):
        due = _round_in(db, activity["project_id"], due_round)
        position = db.execute("SELECT COALESCE(MAX(position), 0) + 1 FROM milestones WHERE activity_id = ?", (activity_id,)).fetchone()[0]
        milestone_id = db.execute(
            "INSERT INTO milestones (activity_id, title, measure, target, due_round_id, position, created_at) VALUES (?,?,?,?,?,?,?)",
            (activity_id, title.strip(), measure, target, due["id"] if due else None, position, now())).lastrowid
        audit.record(db, actor, "milestone.added", due["id"] if due else None, activity=activity["code"], title=title, measure=measure, target=target)
    return milestone_id


def get_milestone(db, milestone_id: int) -> dict:
    row = db.execute("SELECT m.*, a.project_id, a.code AS activity_code, a.unit FROM milestones m "
                     "JOIN activities a ON a.id = m.activity_id WHERE m.id = ?", (milestone_id,)).fetchone()
    if row is None:
        raise NotFound(f"milestone {milestone_id} not found")
    return dict(row)


def parse_status(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    key = str(value).strip().casefold()
    if key not in STATUS_ALIASES:
        raise SurveyError(f"status must be Ja, Nej, På vej or N/A, not '{value}'")
    return STATUS_ALIASES[key]


def _round_position(db, project: str) -> dict[int, int]:
    return {r["id"]: k for k, r in enumerate(list_rounds(db, project))}


def _check_followed(db, kind: str, row: dict, round_: dict) -> None:
    """Refuse a status/value for a dropped or replaced activity/indicator in or after the round it left."""
    positions = _round_position(db, row["project_id"])
    if row["state"] != "active" and row["state_round_id"] is not None and \
            positions[round_["id"]] >= positions[row["state_round_id"]]:
        raise Conflict(f"{kind} '{row['code']}' is {row['state']} from round "
                       f"'{get_round(db, row['state_round_id'])['name']}' ({row['state_reason']}); nothing is recorded for it any more")
    if row.get("from_round_id") is not None and positions[round_["id"]] < positions[row["from_round_id"]]:
        raise Conflict(f"{kind} '{row['code']}' is followed from round '{get_round(db, row['from_round_id'])['name']}'")


def set_milestone_status(db, milestone_id: int, round_ref, status: str | None = None, value: float | None = None,
                         comment: str | None = None, actor: str = "cli") -> dict:
    """Record a milestone's status note in a round (Ja/Nej/På vej/N/A and/or a count or percentage, a comment)."""
    milestone = get_milestone(db, milestone_id)
    round_ = _required_round(db, milestone["project_id"], round_ref)
    status = parse_status(status)
    if value is not None:
        value = _finite(value)
        if milestone["measure"] == "percent" and not 0 <= value <= 100:
            raise SurveyError("a percentage is between 0 and 100")
        if value < 0:
            raise SurveyError("a count cannot be negative")
    if status is None and value is None and not (comment or "").strip():
        raise SurveyError("give a status, a value or a comment")
    with transaction(db):
        _check_followed(db, "activity", get_activity(db, milestone["activity_id"]), round_)
        db.execute(
            "INSERT INTO milestone_status (milestone_id, round_id, status, value, comment, updated_by, updated_at) "
            "VALUES (?,?,?,?,?,?,?) ON CONFLICT (milestone_id, round_id) DO UPDATE SET status = excluded.status, "
            "value = excluded.value, comment = excluded.comment, updated_by = excluded.updated_by, updated_at = excluded.updated_at",
            (milestone_id, round_["id"], status, value, (comment or "").strip() or None, actor, now()))
        audit.record(db, actor, "milestone.status_set", round_["id"], milestone=milestone_id, activity=milestone["activity_code"],
                     status=status, value=value, comment=comment)
    return {"milestone": milestone_id, "round": round_["name"], "status": status, "value": value}


def override_light(db, milestone_id: int, round_ref, light: str | None, reason: str | None, actor: str = "cli") -> dict:
    """Override the suggested traffic light of a milestone in a round, with a recorded reason.
    light=None removes the override (the suggestion applies again)."""
    milestone = get_milestone(db, milestone_id)
    round_ = _required_round(db, milestone["project_id"], round_ref)
    if light is not None and light not in OVERRIDE_LIGHTS:
        raise SurveyError(f"the light must be one of {', '.join(OVERRIDE_LIGHTS)}")
    if light is not None and not (reason or "").strip():
        raise SurveyError("an override needs a reason")
    with transaction(db):
        _check_followed(db, "activity", get_activity(db, milestone["activity_id"]), round_)
        db.execute("INSERT INTO milestone_status (milestone_id, round_id, updated_by, updated_at) VALUES (?,?,?,?) "
                   "ON CONFLICT DO NOTHING", (milestone_id, round_["id"], actor, now()))
        db.execute("UPDATE milestone_status SET light_override = ?, override_reason = ?, overridden_by = ?, overridden_at = ? "
                   "WHERE milestone_id = ? AND round_id = ?",
                   (light, (reason or "").strip() or None if light else None, actor if light else None, now() if light else None,
                    milestone_id, round_["id"]))
        audit.record(db, actor, "milestone.light_overridden" if light else "milestone.override_removed", round_["id"],
                     milestone=milestone_id, activity=milestone["activity_code"], light=light, reason=reason)
    return {"milestone": milestone_id, "round": round_["name"], "light": light}


def _retire(db, table: str, kind: str, row_id: int, round_ref, reason: str, state: str, replaced_by: int | None, actor: str) -> dict:
    row = _get(db, table, kind, row_id)
    if row["state"] != "active":
        raise Conflict(f"{kind} '{row['code']}' is already {row['state']}")
    if not (reason or "").strip():
        raise SurveyError(f"give a reason for {'dropping' if state == 'dropped' else 'replacing'} the {kind}")
    round_ = _round_in(db, row["project_id"], round_ref)
    if round_ is None:
        raise SurveyError("name the round from which it no longer applies")
    db.execute(f"UPDATE {table} SET state = ?, state_round_id = ?, state_reason = ?, replaced_by = ? WHERE id = ?",
               (state, round_["id"], reason.strip(), replaced_by, row_id))
    audit.record(db, actor, f"{kind}.{state}", round_["id"], code=row["code"], unit=row["unit"], reason=reason.strip(),
                 replaced_by=replaced_by)
    return row


def drop_activity(db, activity_id: int, round_ref, reason: str, actor: str = "cli") -> None:
    with transaction(db):
        _retire(db, "activities", "activity", activity_id, round_ref, reason, "dropped", None, actor)


def add_indicator(db, project: str, code: str, title: str, measure_unit: str = "", baseline: float | None = None,
                  target: float | None = None, direction: str = "higher", unit: str = "", from_round=None,
                  actor: str = "cli") -> int:
    code, title = (code or "").strip(), (title or "").strip()
    if not code or not title:
        raise SurveyError("an indicator needs a code and a title")
    if direction not in ("higher", "lower"):
        raise SurveyError("direction must be higher or lower (which way is better)")
    baseline, target = (None if v is None else _finite(v) for v in (baseline, target))
    return _insert_coded(db, "indicators", "indicator", project, code, unit, from_round,
                         {"title": title, "measure_unit": measure_unit or "", "baseline": baseline, "target": target,
                          "direction": direction}, actor, baseline=baseline, target=target, direction=direction)


def get_indicator(db, indicator_id: int) -> dict:
    return _get(db, "indicators", "indicator", indicator_id)


def find_indicator(db, project: str, code: str, unit: str = "") -> dict:
    return _find(db, "indicators", "indicator", project, code, unit)


def set_indicator_value(db, indicator_id: int, round_ref, value: float | None, comment: str | None = None,
                        actor: str = "cli") -> dict:
    indicator = get_indicator(db, indicator_id)
    round_ = _required_round(db, indicator["project_id"], round_ref)
    with transaction(db):
        _check_followed(db, "indicator", indicator, round_)
        db.execute("INSERT INTO indicator_values (indicator_id, round_id, value, comment, updated_by, updated_at) VALUES (?,?,?,?,?,?) "
                   "ON CONFLICT (indicator_id, round_id) DO UPDATE SET value = excluded.value, comment = excluded.comment, "
                   "updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                   (indicator_id, round_["id"], None if value is None else _finite(value), (comment or "").strip() or None, actor, now()))
        audit.record(db, actor, "indicator.value_set", round_["id"], indicator=indicator["code"], unit=indicator["unit"], value=value)
    return {"indicator": indicator["code"], "round": round_["name"], "value": value}


def drop_indicator(db, indicator_id: int, round_ref, reason: str, actor: str = "cli") -> None:
    with transaction(db):
        _retire(db, "indicators", "indicator", indicator_id, round_ref, reason, "dropped", None, actor)


def replace_indicator(db, indicator_id: int, round_ref, reason: str, code: str, title: str, measure_unit: str | None = None,
                      baseline: float | None = None, target: float | None = None, direction: str | None = None,
                      actor: str = "cli") -> int:
    """Replace an indicator from a round on: the old one stays visible as replaced (with the reason),
    the new one is followed from that round."""
    old = get_indicator(db, indicator_id)
    with transaction(db):
        new_id = add_indicator(db, old["project_id"], code, title, old["measure_unit"] if measure_unit is None else measure_unit,
                               baseline, target, direction or old["direction"], old["unit"], round_ref, actor)
        _retire(db, "indicators", "indicator", indicator_id, round_ref, reason, "replaced", new_id, actor)
    return new_id


# ---------------------------------------------------------------- the status-note table


def _followed(db, table: str, project: str, units: list[str] | None, positions: dict[int, int],
              names: dict[int, str], round_: dict) -> list[tuple[dict, dict]]:
    """The project's activities or indicators shown in a round (those followed from a later round
    left out; `units`: the project-wide ones and these units' only), each with how it shows: its
    state there and the note on a drop/replacement (names: round id -> name). One query: the
    replacement links are resolved among the project's rows."""
    here = positions[round_["id"]]
    rows = [dict(r) for r in db.query(f"SELECT * FROM {table} WHERE project_id = ? ORDER BY unit, position, id", [project])]
    by_id = {r["id"]: r for r in rows}
    replaced = {}
    for r in sorted(rows, key=lambda r: r["id"]):
        if r["replaced_by"] is not None:
            replaced.setdefault(r["replaced_by"], r)
    shown = []
    for row in rows:
        if units is not None and row["unit"] != "" and row["unit"] not in units:
            continue
        if row["from_round_id"] is not None and here < positions[row["from_round_id"]]:
            continue
        left = row["state"] != "active" and row["state_round_id"] is not None and here >= positions[row["state_round_id"]]
        note = None
        if left:
            note = f"{fa.STATE_LABELS[row['state']]} fra {names[row['state_round_id']]}: {row['state_reason']}"
            if row["replaced_by"]:
                new = by_id[row["replaced_by"]]
                note += f" (erstattet af {new['code']} {new['title']})"
        replaces = replaced.get(row["id"])
        shown.append((row, {"state": row["state"] if left else "active", "state_note": note,
                            "replaces": f"{replaces['code']} {replaces['title']}" if replaces else None}))
    return shown


def status_notes(db, project: str, round_ref=None, units: list[str] | None = None) -> dict:
    """The status-note table of a project in a round: activities x milestones, and goal indicators.

    Dropped and replaced activities/indicators are listed in later rounds too, marked as such with
    the reason; items followed only from a later round are left out of earlier rounds.
    """
    _project(db, project)
    rounds = list_rounds(db, project)
    if not rounds:
        raise NotFound(f"project '{project}' has no rounds")
    round_ = _round_in(db, project, round_ref) if round_ref not in (None, "") else rounds[-1]
    positions = {r["id"]: k for k, r in enumerate(rounds)}
    names = {r["id"]: r["name"] for r in rounds}
    here = positions[round_["id"]]
    # The project's milestones, their notes in this round and the indicators' values: one query each.
    milestones_of: dict[int, list[dict]] = {}
    for m in db.query("SELECT m.* FROM milestones m JOIN activities a ON a.id = m.activity_id WHERE a.project_id = ? "
                      "ORDER BY m.position, m.id", [project]):
        milestones_of.setdefault(m["activity_id"], []).append(dict(m))
    notes = {r["milestone_id"]: dict(r) for r in db.query(
        "SELECT s.* FROM milestone_status s JOIN milestones m ON m.id = s.milestone_id JOIN activities a ON a.id = m.activity_id "
        "WHERE a.project_id = ? AND s.round_id = ?", [project, round_["id"]])}
    values_of: dict[int, dict[int, dict]] = {}
    for v in db.query("SELECT v.* FROM indicator_values v JOIN indicators i ON i.id = v.indicator_id WHERE i.project_id = ?", [project]):
        values_of.setdefault(v["indicator_id"], {})[v["round_id"]] = dict(v)
    activities = []
    for a, state in _followed(db, "activities", project, units, positions, names, round_):
        milestones = []
        for m in milestones_of.get(a["id"], []):
            s = notes.get(m["id"], {})
            due = m["due_round_id"] is None or here >= positions[m["due_round_id"]]
            if state["state"] != "active":
                suggested, rule = None, "udgået/erstattet"
            else:
                suggested, rule = fa.suggest_milestone_light(m["measure"], s.get("status"), s.get("value"), m["target"], due)
            milestones.append({
                "id": m["id"], "title": m["title"], "measure": m["measure"], "target": m["target"],
                "due_round": names.get(m["due_round_id"]), "due": due,
                "status": s.get("status"), "status_label": fa.STATUS_LABELS.get(s.get("status")), "value": s.get("value"),
                "comment": s.get("comment"), "suggested": suggested, "rule": rule,
                "override": s.get("light_override"), "override_reason": s.get("override_reason"),
                "overridden_by": s.get("overridden_by"),
                "light": fa.effective_light(suggested, s.get("light_override")),
                "updated_by": s.get("updated_by"), "updated_at": s.get("updated_at")})
        activities.append({"id": a["id"], "code": a["code"], "title": a["title"], "unit": a["unit"], "owner": a["owner"],
                           "description": a["description"], **state, "milestones": milestones,
                           "light": fa.worst_light([m["light"] for m in milestones])})
    indicators = []
    for i, state in _followed(db, "indicators", project, units, positions, names, round_):
        values = values_of.get(i["id"], {})
        current = values.get(round_["id"], {})
        history = [{"round": r["name"], "value": values[r["id"]]["value"]} for r in rounds if r["id"] in values and positions[r["id"]] <= here]
        if state["state"] != "active":
            light, rule = None, "udgået/erstattet"
        else:
            light, rule = fa.suggest_indicator_light(current.get("value"), i["baseline"], i["target"], i["direction"])
        indicators.append({"id": i["id"], "code": i["code"], "title": i["title"], "unit": i["unit"], "measure_unit": i["measure_unit"],
                           "baseline": i["baseline"], "target": i["target"], "direction": i["direction"], **state,
                           "value": current.get("value"), "comment": current.get("comment"), "history": history,
                           "light": light, "rule": rule})
    return {"project": project, "round": round_["name"], "round_id": round_["id"], "rounds": [r["name"] for r in rounds],
            "activities": activities, "indicators": indicators, "rules": fa.status_rules()}


def status_note_rows(notes: dict) -> list[dict]:
    """The status-note table as flat rows: one per milestone, then one per indicator."""
    rows = []
    for a in notes["activities"]:
        for m in a["milestones"] or [{}]:
            rows.append({"round": notes["round"], "type": "milestone", "unit": a["unit"] or None, "code": a["code"],
                         "activity": a["title"], "owner": a["owner"], "state": a["state"], "state_note": a["state_note"],
                         "milestone": m.get("title"), "measure": m.get("measure"), "due_round": m.get("due_round"),
                         "status": m.get("status_label"), "value": m.get("value"), "target": m.get("target"),
                         "baseline": None, "direction": None, "comment": m.get("comment"),
                         "suggested_light": m.get("suggested"), "light": m.get("light"),
                         "override_reason": m.get("override_reason")})
    for i in notes["indicators"]:
        rows.append({"round": notes["round"], "type": "indicator", "unit": i["unit"] or None, "code": i["code"],
                     "activity": i["title"], "owner": None, "state": i["state"], "state_note": i["state_note"] or
                     (f"erstatter {i['replaces']}" if i["replaces"] else None),
                     "milestone": None, "measure": i["measure_unit"], "due_round": None, "status": None, "value": i["value"],
                     "target": i["target"], "baseline": i["baseline"], "direction": i["direction"], "comment": i["comment"],
                     "suggested_light": i["light"], "light": i["light"], "override_reason": None})
    return rows


# The columns of the flat rows (overview_rows, trend_rows, self_evaluation_rows, status_note_rows)
# in the console downloads and the CLI alike.
OVERVIEW_COLUMNS = ["round", "unit", "index", "score", "light", "answered_items", "n_items", "n_units", "alpha"]
TREND_COLUMNS = ["index", "unit", "round", "score"]
SELF_EVALUATION_COLUMNS = ["round", "unit", "item", "code", "label", "reason"]
STATUS_COLUMNS = ["round", "type", "unit", "code", "activity", "owner", "state", "state_note", "milestone", "measure",
                  "due_round", "status", "value", "target", "baseline", "direction", "comment", "suggested_light", "light",
                  "override_reason"]


def to_xlsx(rows: list[dict], columns: list[str], rules: list[str], title: str = "Status") -> bytes:
    """An XLSX workbook: the table on the first sheet, the rules in force on a sheet 'Regler'."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    from analysis.export import append_as_text

    fills = {light: colour.lstrip("#").upper() for light, colour in fa.PALE_COLOURS.items()}
    wb = Workbook()
    ws = wb.active
    ws.title = title[:31]
    append_as_text(ws, columns)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        append_as_text(ws, [spreadsheet_safe(row.get(c)) for c in columns])
        if row.get("light") in fills and "light" in columns:
            ws.cell(ws.max_row, columns.index("light") + 1).fill = PatternFill("solid", fgColor=fills[row["light"]])
    rules_sheet = wb.create_sheet("Regler")
    for rule in rules:
        append_as_text(rules_sheet, [rule])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def export_status_notes(db, project: str, round_ref=None, fmt: str = "csv", units: list[str] | None = None) -> bytes:
    return status_notes_file(status_notes(db, project, round_ref, units), fmt)


def status_notes_file(notes: dict, fmt: str = "csv") -> bytes:
    """The status-note table (from status_notes) as a CSV, XLSX or JSON file with the rules in force."""
    rules = [f"Statusnotat for projekt {notes['project']}, runde {notes['round']}."] + notes["rules"]
    rows = status_note_rows(notes)
    if fmt == "xlsx":
        return to_xlsx(rows, STATUS_COLUMNS, rules, "Statusnotat")
    if fmt == "csv":
        return write_csv(rows, STATUS_COLUMNS, rules).encode("utf-8")
    if fmt == "json":
        return json.dumps({"rows": rows, "rules": rules}, ensure_ascii=False, indent=2).encode("utf-8")
    raise SurveyError("format must be csv, xlsx or json")


def create_unit_round(db, name: str, questionnaire: str, project: str, units: list[str], secret: str,
                      opens: str | None = None, closes: str | None = None, actor: str = "cli") -> int:
    """A round answered on units' behalf, with one invitation per unit (convenience for CLI/demo)."""
    from .rounds import create_round

    with transaction(db):
        ensure_project(db, project)
    round_id = create_round(db, name, {"": questionnaire}, project, opens, closes, answered_by="unit", actor=actor)
    add_units(db, round_id, units, secret, actor)
    return round_id
