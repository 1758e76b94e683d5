"""Cases (families) per unit, their members, and progress measurements registered for them.

Storage design: a measurement is an ordinary response. Each schedule slot and instrument
(e.g. "M1" x "who5") has one standing round per project, answered_by = 'citizen'; each member
gets one invitation in it (the panel person is the member, group = role, unit = the case's
unit), and `measurements` links member + slot + instrument to that invitation and its
response. Answers are stored only through `responses.save_page/submit/set_registration`, the
same code path the answer pages (/s/<token>) use, so a professional registering on the
person's behalf and a person answering a self-completion link end up in the same rows.

Rules kept here (and by triggers in migration 0003, and checked by `consistency_problems`):
closing a case closes its open members; a member cannot be open in a closed case.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
from pathlib import Path

from analysis import progress as analysis

from . import audit, questionnaire_store, responses, tokens
from .db import find_by_id_or_name, now, row_id, transaction
from .errors import Conflict, NotFound, SurveyError
from .questionnaire import Questionnaire
from .respondents import add_invitation
from .rounds import ensure_project, get_round
from .schedule import SCHEDULE_DIR, SCHEDULE_ID, Schedule, age_on, parse, parse_date, read_file, slot_state

QUESTIONNAIRE_DIR = Path(__file__).resolve().parent.parent / "questionnaires"
MODES = {"in_person": "Personligt møde", "phone": "Telefon", "self_completion": "Selv udfyldt"}
STATE_LABELS = {"done": "Gennemført", "due": "Skal måles nu", "overdue": "Overskredet", "upcoming": "Kommende",
                "not_due": "Ikke aktuel (afsluttet)"}


def _day(value, what: str) -> dt.date:
    if value in (None, ""):
        raise SurveyError(f"{what} is missing (YYYY-MM-DD)")
    try:
        return parse_date(value)
    except ValueError:
        raise SurveyError(f"{what}: '{value}' is not a date (YYYY-MM-DD)") from None


def _date(value, what: str) -> str:
    return _day(value, what).isoformat()


def _today(value) -> dt.date:
    """`today` as given (a date, or YYYY-MM-DD from --today), else the real date."""
    return _day(value, "today") if value else dt.date.today()


# ---------------------------------------------------------------- schedules


def load_schedule(db, path: str | Path, actor: str = "cli") -> dict:
    """Validate a schedule YAML file against the questionnaires it routes to and store it.

    Questionnaires named by the schedule that are not loaded yet are loaded from
    questionnaires/<id>.yaml when that file exists. Errors come as FILE:LINE: message.
    """
    path = Path(path)
    text = read_file(path)
    draft = parse(text, str(path))
    models = {}
    for qid in draft.questionnaire_ids():
        try:
            row = questionnaire_store.resolve_version(db, qid)
        except NotFound:
            candidate = QUESTIONNAIRE_DIR / f"{qid}.yaml"
            if not candidate.exists():
                continue
            questionnaire_store.load(db, candidate, actor=actor)
            row = questionnaire_store.resolve_version(db, qid)
        models[qid] = questionnaire_store.get_version(db, row["id"])
    schedule = parse(text, str(path), models)
    digest = hashlib.sha256(text.encode()).hexdigest()
    with transaction(db):
        old = db.execute("SELECT sha256 FROM schedules WHERE id = ?", (schedule.id,)).fetchone()
        if old and old["sha256"] == digest:
            return {"schedule": schedule.id, "new": False}
        db.execute("INSERT INTO schedules (id, yaml, sha256, source_path, loaded_at) VALUES (?,?,?,?,?) "
                   "ON CONFLICT(id) DO UPDATE SET yaml = excluded.yaml, sha256 = excluded.sha256, "
                   "source_path = excluded.source_path, loaded_at = excluded.loaded_at",
                   (schedule.id, text, digest, str(path), now()))
        audit.record(db, actor, "schedule.loaded", schedule=schedule.id, source=str(path), replaced=bool(old))
    return {"schedule": schedule.id, "new": True}


def get_schedule(db, schedule_id: str) -> Schedule:
    row = db.execute("SELECT yaml, sha256 FROM schedules WHERE id = ?", (schedule_id,)).fetchone()
    if row is None:
        if not re.fullmatch(SCHEDULE_ID, schedule_id or ""):  # a form's value, never a path
            raise NotFound(f"there is no schedule '{str(schedule_id)[:100]}'")
        default = SCHEDULE_DIR / f"{schedule_id}.yaml"
        if default.exists():
            load_schedule(db, default, actor="system")
            return get_schedule(db, schedule_id)
        raise NotFound(f"schedule '{schedule_id}' is not loaded; run `surveyapp cases schedule-load FILE`")
    return _parse_schedule(row["sha256"], row["yaml"])


def project_schedules(db, project: str) -> list[Schedule]:
    """The schedules the project's families follow."""
    return [get_schedule(db, r["schedule_id"])
            for r in db.query("SELECT DISTINCT schedule_id FROM cases WHERE project_id = ? ORDER BY schedule_id", [project])]


