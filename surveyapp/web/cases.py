"""Blueprint "cases" (/cases): the professional's work list, families and members, registering
progress measurements on a person's behalf, self-completion links, and the evaluator tables.

Views are thin: every change goes through surveyapp.cases, the same functions the CLI calls.
Unit leads (professionals) see and change only their own units; evaluators see the tables.
"""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from .. import cases as service
from .. import get_db, questionnaire_store
from ..errors import NotFound, SurveyError
from ..responses import PageInvalid
from .auth import actor, allowed_units, current_user, require_unit, roles_required

bp = Blueprint("cases", __name__, url_prefix="/cases")

STATES = ("overdue", "due", "upcoming", "done")


def _today() -> dt.date:
    value = request.values.get("today")
    if value:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    return dt.date.today()


def _project(projects: list[str] | None = None) -> str:
    """The project asked for (?project=) when it has families, else the first that has."""
    if projects is None:
        projects = service.projects_with_cases(get_db())
    chosen = request.values.get("project")
    if chosen and chosen in projects:
        return chosen
    return projects[0] if projects else "familieprogression"


def _visible_units(project: str) -> list[str]:
    units = service.units(get_db(), project)
    allowed = allowed_units()
    return units if allowed is None else [u for u in units if u in allowed]


def _case_or_404(case_id: int) -> dict:
    try:
        case = service.get_case(get_db(), case_id)
    except NotFound:
        abort(404)
    require_unit(case["unit"])
    return case


def _member_or_404(member_id: int) -> dict:
    try:
        member = service.get_member_by_id(get_db(), member_id)
    except NotFound:
        abort(404)
    require_unit(member["unit"])
    return member


@bp.get("/")
@roles_required("unit_lead", "evaluator")
def worklist():
    if current_user()["role"] == "evaluator":
        return redirect(url_for("cases.counts"))  # evaluators read the tables; the work list is for professionals
    db = get_db()
    projects = service.projects_with_cases(db)
    project = _project(projects)
    units = _visible_units(project)
    unit = request.args.get("unit") or None
    if unit:
        require_unit(unit)
    states = tuple(s for s in request.args.getlist("state") if s in STATES) or ("overdue", "due")
    today = _today()
    every = service.worklist(db, project, unit, today, units=allowed_units(), states=STATES)
    counts = {s: 0 for s in STATES}
    for row in every:
        counts[row["state"]] += 1
    return render_template("cases/worklist.html", rows=[r for r in every if r["state"] in states], units=units, unit=unit,
                           states=states, counts=counts, today=today, project=project, projects=projects,
                           schedule_roles=_role_labels(db, project))


def _role_labels(db, project: str) -> dict:
    return {r.id: r.label for schedule in service.project_schedules(db, project) for r in schedule.roles}


@bp.route("/families", methods=["GET", "POST"])
@roles_required("unit_lead")
def families():
    db = get_db()
    project = _project()
    error = None
    form = {}
    if request.method == "POST":
        form = request.form.to_dict()
        unit = form.get("unit", "").strip()
        require_unit(unit) if unit else None
        try:
            case_id = service.open_case(db, project, form.get("key", ""), unit, form.get("opened_on", ""),
                                        form.get("schedule") or "familie-progression", form.get("label"), actor())
        except SurveyError as exc:
            error = str(exc)
        else:
            flash(f"Familien {form.get('key')} er oprettet.", "ok")
            return redirect(url_for("cases.family", case_id=case_id))
    allowed = allowed_units()
    rows = service.list_cases(db, project, allowed)
    keys = {r["key"] for r in rows}
    problems = [p for p in service.consistency_problems(db, project) if p["case"] in keys]
    unit_choices = allowed if allowed is not None else sorted(set(service.units(db, project)))
    return render_template("cases/families.html", rows=rows, project=project, error=error, form=form, problems=problems,
                           unit_choices=unit_choices, unit_locked=allowed is not None, today=_today()), (400 if error else 200)


@bp.get("/families/<int:case_id>")
@roles_required("unit_lead")
def family(case_id: int, error: str | None = None, form: dict | None = None, status: int = 200):
    db = get_db()
    case = _case_or_404(case_id)
    today = _today()
    schedule = service.get_schedule(db, case["schedule_id"])
    members = []
    for member in service.members_of(db, case_id):
        plan = service.member_plan(db, member, today, schedule=schedule)
        next_upcoming = next((p["slot"] for p in plan if p["state"] == "upcoming"), None)
        for entry in plan:   # register/link actions where they make sense: due, overdue, and the next one
            entry["actionable"] = entry["state"] in ("due", "overdue") or entry["slot"] == next_upcoming
        members.append({**member, "plan": plan})
    return render_template("cases/family.html", case=case, members=members, schedule=schedule, today=today,
                           error=error, form=form or {}, can_edit=True), status


