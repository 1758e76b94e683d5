"""Evaluator pages: a report page per project (pick rounds, group, breakdown, item or index),
tables and figures on the page, downloads of figure files and data.

Roles: evaluator and admin (roles_required("evaluator") always lets admin in). Unit leads are not
let in: item results across units are the evaluator's; unit leads see their response rates in
the console. Every number comes from surveyapp.report_data, the same layer the CLI uses.
"""
from __future__ import annotations

import re
import tempfile
from pathlib import Path

from flask import Blueprint, abort, after_this_request, current_app, render_template, request, send_file

from analysis.formatting import decimal, percent, round_label
from .. import get_db, report_data
from ..errors import NotFound, SurveyError
from ..rounds import get_project, list_projects, list_rounds
from .auth import current_user, roles_required

bp = Blueprint("reports", __name__, url_prefix="/reports")

FIGURE_KINDS = ("trend", "shares", "index", "rates", "diverging")
MIMETYPES = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf", "csv": "text/csv",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "sav": "application/octet-stream"}
NAME = re.compile(r"^[A-Za-z0-9_]+$")


def _project(project_id: str) -> dict:
    try:
        return get_project(get_db(), project_id)
    except NotFound:
        abort(404)


def _selection(project_id: str) -> dict:
    """The page's choices from the query string, checked against the project."""
    db = get_db()
    rounds = list_rounds(db, project_id)
    ids = {str(r["id"]) for r in rounds}
    chosen = [r for r in request.args.getlist("round") if r in ids] or sorted(ids, key=int)
    group = request.args.get("group", "")
    by = request.args.get("by", "group")
    if by not in ("", "group", "unit", "group,unit"):
        by = "group"
    return {"rounds": rounds, "round_ids": chosen, "group": group, "by": by, "item": request.args.get("item", ""),
            "index": request.args.get("index", "")}


@bp.get("/")
@roles_required("evaluator")
def index():
    db = get_db()
    return render_template("reports/index.html", projects=list_projects(db), user=current_user())


@bp.get("/<project_id>")
@roles_required("evaluator")
def project_page(project_id):
    project = _project(project_id)
    db = get_db()
    sel = _selection(project_id)
    error = None
    context = {"project": project, "sel": sel, "user": current_user(), "items": [], "groups": [], "indices": {}, "option_labels": {},
               "item_rows": [], "index_rows": [], "rates": [], "spreads": [], "versions": [], "changes": [], "paired": None, "source": "",
               "decimal": decimal, "percent": percent}
    if not sel["rounds"]:
        return render_template("reports/project.html", error=None, **context)
    try:
        scope = report_data.Scope(db, sel["round_ids"], project_id)
        context["labels"] = {r["id"]: round_label(r["name"], r.get("opens")) for r in scope.rounds}
        groups = sorted({g for r in scope.rounds for g in scope.groups(r["id"])})
        items: dict[str, str] = {}
        for _, _, q in scope.entries():
            for item in q.items():
                if item.type in ("scale", "single", "number", "multiple"):
                    items.setdefault(item.id, item.text)
        context.update(groups=groups, items=list(items.items()), indices=report_data.index_definitions(scope))
        item = sel["item"] if sel["item"] in items else (next(iter(items)) if items else "")
        sel["item"] = item
        by = tuple(d for d in sel["by"].split(",") if d)
        if item:
            rows = report_data.item_rows(db, by=by, items=[item], scope=scope)
            if sel["group"]:
                rows = [r for r in rows if r.get("group") in (sel["group"], None) or "group" not in by]
            context["item_rows"] = rows
            context["source"] = report_data._source(scope, item)
            spec = next(filter(None, (scope.spec(r["id"], g, item) for r, g, _ in scope.entries())), None)
            context["option_labels"] = {str(code): label for code, label in (spec.labels if spec else {}).items()}
            context["versions"] = sorted({r["item_version"] for r in rows})
            context["changes"] = [c for c in report_data.item_changes(db, by_group="group" in by, scope=scope, items=[item])
                                  if c["item"] == item and (not sel["group"] or c["group"] in (sel["group"], None))]
            if "unit" in by:
                context["spreads"] = report_data.unit_spreads(db, scope, item, [sel["group"]] if sel["group"] else groups)
        figures = []
        item_type = next((r["type"] for r in context["item_rows"]), None)
        if item and item_type == "scale":
            versions = context["versions"]
            for v in versions:
                stem, caption = report_data.figure_stem(item, v, versions)
                text = items.get(item, item)
                figures.append({"name": f"trend_{stem}", "item": item,
                                "alt": f"Gennemsnit pr. runde og gruppe med 95 %-konfidensinterval: {text}{caption}"})
                figures.append({"name": f"shares_{stem}", "item": item,
                                "alt": f"Fordeling af svarene pr. runde og gruppe: {text}{caption}"})
        if context["indices"]:
            figures.append({"name": "index_trends", "item": None, "alt": "Indeks pr. fase"})
        for r in scope.rounds:
            figures.append({"name": f"rates_{report_data._slug(r['name'])}", "item": None, "alt": f"Svarprocent, {r['name']}"})
        context["figures"] = figures
        if context["indices"]:
            context["index_rows"] = report_data.index_rows(db, by_unit="unit" in by, scope=scope)
        if sel["index"] and sel["index"] in context["indices"]:
            context["index_rows"] = [x for x in context["index_rows"] if x["index"] == sel["index"]]
        if len(scope.rounds) == 2 and item and not any(r["anonymous"] for r in scope.rounds):
            context["paired"] = report_data.paired_rows(db, scope.rounds[0]["id"], scope.rounds[1]["id"], project_id, [item])
        context["rates"] = report_data.rate_cells(db, sel["round_ids"], project_id)
        context["rules"] = scope.rules()
    except SurveyError as exc:
        error = str(exc)
    return render_template("reports/project.html", error=error, **context)