@functools.lru_cache(maxsize=32)
def _parse_schedule(sha: str, text: str) -> Schedule:
    return parse(text, f"<stored schedule {sha[:8]}>")


# ---------------------------------------------------------------- cases and members


def get_case(db, ref, project: str | None = None) -> dict:
    return find_by_id_or_name(db, "cases", "key", ref, project, "family")


def open_case(db, project: str, key: str, unit: str, opened_on, schedule_id: str = "familie-progression",
              label: str | None = None, actor: str = "cli") -> int:
    key, unit, project = (key or "").strip(), (unit or "").strip(), (project or "").strip()
    if not project:
        raise SurveyError("a family needs a project (e.g. familieprogression)")
    if not key:
        raise SurveyError("a family needs a key (e.g. F-017)")
    if not unit:
        raise SurveyError("a family needs a unit (e.g. the municipality)")
    opened = _date(opened_on, "opened on")
    get_schedule(db, schedule_id)
    with transaction(db):
        ensure_project(db, project)
        if db.execute("SELECT 1 FROM cases WHERE project_id = ? AND key = ?", (project, key)).fetchone():
            raise Conflict(f"project '{project}' already has a family '{key}'")
        case_id = db.execute(
            "INSERT INTO cases (project_id, key, unit, label, schedule_id, opened_on, created_at) VALUES (?,?,?,?,?,?,?)",
            (project, key, unit, (label or "").strip() or None, schedule_id, opened, now())).lastrowid
        audit.record(db, actor, "case.opened", case=key, unit=unit, opened_on=opened)
    return case_id


def _check_closing(what: str, row: dict, closed: str, started: str, start_text: str) -> None:
    """A family or member is closed once, and not before it started."""
    if row["closed_on"]:
        raise Conflict(f"{what} '{row['key']}' was already closed on {row['closed_on']}")
    if closed < started:
        raise SurveyError(f"{what} '{row['key']}' cannot close ({closed}) before {start_text} ({started})")


def close_case(db, case_ref, closed_on, reason: str | None = None, actor: str = "cli") -> dict:
    """Close a family and every member still open in it (on the same date, or their intake
    date if that is later)."""
    closed = _date(closed_on, "closed on")
    with transaction(db):
        case = get_case(db, case_ref)
        _check_closing("family", case, closed, case["opened_on"], "it opened")
        late = db.execute("SELECT p.key, m.intake_on FROM case_members m JOIN people p ON p.id = m.person_id "
                          "WHERE m.case_id = ? AND m.closed_on IS NULL AND m.intake_on > ?", (case["id"], closed)).fetchall()
        if late:
            raise SurveyError(f"member {late[0]['key']} joined on {late[0]['intake_on']}, after {closed}; close the family on or after that date")
        members = db.execute("UPDATE case_members SET closed_on = ? WHERE case_id = ? AND closed_on IS NULL",
                             (closed, case["id"])).rowcount
        db.execute("UPDATE cases SET closed_on = ?, close_reason = ? WHERE id = ?",
                   (closed, (reason or "").strip() or None, case["id"]))
        audit.record(db, actor, "case.closed", case=case["key"], closed_on=closed, members_closed=members)
    return {**get_case(db, case["id"]), "members_closed": members}


def reopen_case(db, case_ref, actor: str = "cli") -> dict:
    """Reopen a family; its members stay closed until they are reopened one by one."""
    with transaction(db):
        case = get_case(db, case_ref)
        if not case["closed_on"]:
            raise Conflict(f"family '{case['key']}' is open")
        db.execute("UPDATE cases SET closed_on = NULL, close_reason = NULL WHERE id = ?", (case["id"],))
        audit.record(db, actor, "case.reopened", case=case["key"])
    return get_case(db, case["id"])