@bp.post("/families/<int:case_id>/members")
@roles_required("unit_lead")
def add_member(case_id: int):
    _case_or_404(case_id)
    form = request.form.to_dict()
    try:
        service.add_member(get_db(), case_id, form.get("key", ""), form.get("role", ""), form.get("birth_date", ""),
                           form.get("intake_on") or None, form.get("name"), form.get("email"), actor())
    except SurveyError as exc:
        return family(case_id, error=str(exc), form=form, status=400)
    flash(f"{form.get('key')} er tilføjet.", "ok")
    return redirect(url_for("cases.family", case_id=case_id))


@bp.post("/families/<int:case_id>/close")
@roles_required("unit_lead")
def close_family(case_id: int):
    _case_or_404(case_id)
    try:
        result = service.close_case(get_db(), case_id, request.form.get("closed_on", ""), request.form.get("reason"), actor())
    except SurveyError as exc:
        return family(case_id, error=str(exc), form=request.form.to_dict(), status=400)
    flash(f"Familien er afsluttet {result['closed_on']}; {result['members_closed']} medlem(mer) afsluttet med den.", "ok")
    return redirect(url_for("cases.family", case_id=case_id))


@bp.post("/families/<int:case_id>/reopen")
@roles_required("unit_lead")
def reopen_family(case_id: int):
    _case_or_404(case_id)
    try:
        service.reopen_case(get_db(), case_id, actor())
    except SurveyError as exc:
        return family(case_id, error=str(exc), status=409)
    flash("Familien er genåbnet. Medlemmerne genåbnes enkeltvis.", "ok")
    return redirect(url_for("cases.family", case_id=case_id))


@bp.post("/members/<int:member_id>/close")
@roles_required("unit_lead")
def close_member(member_id: int):
    member = _member_or_404(member_id)
    try:
        service.close_member(get_db(), member_id, request.form.get("closed_on", ""), actor())
    except SurveyError as exc:
        return family(member["case_id"], error=str(exc), status=400)
    return redirect(url_for("cases.family", case_id=member["case_id"]))


@bp.post("/members/<int:member_id>/reopen")
@roles_required("unit_lead")
def reopen_member(member_id: int):
    member = _member_or_404(member_id)
    try:
        service.reopen_member(get_db(), member_id, actor())
    except SurveyError as exc:
        return family(member["case_id"], error=str(exc), status=409)
    return redirect(url_for("cases.family", case_id=member["case_id"]))


def _form_items(q, hidden: set[str], values: dict, errors: dict) -> list[dict]:
    sections = []
    for section in q.sections:
        items = []
        for item in section.items:
            if item.type == "info" or item.id in hidden:
                continue
            items.append({"id": item.id, "type": item.type, "text": item.text, "help": item.help, "required": item.required,
                          "options": q.options(item), "missing": q.missing_options(item),
                          "value": values.get(item.id, ""), "error": errors.get(item.id)})
        if items:
            sections.append({"title": section.title, "intro": section.intro, "fields": items})
    return sections


@bp.route("/members/<int:member_id>/register/<slot>", methods=["GET", "POST"])
@roles_required("unit_lead")
def register(member_id: int, slot: str):
    db = get_db()
    member = _member_or_404(member_id)
    schedule = service.get_schedule(db, member["schedule_id"])
    if slot not in schedule.slot_ids():
        abort(404)
    values = request.form.to_dict() if request.method == "POST" else {}
    reference = values.get("reference_date") or request.args.get("date") or _today().isoformat()
    try:
        route = service.routing(db, member, slot, reference)
    except ValueError:
        route = service.routing(db, member, slot, member["intake_on"])
    qid = request.values.get("questionnaire") or (route["instruments"][0] if route["instruments"] else None)
    if qid is None:
        abort(404)
    try:
        q = questionnaire_store.get_version(db, questionnaire_store.resolve_version(db, qid)["id"])
    except NotFound:
        abort(404)
    errors, error, status = {}, None, 200
    if request.method == "POST":
        answers = {k: v for k, v in values.items() if k not in ("csrf_token", "mode", "reference_date", "questionnaire")}
        try:
            service.register_measurement(db, current_app.config["SECRET_KEY"], member_id, slot, qid, answers,
                                         values.get("mode", ""), values.get("reference_date", ""), actor())
        except PageInvalid as exc:
            errors, error, status = exc.errors, "Målingen er ikke gemt. Ret det markerede og gem igen.", 400
        except SurveyError as exc:
            error, status = f"Målingen er ikke gemt: {exc}", 400
        else:
            flash(f"{q.title} ({slot}) er registreret for {member['key']}.", "ok")
            return redirect(url_for("cases.family", case_id=member["case_id"]))
    if request.method == "GET" and qid not in route["instruments"]:
        error = (f"Bemærk: {member['key']} er {route['age']} år på {route['date']} og skal have "
                 f"{', '.join(route['instruments']) or 'intet skema'} ved {slot}, ikke {qid}. Ret datoen eller vælg det rigtige skema.")
    hidden = set(route["hidden"].get(qid, []))
    target, start, end = schedule.due(slot, dt.date.fromisoformat(member["intake_on"]))
    return render_template("cases/register.html", member=member, slot=schedule.slot(slot), q=q, route=route,
                           sections=_form_items(q, hidden, values, errors), hidden=sorted(hidden), values=values,
                           reference=reference, error=error, modes=service.MODES, window=(target, start, end),
                           role_label=schedule.role_label(member["role"])), status