@bp.get("/<project_id>/figure/<name>.<fmt>")
@roles_required("evaluator")
def figure(project_id, name, fmt):
    """One figure file (png, svg, pdf or the csv it draws), made from the current data."""
    _project(project_id)
    if fmt not in ("png", "svg", "pdf", "csv") or not NAME.match(name):
        abort(404)
    kind = name.split("_", 1)[0]
    if kind not in FIGURE_KINDS:
        abort(404)
    sel = _selection(project_id)
    item = request.args.get("item") or None
    groups = [sel["group"]] if sel["group"] else None
    round_ids = sel["round_ids"]
    if kind == "rates":     # one figure per round: draw only the asked-for round
        round_ids = [str(r["id"]) for r in sel["rounds"] if f"rates_{report_data._slug(r['name'])}" == name] or round_ids
    tmp = tempfile.mkdtemp(prefix="surveyapp-fig-")
    try:
        made = report_data.build_figures(get_db(), tmp, round_ids, project_id, None, [item] if item else None,
                                         (kind,), groups)
    except SurveyError:
        _cleanup(tmp)
        abort(404)
    match = next((m for m in made if m["figure"] == name), None)
    if match is None:
        _cleanup(tmp)
        abort(404)
    path = Path(tmp) / f"{name}.{fmt}"

    @after_this_request
    def remove(response):
        _cleanup(tmp)
        return response

    return send_file(path, mimetype=MIMETYPES[fmt], as_attachment=request.args.get("download") == "1",
                     download_name=f"{name}.{fmt}", max_age=0)


@bp.get("/<project_id>/export.<fmt>")
@roles_required("evaluator")
def export(project_id, fmt):
    """Data downloads: answers (responses/long/wide) or the suppressed item table, with the codebook."""
    _project(project_id)
    if fmt not in ("csv", "xlsx", "sav"):
        abort(404)
    sel = _selection(project_id)
    layout = request.args.get("layout", "responses")
    level = request.args.get("level", "answers")
    if layout not in ("responses", "long", "wide") or level not in ("answers", "items"):
        abort(400)
    tmp = tempfile.mkdtemp(prefix="surveyapp-export-")
    name = f"{project_id}_{level}_{layout}.{fmt}" if level == "answers" else f"{project_id}_items.{fmt}"
    path = Path(tmp) / name
    try:
        by = tuple(d for d in (sel["by"] or "group").split(",") if d)
        # The web never exports the real panel key: downloads carry the pseudonymous respondent_id
        # and blank small cells; identifying exports need `surveyapp export --identify` on the server.
        report_data.export(get_db(), path, fmt, sel["round_ids"], project_id, None, layout, level, by,
                           secret=current_app.config["SECRET_KEY"], identify=False)
    except SurveyError as exc:
        _cleanup(tmp)
        return render_template("error.html", title="Eksporten kunne ikke laves", message=str(exc)), 400
    if fmt == "csv" or fmt == "sav":
        # The codebook travels with the data: CSV and SPSS files come zipped with FILE.codebook.csv.
        import zipfile

        bundle = Path(tmp) / (path.stem + ".zip")
        with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(Path(tmp).iterdir()):
                if file != bundle:
                    archive.write(file, file.name)
        path = bundle

    @after_this_request
    def remove(response):
        _cleanup(tmp)
        return response

    return send_file(path, as_attachment=True, download_name=path.name,
                     mimetype="application/zip" if path.suffix == ".zip" else MIMETYPES[fmt], max_age=0)


def _cleanup(directory: str) -> None:
    import shutil

    shutil.rmtree(directory, ignore_errors=True)