def add_member(db, case_ref, key: str, role: str, birth_date, intake_on=None, name: str | None = None,
               email: str | None = None, actor: str = "cli") -> int:
    """Add a person to an open family. Intake defaults to the family's opening date."""
    key = (key or "").strip()
    if not key:
        raise SurveyError("a member needs a key (e.g. F-017-1)")
    birth = _date(birth_date, "birth date")
    with transaction(db):
        case = get_case(db, case_ref)
        if case["closed_on"]:
            raise Conflict(f"family '{case['key']}' is closed; reopen it before adding members")
        schedule = get_schedule(db, case["schedule_id"])
        if role not in schedule.role_ids():
            raise SurveyError(f"role must be one of {', '.join(schedule.role_ids())}, not '{role}'")
        intake = _date(intake_on, "intake date") if intake_on else case["opened_on"]
        if intake < case["opened_on"]:
            raise SurveyError(f"intake ({intake}) cannot be before the family opened ({case['opened_on']})")
        if birth > intake:
            raise SurveyError(f"birth date {birth} is after the intake date {intake}")
        person = db.execute("SELECT id FROM people WHERE project_id = ? AND key = ?", (case["project_id"], key)).fetchone()
        if person:
            if db.execute("SELECT 1 FROM case_members WHERE person_id = ?", (person["id"],)).fetchone():
                raise Conflict(f"'{key}' is already a member of a family")
            person_id = person["id"]
            db.execute("UPDATE people SET name = COALESCE(?, name), email = COALESCE(?, email) WHERE id = ?",
                       ((name or "").strip() or None, (email or "").strip() or None, person_id))
        else:
            person_id = db.execute("INSERT INTO people (project_id, key, name, email) VALUES (?,?,?,?)",
                                   (case["project_id"], key, (name or "").strip() or None, (email or "").strip() or None)).lastrowid
        member_id = db.execute(
            "INSERT INTO case_members (case_id, person_id, role, birth_date, intake_on, created_at) VALUES (?,?,?,?,?,?)",
            (case["id"], person_id, role, birth, intake, now())).lastrowid
        audit.record(db, actor, "case.member_added", case=case["key"], member=key, role=role)
    return member_id


# A member with the person's key and name and the family's key, unit, schedule and closing date.
MEMBER_SQL = ("SELECT m.*, p.key, p.name, p.email, p.project_id, c.key AS case_key, c.unit, c.schedule_id, "
              "c.closed_on AS case_closed_on FROM case_members m JOIN people p ON p.id = m.person_id "
              "JOIN cases c ON c.id = m.case_id ")


def _in_units(units: list[str] | None) -> tuple[str, list]:
    """SQL condition and parameters limiting cases c to `units` (None = all units)."""
    if units is None:
        return "", []
    return (f" AND c.unit IN ({','.join('?' * len(units))})" if units else " AND 0"), list(units)


def get_member_by_id(db, member_id: int) -> dict:
    row = db.execute(MEMBER_SQL + "WHERE m.id = ?", (member_id,)).fetchone()
    if row is None:
        raise NotFound(f"member {member_id} not found")
    return dict(row)


def get_member(db, ref, project: str | None = None) -> dict:
    """A member by id when `ref` is an int (the web pages' routes); else by key, or by id when
    no member has that key. Not db.find_by_id_or_name: the row joins three tables, and a key
    typed on the command line is the key before it is an id."""
    if isinstance(ref, int):
        return get_member_by_id(db, ref)
    text = str(ref).strip()
    rows = db.execute(MEMBER_SQL + "WHERE p.key = ?" + (" AND p.project_id = ?" if project else ""),
                      [text] + ([project] if project else [])).fetchall()
    if len(rows) > 1:
        raise SurveyError(f"several projects have a member '{text}'; give the project or the member's id")
    if rows:
        return dict(rows[0])
    if (number := row_id(text)) is not None:
        return get_member_by_id(db, number)
    raise NotFound(f"member '{text}' not found")


def close_member(db, member_ref, closed_on, actor: str = "cli") -> dict:
    closed = _date(closed_on, "closed on")
    with transaction(db):
        member = get_member(db, member_ref)
        _check_closing("member", member, closed, member["intake_on"], "intake")
        db.execute("UPDATE case_members SET closed_on = ? WHERE id = ?", (closed, member["id"]))
        audit.record(db, actor, "case.member_closed", member=member["key"], closed_on=closed)
    return get_member_by_id(db, member["id"])


def reopen_member(db, member_ref, actor: str = "cli") -> dict:
    with transaction(db):
        member = get_member(db, member_ref)
        if member["case_closed_on"]:
            raise Conflict(f"family '{member['case_key']}' is closed; a member cannot be open in a closed family")
        if not member["closed_on"]:
            raise Conflict(f"member '{member['key']}' is open")
        db.execute("UPDATE case_members SET closed_on = NULL WHERE id = ?", (member["id"],))
        audit.record(db, actor, "case.member_reopened", member=member["key"])
    return get_member_by_id(db, member["id"])


