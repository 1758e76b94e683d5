"""Fidelity and implementation monitoring in the console (/fidelity).

    GET       /fidelity/                               projects with unit rounds
    GET,POST  /fidelity/<p>/register                   start a registration on a unit's behalf
    POST      /fidelity/<p>/reopen                     reopen a unit's submitted response (admin, audited)
    GET       /fidelity/<p>/overview[.csv]             units x indices matrix per round (?round=)
    GET       /fidelity/<p>/trends.(png|svg|csv)       index trends for all units in one figure
    GET       /fidelity/<p>/units/<unit>               a unit's profile (printable); .pdf = one page
    GET       /fidelity/<p>/status[.csv|.xlsx]         activity & goal status notes (?round=)
    POST      /fidelity/<p>/milestones/<id>            status note of a milestone in a round
    POST      /fidelity/<p>/milestones/<id>/override   override its traffic light with a reason
    POST      /fidelity/<p>/indicators/<id>            value of an indicator in a round
    POST      /fidelity/<p>/indicators/<id>/retire     drop or replace an indicator (admin)
    GET       /fidelity/<p>/self-evaluation[.csv]      units x questions matrix

Roles: admin (everything), unit_lead (their own units: register, profile, status of their units),
evaluator (read-only). The views only call `surveyapp.fidelity`.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from analysis import fidelity as fa
from .. import fidelity as service
from ..tabular import write_csv
from .. import get_db
from ..errors import Conflict, NotFound, SurveyError
from ..rounds import get_project, list_rounds
from .auth import actor, allowed_units, current_user, require_unit, roles_required

bp = Blueprint("fidelity", __name__, url_prefix="/fidelity")

EVERYONE = ("unit_lead", "evaluator")
LEADS = ("unit_lead",)


def _project(project: str) -> dict:
    try:
        return get_project(get_db(), project)
    except NotFound:
        abort(404)


def _visible_units(project: str) -> list[str]:
    units = service.project_units(get_db(), project)
    allowed = allowed_units()
    return units if allowed is None else [u for u in units if u in allowed]


def _round_arg() -> str | None:
    return request.args.get("round") or request.form.get("round") or None


def _can_edit_unit(unit: str) -> bool:
    user = current_user()
    if user is None or user["role"] == "evaluator":
        return False
    if user["role"] == "admin":
        return True
    return bool(unit) and unit in user["units"]


def _download(data: bytes | str, filename: str, mimetype: str) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return response


@bp.context_processor
def _helpers():
    return {"light_label": lambda light: fa.LIGHT_LABELS.get(light, fa.LIGHT_LABELS[None]),
            "status_labels": fa.STATUS_LABELS, "override_lights": service.OVERRIDE_LIGHTS,
            "can_edit_unit": _can_edit_unit}


# ---------------------------------------------------------------- index


@bp.get("/")
@roles_required(*EVERYONE)
def index():
    db = get_db()
    projects = service.fidelity_projects(db)
    for p in projects:
        p["units"] = _visible_units(p["id"])
    return render_template("fidelity/index.html", projects=projects, title="Fidelitet og implementering")


# ---------------------------------------------------------------- registrations


@bp.route("/<project>/register", methods=["GET", "POST"])
@roles_required(*LEADS)
def register(project):
    db = get_db()
    project_row = _project(project)
    unit_rounds = [r for r in list_rounds(db, project) if r["answered_by"] == "unit"]
    units = _visible_units(project)
    error, status, refused = None, 200, None
    form = {"round": request.values.get("round", ""), "unit": request.values.get("unit", ""),
            "registered_by": request.form.get("registered_by", ""), "participants": request.form.get("participants", ""),
            "mode": request.form.get("mode", "in_person")}
    if request.method == "POST":
        unit = form["unit"].strip()
        if not _can_edit_unit(unit):
            abort(403)
        try:
            started = service.start_registration(db, current_app.config["SECRET_KEY"], form["round"], unit,
                                                 form["registered_by"], form["participants"], form["mode"] or "in_person",
                                                 project=project, actor=actor())
        except Conflict as conflict:
            error, status = str(conflict), 409
            refused = {"round": form["round"], "unit": unit}
        except SurveyError as problem:
            error, status = str(problem), 422
        else:
            if started["resumed"]:
                flash(_("Registreringen for %(unit)s fortsætter (påbegyndt af %(who)s).", unit=unit, who=started["previous_registered_by"] or _("ukendt")), "info")
            if "respond" in current_app.blueprints:
                return redirect(url_for("respond.start", token=started["token"]))
            return render_template("fidelity/registered.html", project=project_row, started=started,
                                   link=f"{current_app.config.get('BASE_URL', '')}/s/{started['token']}")
    rows = [row for r in unit_rounds for row in service.registrations(db, r["id"], allowed_units())]
    return render_template("fidelity/register.html", project=project_row, rounds=unit_rounds, units=units, form=form,
                           error=error, refused=refused, registrations=rows, title="Registrér besvarelse"), status


@bp.post("/<project>/reopen")
@roles_required()
def reopen(project):
    _project(project)
    round_ref, unit, reason = request.form.get("round", ""), request.form.get("unit", ""), request.form.get("reason", "")
    try:
        service.reopen_registration(get_db(), round_ref, unit, reason, actor(), project=project)
    except SurveyError as problem:
        flash(_("Besvarelsen blev ikke genåbnet: %(problem)s", problem=problem), "error")
        return redirect(url_for("fidelity.register", project=project, round=round_ref, unit=unit))
    flash(_("Besvarelsen for %(unit)s er genåbnet (registreret i auditloggen). Den kan nu registreres igen.", unit=unit), "info")
    return redirect(url_for("fidelity.register", project=project, round=round_ref, unit=unit))


# ---------------------------------------------------------------- overview, trends, profiles


def _for_round(read, project: str) -> dict:
    """A page's data from `read(db, project, ?round=, the user's units)` (the overview, status
    notes or self-evaluation): 404 for an unknown project or round, 400 when the service refuses."""
    try:
        return read(get_db(), project, _round_arg(), allowed_units())
    except NotFound:
        abort(404)
    except SurveyError as problem:
        abort(400, str(problem))


@bp.get("/<project>/overview")
@roles_required(*EVERYONE)
def overview(project):
    project_row = _project(project)
    matrix = _for_round(service.overview, project)
    return render_template("fidelity/overview.html", project=project_row, m=matrix, title="Fidelitet: overblik")


@bp.get("/<project>/overview.csv")
@roles_required(*EVERYONE)
def overview_csv(project):
    _project(project)
    matrix = _for_round(service.overview, project)
    return _download(write_csv(fa.overview_rows(matrix), service.OVERVIEW_COLUMNS, matrix["rules"]),
                     f"fidelitet-{project}-{matrix['round']}.csv", "text/csv; charset=utf-8")


@bp.get("/<project>/trends.<fmt>")
@roles_required(*EVERYONE)
def trends(project, fmt):
    _project(project)
    db = get_db()
    try:
        if fmt == "csv":
            data = service.trends(db, project, allowed_units())
            return _download(write_csv(service.trend_rows(data), service.TREND_COLUMNS, data["rules"]),
                             f"fidelitet-{project}-udvikling.csv", "text/csv; charset=utf-8")
        if fmt not in ("png", "svg"):
            abort(404)
        body = service.trend_figure_bytes(db, project, fmt, allowed_units())
    except NotFound:
        abort(404)
    return Response(body, mimetype="image/png" if fmt == "png" else "image/svg+xml")


@bp.get("/<project>/units/<unit>")
@roles_required(*EVERYONE)
def profile(project, unit):
    project_row = _project(project)
    require_unit(unit)
    try:
        data = service.profile(get_db(), project, unit)
    except NotFound:
        abort(404)
    return render_template("fidelity/profile.html", project=project_row, p=data, title=f"Fidelitetsprofil: {unit}")


@bp.get("/<project>/units/<unit>.pdf")
@roles_required(*EVERYONE)
def profile_pdf(project, unit):
    _project(project)
    require_unit(unit)
    try:
        body = service.profile_pdf(get_db(), project, unit)
    except NotFound:
        abort(404)
    return _download(body, f"fidelitetsprofil-{unit}.pdf", "application/pdf")


# ---------------------------------------------------------------- activities and goals


@bp.get("/<project>/status")
@roles_required(*EVERYONE)
def status(project):
    project_row = _project(project)
    notes = _for_round(service.status_notes, project)
    user = current_user()
    units = ([""] if user["role"] == "admin" else []) + _visible_units(project)
    return render_template("fidelity/status.html", project=project_row, n=notes, units=units,
                           can_add=user["role"] in ("admin", "unit_lead"), title="Status for aktiviteter og mål")


@bp.get("/<project>/status.<fmt>")
@roles_required(*EVERYONE)
def status_export(project, fmt):
    _project(project)
    if fmt not in ("csv", "xlsx"):
        abort(404)
    notes = _for_round(service.status_notes, project)
    body = service.status_notes_file(notes, fmt)
    mimetype = "text/csv; charset=utf-8" if fmt == "csv" else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return _download(body, f"statusnotat-{project}-{notes['round']}.{fmt}", mimetype)


def _back(project: str):
    return redirect(url_for("fidelity.status", project=project, round=request.form.get("round")))


def _float(name: str) -> float | None:
    text = (request.form.get(name) or "").strip().replace(",", ".")
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):  # float() also reads 'nan', 'inf' and '1e999'
        raise SurveyError(_("'%(value)s' er ikke et tal", value=request.form.get(name)))
    return number


@contextmanager
def _refusal_flashed(message: str):
    """Around a change posted from the status page: the service's refusal (SurveyError) is flashed
    as `message` (a translated text with %(problem)s) instead of raised; the view then goes _back."""
    try:
        yield
    except SurveyError as problem:
        flash(message % {"problem": problem}, "error")


def _editable(row: dict, project: str) -> dict:
    """A milestone, activity or indicator of this project whose unit the user may edit (else 403)."""
    if row["project_id"] != project or not _can_edit_unit(row["unit"]):
        abort(403)
    return row


@bp.post("/<project>/milestones/<int:milestone_id>")
@roles_required(*LEADS)
def milestone_status(project, milestone_id):
    db = get_db()
    with _refusal_flashed(_("Status blev ikke gemt: %(problem)s")):
        _editable(service.get_milestone(db, milestone_id), project)
        service.set_milestone_status(db, milestone_id, request.form.get("round"), request.form.get("status") or None,
                                     _float("value"), request.form.get("comment"), actor=actor())
        flash(_("Status er gemt."), "info")
    return _back(project)


@bp.post("/<project>/milestones/<int:milestone_id>/override")
@roles_required(*LEADS)
def milestone_override(project, milestone_id):
    db = get_db()
    with _refusal_flashed(_("Trafiklyset blev ikke ændret: %(problem)s")):
        _editable(service.get_milestone(db, milestone_id), project)
        light = request.form.get("light") or None
        service.override_light(db, milestone_id, request.form.get("round"), None if light == "auto" else light,
                               request.form.get("reason"), actor=actor())
        flash(_("Trafiklyset er ændret.") if light not in (None, "auto") else _("Forslaget gælder igen."), "info")
    return _back(project)


@bp.post("/<project>/indicators/<int:indicator_id>")
@roles_required(*LEADS)
def indicator_value(project, indicator_id):
    db = get_db()
    with _refusal_flashed(_("Værdien blev ikke gemt: %(problem)s")):
        _editable(service.get_indicator(db, indicator_id), project)
        service.set_indicator_value(db, indicator_id, request.form.get("round"), _float("value"), request.form.get("comment"),
                                    actor=actor())
        flash(_("Værdien er gemt."), "info")
    return _back(project)


@bp.post("/<project>/indicators/<int:indicator_id>/retire")
@roles_required()
def indicator_retire(project, indicator_id):
    db = get_db()
    with _refusal_flashed(_("Indikatoren blev ikke ændret: %(problem)s")):
        if service.get_indicator(db, indicator_id)["project_id"] != project:
            abort(404)
        if request.form.get("action") == "replace":
            service.replace_indicator(db, indicator_id, request.form.get("round"), request.form.get("reason"),
                                      request.form.get("code"), request.form.get("title"), request.form.get("measure_unit"),
                                      _float("baseline"), _float("target"), request.form.get("direction") or None, actor=actor())
            flash(_("Indikatoren er erstattet."), "info")
        else:
            service.drop_indicator(db, indicator_id, request.form.get("round"), request.form.get("reason"), actor=actor())
            flash(_("Indikatoren er markeret som udgået."), "info")
    return _back(project)


def _form_unit() -> str:
    """The unit a new activity/indicator is for ('' = the whole project); 403 unless the user may edit it."""
    unit = (request.form.get("unit") or "").strip()
    if not _can_edit_unit(unit):
        abort(403)
    return unit


@bp.post("/<project>/activities")
@roles_required(*LEADS)
def activity_add(project):
    _project(project)
    unit = _form_unit()
    with _refusal_flashed(_("Aktiviteten blev ikke oprettet: %(problem)s")):
        service.add_activity(get_db(), project, request.form.get("code"), request.form.get("title"), request.form.get("owner"),
                             unit, request.form.get("description") or None, request.form.get("from_round") or None, actor=actor())
        flash(_("Aktiviteten er oprettet."), "info")
    return _back(project)


@bp.post("/<project>/activities/<int:activity_id>/milestones")
@roles_required(*LEADS)
def milestone_add(project, activity_id):
    db = get_db()
    with _refusal_flashed(_("Milepælen blev ikke oprettet: %(problem)s")):
        _editable(service.get_activity(db, activity_id), project)
        service.add_milestone(db, activity_id, request.form.get("title"), request.form.get("measure") or "status",
                              _float("target"), request.form.get("due_round") or None, actor=actor())
        flash(_("Milepælen er oprettet."), "info")
    return _back(project)


@bp.post("/<project>/activities/<int:activity_id>/drop")
@roles_required()
def activity_drop(project, activity_id):
    db = get_db()
    with _refusal_flashed(_("Aktiviteten blev ikke ændret: %(problem)s")):
        if service.get_activity(db, activity_id)["project_id"] != project:
            abort(404)
        service.drop_activity(db, activity_id, request.form.get("round"), request.form.get("reason"), actor=actor())
        flash(_("Aktiviteten er markeret som udgået."), "info")
    return _back(project)


@bp.post("/<project>/indicators")
@roles_required(*LEADS)
def indicator_add(project):
    _project(project)
    unit = _form_unit()
    with _refusal_flashed(_("Indikatoren blev ikke oprettet: %(problem)s")):
        service.add_indicator(get_db(), project, request.form.get("code"), request.form.get("title"),
                              request.form.get("measure_unit") or "", _float("baseline"), _float("target"),
                              request.form.get("direction") or "higher", unit, request.form.get("from_round") or None,
                              actor=actor())
        flash(_("Indikatoren er oprettet."), "info")
    return _back(project)


# ---------------------------------------------------------------- self-evaluation


@bp.get("/<project>/self-evaluation")
@roles_required(*EVERYONE)
def self_evaluation(project):
    project_row = _project(project)
    matrix = _for_round(service.self_evaluation, project)
    return render_template("fidelity/self_evaluation.html", project=project_row, m=matrix, title="Selvevaluering")


@bp.get("/<project>/self-evaluation.csv")
@roles_required(*EVERYONE)
def self_evaluation_csv(project):
    _project(project)
    matrix = _for_round(service.self_evaluation, project)
    return _download(write_csv(service.self_evaluation_rows(matrix), service.SELF_EVALUATION_COLUMNS,
                                    matrix["rules"]), f"selvevaluering-{project}.csv", "text/csv; charset=utf-8")