@bp.post("/members/<int:member_id>/link/<slot>")
@roles_required("unit_lead")
def link(member_id: int, slot: str):
    db = get_db()
    member = _member_or_404(member_id)
    send = request.form.get("send") == "1"
    try:
        links = service.self_completion_link(db, current_app.config["SECRET_KEY"], current_app.config["BASE_URL"], member_id,
                                             slot, actor(), current_app.config, send_mail=send)
    except SurveyError as exc:
        return family(member["case_id"], error=str(exc), status=400)
    return render_template("cases/link.html", member=member, slot=slot, links=links, sent=send)


@bp.get("/counts")
@roles_required("evaluator", "unit_lead")
def counts():
    db = get_db()
    projects = service.projects_with_cases(db)
    project = _project(projects)
    args = request.args
    error, result = None, None
    denominator = args.get("denominator") if args.get("denominator") in ("sample", "asked") else "sample"
    today = _today()
    records = service.person_records(db, project, today, allowed_units())   # the three tables read the same people
    try:
        result = service.count_table(db, project, args.get("cutoff") or None, args.get("split") or None, denominator,
                                     today, records=records)
    except SurveyError as exc:
        error = str(exc)
    paired, paired_error = [], None
    if result is not None:
        try:
            paired = service.paired_tables(db, project, cutoff=args.get("cutoff") or None, denominator=denominator,
                                           by_unit=args.get("by_unit") == "1", today=today, records=records)
        except SurveyError as exc:
            paired_error = str(exc)
    item_slot = args.get("item_slot") or "M1"
    item_denominator = "sample" if args.get("item_denominator") == "sample" else "asked"
    items = []
    if result is not None:
        try:
            items = service.item_tables(db, project, item_slot, args.get("cutoff") or None, item_denominator, today,
                                        records=records)
        except SurveyError as exc:
            paired_error = paired_error or str(exc)
    schedules = service.project_schedules(db, project)
    slots = schedules[-1].slot_ids() if schedules else []
    figure_args = {k: v for k, v in args.items() if k in ("project", "cutoff", "denominator", "today")}
    return render_template("cases/counts.html", result=result, paired=paired, items=items, error=error or paired_error,
                           args=args, denominator=denominator, item_slot=item_slot, item_denominator=item_denominator,
                           slots=slots, figure_args=figure_args, project=project,
                           projects=projects), (400 if error else 200)


@bp.get("/figures/paired-<score>.<kind>")
@roles_required("evaluator", "unit_lead")
def paired_figure(score: str, kind: str):
    """The paired M1-M2 figure of one score (PNG), or the CSV of the numbers it draws."""
    import tempfile
    from pathlib import Path

    from flask import Response

    from analysis.progress import paired_figure as draw

    if kind not in ("png", "csv"):
        abort(404)
    db = get_db()
    try:
        tables = service.paired_tables(db, _project(), cutoff=request.args.get("cutoff") or None,
                                       denominator="asked" if request.args.get("denominator") == "asked" else "sample",
                                       today=_today(), units=allowed_units())
    except SurveyError:
        abort(400)
    table = next((t for t in tables if t["score"] == score), None)
    if table is None:
        abort(404)
    with tempfile.TemporaryDirectory() as folder:
        png, csv_path = draw(table, Path(folder) / f"paired-{score}.png", table["title"], table["cutoffs"])
        data = (png if kind == "png" else csv_path).read_bytes()
    mimetype = "image/png" if kind == "png" else "text/csv; charset=utf-8"
    response = Response(data, mimetype=mimetype)
    if kind == "csv":
        response.headers["Content-Disposition"] = f"attachment; filename=paired-{score}.csv"
    return response