def consistency_problems(db, project: str | None = None) -> list[dict]:
    """Rows that break the case rules (found in databases written around the services), in one
    project or in all."""
    in_project, params = (" AND c.project_id = ?", [project]) if project else ("", [])
    problems = []
    for row in db.query(
            "SELECT c.key AS case_key, p.key, m.closed_on, c.closed_on AS case_closed_on FROM case_members m "
            "JOIN cases c ON c.id = m.case_id JOIN people p ON p.id = m.person_id "
            "WHERE c.closed_on IS NOT NULL AND (m.closed_on IS NULL OR m.closed_on > c.closed_on)" + in_project +
            " ORDER BY c.key, p.key", params):
        if row["closed_on"] is None:
            message = f"member {row['key']} is open in family {row['case_key']}, closed on {row['case_closed_on']}"
        else:
            message = (f"member {row['key']} closed on {row['closed_on']}, after family {row['case_key']} "
                       f"closed on {row['case_closed_on']}")
        problems.append({"case": row["case_key"], "member": row["key"], "problem": message})
    for row in db.query(
            "SELECT c.key AS case_key, p.key, m.intake_on, c.opened_on FROM case_members m JOIN cases c ON c.id = m.case_id "
            "JOIN people p ON p.id = m.person_id WHERE m.intake_on < c.opened_on" + in_project, params):
        problems.append({"case": row["case_key"], "member": row["key"],
                         "problem": f"member {row['key']} has intake {row['intake_on']} before family {row['case_key']} opened on {row['opened_on']}"})
    return problems


def list_cases(db, project: str, units: list[str] | None = None) -> list[dict]:
    in_units, params = _in_units(units)
    sql = ("SELECT c.*, (SELECT COUNT(*) FROM case_members m WHERE m.case_id = c.id) AS members, "
           "(SELECT COUNT(*) FROM case_members m WHERE m.case_id = c.id AND m.closed_on IS NULL) AS open_members "
           "FROM cases c WHERE c.project_id = ?" + in_units + " ORDER BY c.unit, c.key")
    return [dict(r) for r in db.query(sql, [project, *params])]


def members_of(db, case_id: int) -> list[dict]:
    return [dict(r) for r in db.query(MEMBER_SQL + "WHERE m.case_id = ? ORDER BY m.role DESC, m.birth_date, p.key", [case_id])]


def units(db, project: str) -> list[str]:
    return [r["unit"] for r in db.query("SELECT DISTINCT unit FROM cases WHERE project_id = ? ORDER BY unit", [project])]


def projects_with_cases(db) -> list[str]:
    return [r["project_id"] for r in db.query("SELECT DISTINCT project_id FROM cases ORDER BY project_id")]


# ---------------------------------------------------------------- measurements


def slot_round(db, project: str, schedule: Schedule, slot_id: str, questionnaire_id: str, actor: str = "system") -> dict:
    """The standing round of a schedule slot and instrument (created and opened on first use)."""
    name = f"{schedule.id} {slot_id} {questionnaire_id}"
    row = db.execute("SELECT id FROM rounds WHERE project_id = ? AND name = ?", (project, name)).fetchone()
    if row:
        return get_round(db, row["id"])
    version = questionnaire_store.resolve_version(db, questionnaire_id)
    with transaction(db):
        round_id = db.execute(
            "INSERT INTO rounds (project_id, name, status, answered_by, created_at, opened_at) VALUES (?,?,?,?,?,?)",
            (project, name, "open", "citizen", now(), now())).lastrowid
        db.execute("INSERT INTO round_questionnaires (round_id, group_name, questionnaire_version_id) VALUES (?, '', ?)",
                   (round_id, version["id"]))
        audit.record(db, actor, "round.created", round_id, name=name, questionnaires={"": questionnaire_id}, standing=True)
    return get_round(db, round_id)


def _check_slot(schedule: Schedule, slot_id: str) -> None:
    if slot_id not in schedule.slot_ids():
        raise SurveyError(f"measurement must be one of {', '.join(schedule.slot_ids())}, not '{slot_id}'")


def routing(db, member: dict, slot_id: str, on) -> dict:
    """Age on the date and the instruments (with hidden items) a member gets at a slot."""
    schedule = get_schedule(db, member["schedule_id"])
    _check_slot(schedule, slot_id)
    age = age_on(member["birth_date"], on)
    instruments = schedule.instruments_for(slot_id, member["role"], age)
    return {"age": age, "date": parse_date(on).isoformat(), "instruments": instruments,
            "hidden": {q: sorted(schedule.hidden_items(q, member["role"], age)) for q in instruments}}


def ensure_measurement(db, secret: str, member: dict, slot_id: str, questionnaire_id: str, actor: str = "system") -> dict:
    """The measurement row (with invitation) of a member, slot and instrument; created on first use."""
    row = db.execute("SELECT * FROM measurements WHERE member_id = ? AND slot = ? AND questionnaire_id = ?",
                     (member["id"], slot_id, questionnaire_id)).fetchone()
    if row:
        return dict(row)
    schedule = get_schedule(db, member["schedule_id"])
    _check_slot(schedule, slot_id)
    round_ = slot_round(db, member["project_id"], schedule, slot_id, questionnaire_id, actor)
    with transaction(db):
        invitation_id = add_invitation(db, round_, {"key": member["key"], "group": member["role"], "unit": member["unit"],
                                                    "attributes": {"case": member["case_key"], "slot": slot_id}}, secret)
        db.execute("INSERT INTO measurements (member_id, slot, questionnaire_id, round_id, invitation_id, created_at) "
                   "VALUES (?,?,?,?,?,?)", (member["id"], slot_id, questionnaire_id, round_["id"], invitation_id, now()))
    return dict(db.execute("SELECT * FROM measurements WHERE member_id = ? AND slot = ? AND questionnaire_id = ?",
                           (member["id"], slot_id, questionnaire_id)).fetchone())


def _set_not_asked(db, measurement: dict, items) -> None:
    """Put the items the schedule routes away from the member on the measurement's invitation,
    so the answer pages, page saves and submission never ask them (see responses.not_asked_of)."""
    responses.set_not_asked(db, measurement["invitation_id"], items)


def _response_for(db, secret: str, measurement: dict) -> dict:
    token = tokens.make_token(secret, measurement["invitation_id"])
    invitation = tokens.find_invitation(db, secret, token)
    if invitation is None:
        raise SurveyError("the measurement's link does not match the server's secret key")
    response = responses.start_response(db, secret, token, invitation)
    if measurement.get("response_id") != response["id"]:
        db.execute("UPDATE measurements SET response_id = ? WHERE id = ?", (response["id"], measurement["id"]))
    return response


def _check_registrable(member: dict, reference: str, today: dt.date | None = None) -> None:
    today = today or dt.date.today()
    if reference > today.isoformat():
        raise SurveyError(f"the measurement date {reference} is in the future")
    if reference < member["intake_on"]:
        raise SurveyError(f"the measurement date {reference} is before {member['key']}'s intake on {member['intake_on']}")
    if member["closed_on"] and reference > member["closed_on"]:
        raise Conflict(f"{member['key']} was closed on {member['closed_on']}; a measurement after that date cannot be registered")


def register_measurement(db, secret: str, member_ref, slot_id: str, questionnaire_id: str, answers: dict, mode: str,
                         reference_date, registered_by: str, submit: bool = True, today: dt.date | None = None) -> dict:
    """Register a measurement on a member's behalf: the answers, how they were given (mode),
    the date they refer to (kept apart from when they were entered), and who entered them.

    The instrument must be the one the schedule routes the member to on the reference date,
    and answers to items the schedule hides from the member (by role or age) are refused.
    All pages are saved and the response submitted in one transaction: any problem
    (PageInvalid with every item's reason, or SurveyError) stores nothing.
    """
    if mode not in MODES:
        raise SurveyError(f"mode must be one of {', '.join(MODES)}, not '{mode}'")
    reference = _date(reference_date, "the date the measurement refers to")
    member = get_member(db, member_ref)
    _check_registrable(member, reference, today)
    route = routing(db, member, slot_id, reference)
    if questionnaire_id not in route["instruments"]:
        schedule = get_schedule(db, member["schedule_id"])
        raise SurveyError(
            f"{member['key']} ({schedule.role_label(member['role'])}, {route['age']} år on {reference}) answers "
            f"{', '.join(route['instruments']) or 'no instrument'} at {slot_id}, not {questionnaire_id}")
    hidden = set(route["hidden"].get(questionnaire_id, []))
    given_hidden = sorted(k for k in hidden if answers.get(k) not in (None, "", []))
    if given_hidden:
        raise responses.PageInvalid({k: f"Spørges ikke {member['key']} ({route['age']} år på måledatoen)." for k in given_hidden})
    if not any(v not in (None, "", []) for k, v in answers.items() if k not in hidden):
        raise SurveyError("no answers were given; nothing is registered")
    with transaction(db):
        measurement = ensure_measurement(db, secret, member, slot_id, questionnaire_id, actor=registered_by)
        response = _response_for(db, secret, measurement)
        q = responses.questionnaire_of(db, response)
        if response["status"] == "complete":
            raise Conflict(f"{member['key']} already has a completed {questionnaire_id} at {slot_id}")
        _set_not_asked(db, measurement, hidden)  # the routing on the reference date
        errors = {}
        for index, section in enumerate(q.sections):
            form = {item.id: answers.get(item.id) for item in section.items if item.id not in hidden}
            try:
                responses.save_page(db, response, index, form)
            except responses.PageInvalid as error:
                errors.update(error.errors)
        if errors:
            raise responses.PageInvalid(errors)
        responses.set_registration(db, response, registered_by, mode, reference)
        if submit:
            response = responses.submit(db, response)
        audit.record(db, registered_by, "measurement.registered", response["round_id"], member=member["key"],
                     slot=slot_id, questionnaire=questionnaire_id, mode=mode, reference_date=reference)
    return responses.get_response(db, response["id"])


def self_completion_link(db, secret: str, base_url: str, member_ref, slot_id: str, registered_by: str,
                         settings: dict | None = None, send_mail: bool = False, today: dt.date | None = None) -> list[dict]:
    """Links for the member to answer the slot's instruments themselves (/s/<token>).

    The registration (who, mode self_completion) is recorded up front so the answer pages go
    straight to the questions; the reference date is the day the person submits. With
    send_mail the links are e-mailed to the member's address through surveyapp.mail.
    """
    member = get_member(db, member_ref)
    if member["closed_on"]:
        raise Conflict(f"{member['key']} is closed; no link is sent")
    today = today or dt.date.today()
    route = routing(db, member, slot_id, today)
    if not route["instruments"]:
        raise SurveyError(f"{member['key']} has no instrument at {slot_id}")
    links = []
    with transaction(db):
        for qid in route["instruments"]:
            measurement = ensure_measurement(db, secret, member, slot_id, qid, actor=registered_by)
            response = _response_for(db, secret, measurement)
            if response["status"] == "complete":
                continue
            # The items routed away on the day the link is (re)issued are not asked on the answer pages.
            _set_not_asked(db, measurement, route["hidden"][qid])
            if not response["registered_by"]:
                responses.set_registration(db, response, registered_by, "self_completion", None)
            links.append({"questionnaire": qid, "measurement_id": measurement["id"],
                          "url": tokens.answer_url(base_url, tokens.make_token(secret, measurement["invitation_id"])),
                          "hidden_items": route["hidden"][qid]})
    if not links:
        raise Conflict(f"{member['key']} has completed every instrument at {slot_id}")
    if send_mail:
        if not member["email"]:
            raise SurveyError(f"{member['key']} has no e-mail address; give the link in person instead")
        from . import mail

        mailer = mail.Mailer(settings or {})
        body = ("Hej {name}\n\nDu er blevet bedt om at besvare et kort spørgeskema om, hvordan du har det.\n"
                "Brug dette personlige link:\n\n{links}\n\nLinket er personligt; del det ikke med andre.\n").format(
            name=member["name"] or "", links="\n".join(link["url"] for link in links))
        message = mail.build_message(mailer.sender, {"name": member["name"], "email": member["email"]},
                                     "Spørgeskema om din trivsel", body)
        try:
            mailer.send(message)
        except Exception as error:  # noqa: BLE001 - SMTP errors of any kind become one clear reason
            raise SurveyError(f"the link could not be e-mailed to {member['email']}: {error}") from None
        finally:
            mailer.close()
        with transaction(db):
            for link in links:
                db.execute("UPDATE measurements SET link_sent_at = ? WHERE id = ?", (now(), link["measurement_id"]))
            audit.record(db, registered_by, "measurement.link_sent", member=member["key"], slot=slot_id)
    return links


# ---------------------------------------------------------------- the work list and evaluator data


def _measurements(db, member_ids: list[int]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    if not member_ids:
        return out
    placeholders = ",".join("?" * len(member_ids))
    for row in db.query(
            f"SELECT ms.*, r.status, r.reference_date, r.submitted_at, r.registration_mode, r.registered_by, "
            f"r.questionnaire_version_id FROM measurements ms LEFT JOIN responses r ON r.id = ms.response_id "
            f"WHERE ms.member_id IN ({placeholders}) ORDER BY ms.id", member_ids):
        row = dict(row)
        row["complete"] = row["status"] == "complete"
        row["measured_on"] = row["reference_date"] or (row["submitted_at"] or "")[:10] or None
        out.setdefault(row["member_id"], []).append(row)
    return out


def _schedules_of(db, members: list[dict]) -> dict[str, Schedule]:
    """The schedules of these members, each read once (get_schedule is one query per call)."""
    return {schedule_id: get_schedule(db, schedule_id) for schedule_id in {m["schedule_id"] for m in members}}


def member_plan(db, member: dict, today: dt.date, measurements: list[dict] | None = None,
                schedule: Schedule | None = None) -> list[dict]:
    """Every slot of the member's schedule: dates, routing, state and the instruments' progress.
    `measurements` and `schedule`: the member's, when the caller has them already."""
    schedule = schedule or get_schedule(db, member["schedule_id"])
    if measurements is None:
        measurements = _measurements(db, [member["id"]]).get(member["id"], [])
    closed = parse_date(member["closed_on"]) if member["closed_on"] else None
    rows = []
    for slot in schedule.measurements:
        target, start, end = schedule.due(slot.id, parse_date(member["intake_on"]))
        found = [m for m in measurements if m["slot"] == slot.id]
        complete = [m for m in found if m["complete"]]
        on = complete[0]["measured_on"] if complete and complete[0]["measured_on"] else target.isoformat()
        age = age_on(member["birth_date"], on)
        instruments = schedule.instruments_for(slot.id, member["role"], age)
        done_ids = {m["questionnaire_id"] for m in complete}
        done = bool(instruments) and all(q in done_ids for q in instruments)
        state = slot_state(start, end, today, done, closed)
        rows.append({
            "slot": slot.id, "label": slot.label, "target": target.isoformat(), "window_start": start.isoformat(),
            "window_end": end.isoformat(), "age": age, "instruments": instruments,
            "hidden": {q: sorted(schedule.hidden_items(q, member["role"], age)) for q in instruments},
            "state": state, "state_label": STATE_LABELS[state],
            "days_overdue": (today - end).days if state == "overdue" else 0,
            "progress": {q: ("done" if q in done_ids else "started" if any(m["questionnaire_id"] == q for m in found) else "missing")
                         for q in instruments},
            "measured_on": complete[0]["measured_on"] if complete else None,
            "modes": sorted({m["registration_mode"] for m in complete if m["registration_mode"]}),
            "in_window": (start.isoformat() <= complete[0]["measured_on"] <= end.isoformat()) if complete and complete[0]["measured_on"] else None,
        })
    return rows


def worklist(db, project: str, unit: str | None = None, today=None, units: list[str] | None = None,
             states: tuple[str, ...] = ("overdue", "due", "done", "upcoming")) -> list[dict]:
    """The professional's list: per open member, the slots that are due, overdue or done, and the
    next upcoming one. Sorted: overdue first (longest overdue on top), then due, upcoming, done."""
    today = _today(today)
    in_units, params = _in_units(units)
    sql = MEMBER_SQL + "WHERE c.project_id = ? AND m.closed_on IS NULL" + in_units
    params.insert(0, project)
    if unit:
        sql += " AND c.unit = ?"
        params.append(unit)
    members = [dict(r) for r in db.query(sql, params)]
    by_member = _measurements(db, [m["id"] for m in members])
    schedules = _schedules_of(db, members)
    rows = []
    for member in members:
        plan = member_plan(db, member, today, by_member.get(member["id"], []), schedules[member["schedule_id"]])
        next_upcoming = next((p for p in plan if p["state"] == "upcoming"), None)
        for entry in plan:
            if entry["state"] == "upcoming" and entry is not next_upcoming:
                continue
            if entry["state"] not in states:
                continue
            rows.append({"unit": member["unit"], "case": member["case_key"], "member": member["key"], "member_id": member["id"],
                         "name": member["name"], "role": member["role"], "birth_date": member["birth_date"],
                         "age_today": age_on(member["birth_date"], today), "email": bool(member["email"]), **entry})
    order = {"overdue": 0, "due": 1, "upcoming": 2, "done": 3, "not_due": 4}
    rows.sort(key=lambda r: (order[r["state"]], -r["days_overdue"], r["window_end"], r["case"], r["member"]))
    return rows


def _score_specs(q: Questionnaire) -> list[tuple[dict, dict]]:
    specs = []
    for score in q.scores:
        items = {}
        for item_id in score.items:
            item = q.item(item_id)
            codes = q.substantive_codes(item) if item.type in ("scale", "single") else None
            items[item_id] = {"codes": codes, "reverse": item.reverse,
                              "reverse_sum": q.reverse_value(item, 0) if item.reverse else None}
        specs.append(({"id": score.id, "items": score.items, "method": score.method, "multiplier": score.multiplier,
                       "offset": score.offset, "min_answered": score.min_answered}, items))
    return specs


def person_records(db, project: str, today=None, units: list[str] | None = None) -> list[dict]:
    """Plain records (see analysis/progress.py) of every member in the project, with their
    slots' windows and routed instruments and their measurements' reference dates and scores."""
    today = _today(today)
    in_units, params = _in_units(units)
    members = [dict(r) for r in db.query(MEMBER_SQL + "WHERE c.project_id = ?" + in_units + " ORDER BY c.unit, c.key, p.key",
                                         [project, *params])]
    by_member = _measurements(db, [m["id"] for m in members])
    schedules = _schedules_of(db, members)
    records = []
    versions: dict[int, tuple[Questionnaire, list[tuple[dict, dict]]]] = {}   # version id -> model and its scores
    for member in members:
        found = by_member.get(member["id"], [])
        schedule = schedules[member["schedule_id"]]
        plan = member_plan(db, member, today, found, schedule)
        measurements = []
        for m in found:
            scores, answers, hidden = {}, {}, []
            if m["complete"] and m["response_id"]:
                if m["questionnaire_version_id"] not in versions:
                    q = questionnaire_store.get_version(db, m["questionnaire_version_id"])
                    versions[m["questionnaire_version_id"]] = q, _score_specs(q)
                q, specs = versions[m["questionnaire_version_id"]]
                answers = responses.load_answers(db, m["response_id"], q)
                for spec, items in specs:
                    scores[spec["id"]] = analysis.compute_score(answers, spec, items)
                if m["measured_on"]:
                    hidden = sorted(schedule.hidden_items(m["questionnaire_id"], member["role"],
                                                          age_on(member["birth_date"], m["measured_on"])))
            measurements.append({"slot": m["slot"], "questionnaire": m["questionnaire_id"], "reference_date": m["measured_on"],
                                 "complete": m["complete"], "mode": m["registration_mode"], "scores": scores,
                                 "answers": answers, "hidden": hidden})
        records.append({"person": member["key"], "unit": member["unit"], "case": member["case_key"], "role": member["role"],
                        "birth_date": member["birth_date"], "intake": member["intake_on"], "closed_on": member["closed_on"],
                        "slots": {p["slot"]: {"target": p["target"], "window_start": p["window_start"],
                                              "window_end": p["window_end"], "instruments": p["instruments"]} for p in plan},
                        "measurements": measurements})
    return records


def _check_table_args(cutoff, denominator: str) -> str | None:
    """The cut-off as YYYY-MM-DD (or None); refuses an unknown denominator."""
    if denominator not in analysis.DENOMINATORS:
        raise SurveyError(f"denominator must be one of {', '.join(analysis.DENOMINATORS)}")
    return _date(cutoff, "--cutoff") if cutoff else None


def _min_n(db, project: str) -> int:
    return (db.execute("SELECT min_n FROM projects WHERE id = ?", (project,)).fetchone() or {"min_n": 5})["min_n"]


def count_table(db, project: str, cutoff=None, split=None, denominator: str = "sample", today=None,
                units: list[str] | None = None, records: list[dict] | None = None) -> dict:
    """Counts per unit (analysis.progress.counts). `records`: person_records(db, project, today,
    units) when the caller has them already (a page showing several tables builds them once)."""
    cutoff = _check_table_args(cutoff, denominator)
    if split:
        split = _date(split, "--split")
    if records is None:
        records = person_records(db, project, today, units)
    return analysis.counts(records, cutoff, split, denominator, today)


def score_definitions(db, project: str) -> list[dict]:
    """The scores of the instruments the project's schedules route to, with their cut-offs."""
    out = []
    seen = set()
    for schedule in project_schedules(db, project):
        for qid in schedule.questionnaire_ids():
            q = questionnaire_store.get_version(db, questionnaire_store.resolve_version(db, qid)["id"])
            for score in q.scores:
                if (qid, score.id) not in seen:
                    seen.add((qid, score.id))
                    out.append({"questionnaire": qid, "score": score.id, "title": score.title,
                                "cutoffs": [c.model_dump() for c in score.cutoffs]})
    return out


def paired_tables(db, project: str, first: str = "M1", second: str = "M2", cutoff=None, denominator: str = "sample",
                  by_unit: bool = False, today=None, units: list[str] | None = None,
                  records: list[dict] | None = None) -> list[dict]:
    """One paired table (analysis.progress.paired) per score the project's schedules route to."""
    cutoff = _check_table_args(cutoff, denominator)
    min_n = _min_n(db, project)
    if records is None:
        records = person_records(db, project, today, units)
    tables = []
    for definition in score_definitions(db, project):
        result = analysis.paired(records, definition["score"], definition["questionnaire"], first, second, cutoff,
                                 denominator, by_unit, min_n, today, definition["cutoffs"])
        tables.append({**definition, **result})
    return tables


def routed_items(db, project: str) -> list[dict]:
    """The choice items the project's schedules ask only some members (item rules), with options."""
    out = []
    for schedule in project_schedules(db, project):
        for rule in schedule.item_rules:
            q = questionnaire_store.get_version(db, questionnaire_store.resolve_version(db, rule.questionnaire)["id"])
            item = q.item(rule.item)
            if item.type not in ("single", "scale"):
                continue
            out.append({"questionnaire": q.id, "item": item.id, "text": item.text,
                        "rule": rule.age.describe() if rule.age else ", ".join(rule.roles or []),
                        "options": [{"code": o.code, "label": o.label} for o in q.options(item) + q.missing_options(item)]})
    return out


def item_tables(db, project: str, slot: str = "M1", cutoff=None, denominator: str = "asked", today=None,
                units: list[str] | None = None, records: list[dict] | None = None) -> list[dict]:
    """One table (analysis.progress.item_table) per item the project's schedules ask only some members."""
    cutoff = _check_table_args(cutoff, denominator)
    min_n = _min_n(db, project)
    if records is None:
        records = person_records(db, project, today, units)
    return [{**spec, **analysis.item_table(records, spec["questionnaire"], spec["item"], spec["options"], slot, cutoff,
                                           denominator, min_n)}
            for spec in routed_items(db, project)]
