"""The project lead's console: rounds, respondent lists, invitations and reminders, live rates.

Roles: admin (everything), unit_lead (lists, sending and live rates of their own units only),
evaluator (read-only: rounds, dashboards, rate downloads, audit log). Every view is a thin
layer over the service functions the CLI uses too; every change is audited by those services.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import time
from pathlib import Path

from flask import (Blueprint, Response, abort, current_app, flash, redirect, render_template, request, session,
                   url_for)

from analysis.rates import RATE_COLUMNS, daily_rate, response_rates
from .. import audit, get_db, mail, questionnaire_store, respondents as respondent_service, rounds as round_service
from .. import users as user_service
from ..db import MAX_ROW_ID
from ..errors import ImportRejected, NotFound, RowError, SurveyError
from ..tabular import write_csv
from ..results import invitation_rows, rate_rows, response_rows
from ..tabular import read_table
from .auth import actor, allowed_units, current_user, require_unit, roles_required

bp = Blueprint("console", __name__, url_prefix="/console")

EVERYONE = ("unit_lead", "evaluator")   # admin is always allowed as well
LEADS = ("unit_lead",)
READERS = ("evaluator",)
ADMIN_ONLY: tuple = ()
LAG_POINTS = 10.0
UPLOAD_MAX_AGE = 24 * 3600


# --- helpers ------------------------------------------------------------------------------------

@bp.before_request
def _danish() -> None:
    """The console is written in Danish; keep every page in one language (?lang= still wins)."""
    from flask import g

    g.language = "da"


def _round(round_id: int) -> dict:
    try:
        return round_service.get_round(get_db(), round_id)
    except NotFound:
        abort(404)


def _invitation(round_: dict, invitation_id: int) -> dict:
    try:
        invitation = respondent_service.get_invitation(get_db(), invitation_id)
    except NotFound:
        abort(404)
    if invitation["round_id"] != round_["id"] or invitation["removed_at"]:
        abort(404)
    require_unit(invitation["unit"])
    return invitation


def _secret() -> str:
    return current_app.config["SECRET_KEY"]


def _int(value, default: int) -> int:
    """A whole number from a form or query field; `default` when it is none or out of SQLite's range."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if abs(number) <= MAX_ROW_ID else default


def _back_to(round_id: int, anchor: str = "respondents"):
    return redirect(url_for(f"console.{anchor}", round_id=round_id))


def _run(round_id: int, call, done=None, anchor: str = "respondents"):
    """A form button's service call: its refusal is flashed in Danish, else `done` (a message, or a
    function of the call's result); back to the page either way."""
    try:
        result = call()
    except SurveyError as problem:
        flash(danish_reason(problem), "error")
    else:
        if done:
            flash(done(result) if callable(done) else done, "info")
    return _back_to(round_id, anchor)


ROW_REASONS = [
    (r"'(.*)' is not an e-mail address", "'{0}' er ikke en e-mailadresse"),
    (r"unknown group '(.*)' \(this round has (.*)\)", "ukendt gruppe '{0}' (runden har {1})"),
    (r"group is required \(one of (.*)\)", "gruppe mangler (en af {0})"),
    (r"language must be da or en, not '(.*)'", "sprog skal være da eller en, ikke '{0}'"),
    (r"'(.*)' appears twice in the file \(first at line (\d+)\)", "'{0}' står to gange i filen (første gang i linje {1})"),
    (r"'(.*)' is already on this round's list", "'{0}' er allerede på rundens liste"),
    (r"neither key nor email is given", "hverken nøgle (key) eller e-mail er udfyldt"),
    (r"longer than 200 characters", "længere end 200 tegn"),
    (r"the file needs a column 'key' or 'email'", "filen skal have en kolonne 'key' eller 'email'"),
    (r"the file has no respondents", "filen har ingen respondenter"),
    (r"the file is empty", "filen er tom"),
    # why a file as a whole cannot be read (tabular.read_table)
    (r"an old Excel \.xls file: save it as \.xlsx or CSV first", "en gammel Excel-fil (.xls): gem den som .xlsx eller CSV først"),
    (r"the file is neither UTF-8 nor Windows-1252 text", "filen er hverken UTF-8- eller Windows-1252-tekst"),
    (r"not a readable (CSV|XLSX) file: (.*)", "ikke en læsbar {0}-fil: {1}"),
    (r"not a readable CSV row: (.*)", "ikke en læsbar CSV-række: {0}"),
    (r"(\d+) cells but the header has (\d+) columns", "{0} celler, men overskriften har {1} kolonner"),
    (r"a value in column (\d+), which has no name in the header", "en værdi i kolonne {0}, som ikke har et navn i overskriften"),
    (r"more than (\d+) rows", "mere end {0} rækker"),
    (r"the sheet is empty", "arket er tomt"),
    (r"the workbook has no worksheet", "projektmappen har intet regneark"),
    (r"an Excel error value \((.*)\): correct the cell in the spreadsheet", "en Excel-fejlværdi ({0}): ret cellen i regnearket"),
    (r"a NUL character: is this a text file in UTF-8 or Windows-1252\?", "et NUL-tegn: er det en tekstfil i UTF-8 eller Windows-1252?"),
    (r"a byte-order mark inside the file: were two files joined\?", "et byte order mark (BOM) inde i filen: er to filer sat sammen?"),
    (r"the line is separated by '(.)' but the header by '(.)'", "linjen er adskilt med '{0}', men overskriften med '{1}'"),
    (r"empty column name in the header", "tom kolonneoverskrift"),
    (r"column name appears twice in the header", "kolonnenavnet står to gange i overskriften"),
    (r"'(.*)' is not one of your units \((.*)\)", "'{0}' er ikke en af dine enheder ({1})"),
    (r"unit is required \(one of your units: (.*)\)", "enhed mangler (en af dine enheder: {0})"),
    # service messages shown on console pages
    (r"(.*) cannot change: (.*) has started answering", "{0} kan ikke ændres: {1} er begyndt at svare"),
    (r"(.*) has started answering and cannot be removed; mark them ineligible instead",
     "{0} er begyndt at svare og kan ikke fjernes; markér personen som uegnet i stedet"),
    (r"round '(.*)' is closed; its list can no longer change", "runden '{0}' er lukket; listen kan ikke længere ændres"),
    (r"round '(.*)' is closed; nothing is sent", "runden '{0}' er lukket; der sendes intet"),
    (r"round '(.*)' is not open yet; open it before sending \(a dry run works now\)",
     "runden '{0}' er ikke åben endnu; åbn den, før der sendes (en prøvekørsel kan laves nu)"),
    (r"round '(.*)' is closed", "runden '{0}' er lukket"),
    (r"give a reason \(e\.g\. left the job, wrong address\)", "angiv en årsag (fx fratrådt, forkert adresse)"),
    (r"a round needs a name", "runden skal have et navn"),
    (r"a round needs at least one questionnaire", "vælg mindst ét spørgeskema"),
    (r"the round closes before it opens", "runden lukker, før den åbner"),
    (r"the partial threshold must be above 0 and at most 1.*", "tærsklen skal være over 0 og højst 100 procent"),
    (r"project '(.*)' already has a round named '(.*)'", "projektet '{0}' har allerede en runde med navnet '{1}'"),
    (r"--?(opens|closes): '(.*)' is not a date \(YYYY-MM-DD\)", "'{1}' er ikke en dato (ÅÅÅÅ-MM-DD)"),
    (r"round '(.*)' is (draft|open|closed) and cannot become (.*)", "runden '{0}' kan ikke skifte status herfra"),
    (r"the password must have at least 10 characters", "adgangskoden skal have mindst 10 tegn"),
    (r"a unit lead needs at least one unit", "en projektleder skal have mindst én enhed"),
    (r"user '(.*)' exists", "brugeren '{0}' findes allerede"),
    (r"a user needs a name", "brugeren skal have et navn"),
    (r"that mail is not waiting for a decision", "den mail venter ikke på en afgørelse"),
    (r"lists can only be copied within a project", "lister kan kun kopieres inden for samme projekt"),
    (r"the (subject|body) is empty", "{0} mangler"),
    (r"the (subject|body) uses \{(.*)\}; only (.*) are known", "{0} bruger {{{1}}}; kun {2} kendes"),
    (r"the body must contain \{link\}, the respondent's personal link", "teksten skal indeholde {{link}}, det personlige link"),
    (r"the (subject|body) has an unmatched brace .*", "{0} har en krøllet parentes uden makker; skriv {{{{ og }}}} for en almindelig parentes"),
    # why a mail is skipped or sent again (mail.plan and mail.send_round)
    (r"ineligible \((.*)\)", "uegnet ({0})"),
    (r"no e-mail address", "ingen e-mailadresse"),
    (r"earlier attempt failed: (.*)", "et tidligere forsøg mislykkedes: {0}"),
    (r"uncertain: an earlier run stopped while sending; check and resolve it",
     "uafklaret: en tidligere udsendelse stoppede midt i afsendelsen; tjek og afgør den i udsendelsesloggen"),
    (r"invitation already sent", "invitationen er allerede sendt"),
    (r"has completed", "har svaret"),
    (r"no invitation sent yet", "ingen invitation sendt endnu"),
    (r"reminded (\d+) time\(s\) already \(max (\d+)\)", "påmindet {0} gang(e) allerede (højst {1})"),
    (r"last mail (\d+)\.(\d) day\(s\) ago \(minimum (\d+)\)", "seneste mail for {0},{1} dag(e) siden (mindst {2})"),
    (r"taken by another run", "taget af en anden udsendelse"),
]
_PARTS = {"subject": "emnet", "body": "teksten", "group": "gruppen", "unit": "enheden", "group and unit": "gruppe og enhed",
          "no reason given": "ingen årsag angivet"}


@bp.app_template_filter("dansk")
def danish_reason(message) -> str:
    """A service message in Danish (the services word them in English for the CLI); unknown ones as they are."""
    text = str(message)
    for pattern, danish in ROW_REASONS:
        match = re.fullmatch(pattern, text, re.DOTALL)  # a library's message may span lines
        if match:
            return danish.format(*(_PARTS.get(g, g) for g in match.groups()))
    if "; " in text:  # several problems in one message
        parts = [danish_reason(part) for part in text.split("; ")]
        if any(p != o for p, o in zip(parts, text.split("; "))):
            return "; ".join(parts)
    return text


@bp.app_template_filter("when")
def _when(stamp: str | None) -> str:
    """'2014-09-03T10:15:00+00:00' -> '3.9.2014 10:15' (UTC), for logs."""
    if not stamp:
        return ""
    try:
        value = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    return f"{value.day}.{value.month}.{value.year} {value:%H:%M}" if "T" in stamp else f"{value.day}.{value.month}.{value.year}"


# --- rounds ---------------------------------------------------------------------------------

@bp.get("/")
@roles_required(*EVERYONE)
def index():
    db = get_db()
    units = allowed_units()
    rounds = round_service.list_rounds(db)
    totals = {}
    if rounds:
        totals = {r["round_id"]: r for r in rate_rows(db, [r["id"] for r in rounds], (), units=units)}
    return render_template("console/index.html", rounds=rounds, totals=totals, units=units)


def _questionnaire_choices(db) -> list[dict]:
    choices = []
    for row in questionnaire_store.list_versions(db):
        choices.append({"value": f"{row['questionnaire_id']}@{row['version']}",
                        "label": f"{row['title']} ({row['questionnaire_id']}, version {row['version']})"})
    return choices


@bp.route("/rounds/new", methods=["GET", "POST"])
@roles_required(*ADMIN_ONLY)
def new_round():
    db = get_db()
    form = request.form
    error = None
    if request.method == "POST":
        mapping = {}
        for index in range(4):
            group = form.get(f"group_{index}", "").strip()
            ref = form.get(f"questionnaire_{index}", "").strip()
            if not ref:
                continue
            if group in mapping:
                error = f"gruppen '{group or '(alle)'}' står to gange"
            mapping[group] = ref
        try:
            if error:
                raise SurveyError(error)
            threshold = float(form.get("partial_threshold", "50").replace(",", ".")) / 100
            round_id = round_service.create_round(
                db, form.get("name", ""), mapping, form.get("project") or None, form.get("opens") or None,
                form.get("closes") or None, partial_threshold=threshold, anonymous=bool(form.get("anonymous")),
                allow_edit_after_submit=bool(form.get("allow_edit")), actor=actor())
        except ValueError:
            error = "Tærsklen for gyldige delvise besvarelser skal være et tal mellem 1 og 100 (procent)."
        except SurveyError as problem:
            error = danish_reason(problem)
        else:
            flash("Målerunden er oprettet som kladde. Upload respondentlisten, og åbn runden.", "info")
            return redirect(url_for("console.round_view", round_id=round_id))
    return render_template("console/round_new.html", form=form, error=error, choices=_questionnaire_choices(db),
                           projects=round_service.list_projects(db)), (400 if error else 200)


@bp.route("/rounds/<int:round_id>/settings", methods=["GET", "POST"])
@roles_required(*ADMIN_ONLY)
def round_settings(round_id: int):
    round_ = _round(round_id)
    error = None
    if request.method == "POST":
        form = request.form
        try:
            threshold = float(form.get("partial_threshold", "").replace(",", ".")) / 100
            round_service.update_round(get_db(), round_id, actor=actor(), name=form.get("name", "").strip() or round_["name"],
                                       opens=form.get("opens") or None, closes=form.get("closes") or None,
                                       partial_threshold=threshold)
        except ValueError:
            error = "Tærsklen skal være et tal mellem 1 og 100 (procent)."
        except SurveyError as problem:
            error = danish_reason(problem)
        else:
            flash("Rundens indstillinger er gemt.", "info")
            return redirect(url_for("console.round_view", round_id=round_id))
    return render_template("console/round_settings.html", round=round_, error=error), (400 if error else 200)


STATUS_ACTIONS = {"open": (round_service.open_round, "Runden er åben: der kan svares via de personlige links."),
                  "close": (round_service.close_round, "Runden er lukket: der kan ikke længere svares.")}


@bp.post("/rounds/<int:round_id>/status")
@roles_required(*ADMIN_ONLY)
def round_status(round_id: int):
    _round(round_id)
    action = request.form.get("action")
    if action not in STATUS_ACTIONS:
        abort(400)
    change, done = STATUS_ACTIONS[action]
    return _run(round_id, lambda: change(get_db(), round_id, actor=actor()), done, "round_view")


# --- the dashboard ----------------------------------------------------------------------------

def _period(round_: dict, responses: list[dict]) -> tuple[str, str] | None:
    """The days the rate-over-time chart covers: from opening to closing (or today)."""
    if not round_["opened_at"] and round_["status"] == "draft":
        return None
    today = dt.date.today().isoformat()
    start = round_["opens"] or (round_["opened_at"] or round_["created_at"])[:10]
    end = today
    if round_["closes"] and round_["closes"] < end:
        end = round_["closes"]
    if round_["closed_at"] and round_["closed_at"][:10] < end:
        end = round_["closed_at"][:10]
    stamps = [str(r.get("submitted_at") or r.get("last_saved_at") or "")[:10] for r in responses]
    latest = max([s for s in stamps if s] or [end])
    end = max(end, min(latest, today), start)
    first = dt.date.fromisoformat(end) - dt.timedelta(days=365)
    start = max(start, first.isoformat())
    return start, end


def dashboard_data(db, round_: dict, units: list[str] | None) -> dict:
    # rate_rows' own pieces, so the responses (answer counts per response) are read once for the
    # table and the chart over time.
    responses = response_rows(db, [round_["id"]], units)
    rows = response_rates([round_], invitation_rows(db, [round_["id"]], units), responses, ("group", "unit"))
    total = next((r for r in rows if r["group"] is None and r["unit"] is None), None)
    cells = sorted((r for r in rows if r["group"] is not None and r["unit"] is not None), key=lambda r: (r["unit"], r["group"]))
    by_group = sorted((r for r in rows if r["group"] is not None and r["unit"] is None), key=lambda r: r["group"])
    by_unit = sorted((r for r in rows if r["group"] is None and r["unit"] is not None), key=lambda r: r["unit"])
    overall = total["rate"] if total else None
    for row in rows:
        row["lagging"] = bool(overall is not None and row["rate"] is not None and row["rate"] < overall - LAG_POINTS)
    period = _period(round_, responses)
    daily = daily_rate(responses, total["invited"] if total else 0, *period, round_["partial_threshold"]) if period else []
    return {"rows": rows, "total": total, "cells": cells, "by_group": by_group, "by_unit": by_unit, "overall": overall,
            "daily": daily, "bars": bar_chart(cells, overall), "line": line_chart(daily)}


def bar_chart(cells: list[dict], overall: float | None) -> dict:
    """Geometry of a horizontal bar chart (rate per group x unit), drawn as inline SVG by the template."""
    label_w, width, bar_h, gap, top = 230, 420, 18, 8, 24
    bars = []
    for index, cell in enumerate(cells):
        rate = cell["rate"] or 0.0
        y = top + index * (bar_h + gap)
        bars.append({"label": f"{cell['unit'] or '–'} · {cell['group'] or '–'}", "rate": cell["rate"], "y": y,
                     "text_y": y + bar_h - 4, "w": round(width * rate / 100, 1), "h": bar_h, "lagging": cell["lagging"],
                     "value_x": label_w + round(width * rate / 100, 1) + 6})
    height = top + len(cells) * (bar_h + gap) + 20
    ticks = [{"x": label_w + width * p / 100, "label": f"{p} %"} for p in (0, 25, 50, 75, 100)]
    mean_x = label_w + width * overall / 100 if overall is not None else None
    return {"bars": bars, "height": height, "label_w": label_w, "width": width, "total_w": label_w + width + 70,
            "ticks": ticks, "mean_x": mean_x, "axis_y": height - 16}


def line_chart(daily: list[dict]) -> dict:
    """Geometry of the cumulative response rate per day since opening."""
    left, width, top, height = 48, 600, 12, 200
    if not daily:
        return {"points": "", "dots": []}
    peak = max([d["rate"] or 0 for d in daily] + [10])
    tick = 10 if peak <= 50 else 20
    ceiling = min(100, -(-int(peak + 0.999) // tick) * tick)
    step = width / max(1, len(daily) - 1)
    dots = []
    for index, day in enumerate(daily):
        x = left + index * step
        y = top + height - height * (day["rate"] or 0) / ceiling
        dots.append({"x": round(x, 1), "y": round(y, 1), "date": day["date"], "rate": day["rate"]})
    yticks = [{"y": round(top + height - height * v / ceiling, 1), "label": f"{v} %"} for v in range(0, ceiling + 1, tick)]
    every = max(1, len(daily) // 8)
    xticks = [{"x": d["x"], "label": f"{int(d['date'][8:])}/{int(d['date'][5:7])}"} for i, d in enumerate(dots) if i % every == 0]
    return {"points": " ".join(f"{d['x']},{d['y']}" for d in dots), "dots": dots, "yticks": yticks, "xticks": xticks,
            "left": left, "right": left + width, "bottom": top + height, "top": top, "total_w": left + width + 20,
            "total_h": top + height + 30}


@bp.get("/rounds/<int:round_id>")
@roles_required(*EVERYONE)
def round_view(round_id: int):
    db = get_db()
    round_ = _round(round_id)
    units = allowed_units()
    data = dashboard_data(db, round_, units)
    return render_template("console/round.html", round=round_, questionnaires=round_service.round_questionnaires(db, round_id),
                           units=units, lag_points=LAG_POINTS, **data)


@bp.get("/rounds/<int:round_id>/rates.csv")
@roles_required(*EVERYONE)
def rates_csv(round_id: int):
    round_ = _round(round_id)
    rows = rate_rows(get_db(), [round_id], ("group", "unit"), units=allowed_units())
    text = write_csv(rows, RATE_COLUMNS)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", round_["name"]).strip("-").lower() or str(round_id)
    return Response(text, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="svarprocent-{slug}.csv"'})


# --- respondent lists -------------------------------------------------------------------------

@bp.get("/rounds/<int:round_id>/respondents")
@roles_required(*LEADS)
def respondents(round_id: int):
    db = get_db()
    round_ = _round(round_id)
    log = mail.send_log(db, round_id, allowed_units())
    total = len(log)
    query = request.args.get("q", "").strip().casefold()
    show = request.args.get("show", "")
    if query:
        log = [r for r in log if any(query in str(r[k] or "").casefold() for k in ("key", "name", "email", "unit", "group_name"))]
    if show == "missing":      # still to answer: eligible and not completed
        log = [r for r in log if r["eligible"] and not (r["completed"] or r["response_complete"])]
    elif show == "problems":   # a mail failed or is uncertain
        log = [r for r in log if r["failed"] or r["uncertain"]]
    elif show == "unsent":
        log = [r for r in log if r["eligible"] and r["invitation_status"] != "sent"]
    others = [r for r in round_service.list_rounds(db, round_["project_id"]) if r["id"] != round_id]
    return render_template("console/respondents.html", round=round_, log=log, others=others, total=total,
                           query=request.args.get("q", ""), show=show)


def _upload_dir() -> Path:
    folder = Path(current_app.config["DATABASE"]).resolve().parent / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _prune_uploads(folder: Path) -> None:
    cutoff = time.time() - UPLOAD_MAX_AGE
    for path in folder.glob("*.upload"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            pass


def _unit_errors(header: list[str], rows: list[tuple[int, dict]], units: list[str] | None) -> list[RowError]:
    """A unit lead may only put people of their own units on the list."""
    if units is None:
        return []
    column = next((h for h in header if h.casefold() == "unit"), None)
    errors = []
    for line, raw in rows:
        value = (raw.get(column, "") if column else "").strip()
        if value not in units:
            errors.append(RowError(line, "unit", f"'{value}' is not one of your units ({', '.join(units)})" if value
                                   else f"unit is required (one of your units: {', '.join(units)})"))
    return errors


def _check_file(db, round_: dict, data: bytes, filename: str) -> tuple[list[dict], list[str], list, list[RowError]]:
    """(records, header, raw rows, errors): every problem of every row, nothing stored. The file is
    read once; its rows are checked by the same validate_rows the import uses."""
    try:
        header, rows = read_table(None, data, filename)
    except ImportRejected as rejected:
        return [], [], [], list(rejected.errors)
    errors: list[RowError] = []
    records: list[dict] = []
    try:
        records = respondent_service.validate_rows(db, round_, header, rows, filename)
    except ImportRejected as rejected:
        errors.extend(rejected.errors)
    errors.extend(_unit_errors(header, rows, allowed_units()))
    errors.sort(key=lambda e: (e.line, e.column))
    return records, header, rows, errors


@bp.route("/rounds/<int:round_id>/upload", methods=["GET", "POST"])
@roles_required(*LEADS)
def upload(round_id: int):
    db = get_db()
    round_ = _round(round_id)
    if request.method == "GET":
        return render_template("console/upload.html", round=round_,
                               groups=sorted(round_service.round_questionnaires(db, round_id)))
    if round_["status"] == "closed":
        flash("Runden er lukket; listen kan ikke længere ændres.", "error")
        return _back_to(round_id)
    upload_file = request.files.get("file")
    if upload_file is None or not upload_file.filename:
        flash("Vælg en CSV- eller Excel-fil (.xlsx) med respondenterne.", "error")
        return redirect(url_for("console.upload", round_id=round_id))
    filename = Path(upload_file.filename).name
    data = upload_file.read()
    records, header, rows, errors = _check_file(db, round_, data, filename)
    upload_id = None
    if not errors:
        folder = _upload_dir()
        _prune_uploads(folder)
        upload_id = secrets.token_urlsafe(18)
        (folder / f"{upload_id}.upload").write_bytes(data)
        uploads = dict(session.get("uploads") or {})
        uploads = dict(list(uploads.items())[-4:])  # a few pending previews at most
        uploads[upload_id] = {"round": round_id, "filename": filename}
        session["uploads"] = uploads
    bad_lines = {e.line for e in errors}
    return render_template("console/preview.html", round=round_, filename=filename, records=records, header=header,
                           rows=rows[:1000], more=max(0, len(rows) - 1000), errors=errors, bad_lines=bad_lines,
                           upload_id=upload_id), (422 if errors else 200)


@bp.post("/rounds/<int:round_id>/upload/confirm")
@roles_required(*LEADS)
def upload_confirm(round_id: int):
    db = get_db()
    round_ = _round(round_id)
    upload_id = request.form.get("upload_id", "")
    pending = (session.get("uploads") or {}).get(upload_id)
    path = _upload_dir() / f"{upload_id}.upload"
    if not re.fullmatch(r"[A-Za-z0-9_-]{10,64}", upload_id) or not pending or pending["round"] != round_id or not path.exists():
        flash("Forhåndsvisningen er udløbet. Upload filen igen.", "error")
        return redirect(url_for("console.upload", round_id=round_id))
    if request.form.get("action") == "cancel":
        _forget_upload(upload_id, path)
        flash("Filen er ikke importeret.", "info")
        return _back_to(round_id)
    data = path.read_bytes()
    filename = pending["filename"]
    header, rows = read_table(None, data, filename)
    unit_errors = _unit_errors(header, rows, allowed_units())
    try:
        if unit_errors:
            raise ImportRejected(filename, unit_errors)
        result = respondent_service.import_respondents(db, round_id, secret=_secret(), data=data, filename=filename,
                                                       actor=actor())
    except ImportRejected as rejected:
        # The list changed since the preview (someone added the same people): show why, store nothing.
        _forget_upload(upload_id, path)
        return render_template("console/preview.html", round=round_, filename=filename, records=[], header=header,
                               rows=rows[:1000], more=max(0, len(rows) - 1000), errors=rejected.errors,
                               bad_lines={e.line for e in rejected.errors}, upload_id=None), 422
    except SurveyError as problem:
        flash(danish_reason(problem), "error")
        return _back_to(round_id)
    _forget_upload(upload_id, path)
    flash(f"{result['added']} respondenter er føjet til listen.", "info")
    return _back_to(round_id)


def _forget_upload(upload_id: str, path: Path) -> None:
    uploads = dict(session.get("uploads") or {})
    uploads.pop(upload_id, None)
    session["uploads"] = uploads
    try:
        os.unlink(path)
    except OSError:
        pass


@bp.post("/rounds/<int:round_id>/copy")
@roles_required(*ADMIN_ONLY)
def copy_list(round_id: int):
    _round(round_id)
    source = _int(request.form.get("from_round"), 0)
    return _run(round_id, lambda: respondent_service.copy_list(get_db(), source, round_id, _secret(), actor=actor()),
                lambda result: f"{result['added']} respondenter er kopieret fra den tidligere runde ({result['skipped']} "
                               "sprunget over: allerede på listen, uegnede eller i en gruppe, runden ikke har).")


def _respondent_form(round_: dict, invitation: dict | None, form, error: str | None, status: int = 200):
    db = get_db()
    return render_template("console/respondent_form.html", round=round_, invitation=invitation, form=form, error=error,
                           groups=sorted(round_service.round_questionnaires(db, round_["id"])),
                           units=allowed_units()), status


@bp.route("/rounds/<int:round_id>/respondents/new", methods=["GET", "POST"])
@roles_required(*LEADS)
def respondent_new(round_id: int):
    round_ = _round(round_id)
    if request.method == "GET":
        return _respondent_form(round_, None, {}, None)
    form = request.form
    units = allowed_units()
    if units is not None and form.get("unit", "").strip() not in units:
        return _respondent_form(round_, None, form, f"Enheden skal være en af dine: {', '.join(units)}.", 400)
    record = {k: form.get(k, "") for k in ("key", "email", "name", "group", "unit", "language")}
    try:
        respondent_service.add_respondent(get_db(), round_id, record, _secret(), actor=actor())
    except ImportRejected as rejected:
        return _respondent_form(round_, None, form, "; ".join(f"{e.column}: {danish_reason(e.reason)}" for e in rejected.errors), 400)
    except SurveyError as problem:
        return _respondent_form(round_, None, form, danish_reason(problem), 400)
    flash(f"{record['name'] or record['key'] or record['email']} er føjet til listen.", "info")
    return _back_to(round_id)


@bp.route("/rounds/<int:round_id>/respondents/<int:invitation_id>", methods=["GET", "POST"])
@roles_required(*LEADS)
def respondent_edit(round_id: int, invitation_id: int):
    round_ = _round(round_id)
    invitation = _invitation(round_, invitation_id)
    if request.method == "GET":
        form = {"name": invitation["name"] or "", "email": invitation["email"] or "", "language": invitation["language"] or "",
                "group": invitation["group_name"], "unit": invitation["unit"]}
        return _respondent_form(round_, invitation, form, None)
    form = request.form
    changes = {k: form.get(k, "") for k in ("name", "email", "language", "group", "unit") if k in form}
    units = allowed_units()
    if units is not None and "unit" in changes and changes["unit"].strip() not in units:
        return _respondent_form(round_, invitation, form, f"Enheden skal være en af dine: {', '.join(units)}.", 400)
    try:
        respondent_service.update_respondent(get_db(), invitation_id, actor=actor(), **changes)
    except SurveyError as problem:
        return _respondent_form(round_, invitation, form, danish_reason(problem), 400)
    flash(f"{invitation['key']} er opdateret.", "info")
    return _back_to(round_id)


@bp.post("/rounds/<int:round_id>/respondents/<int:invitation_id>/eligibility")
@roles_required(*LEADS)
def respondent_eligibility(round_id: int, invitation_id: int):
    round_ = _round(round_id)
    invitation = _invitation(round_, invitation_id)
    eligible = request.form.get("action") == "eligible"
    return _run(round_id, lambda: respondent_service.mark_ineligible(get_db(), invitation_id, request.form.get("reason", ""),
                                                                     actor=actor(), ineligible=not eligible),
                f"{invitation['key']} er markeret {'som egnet igen' if eligible else 'uegnet'}.")


@bp.post("/rounds/<int:round_id>/respondents/<int:invitation_id>/remove")
@roles_required(*LEADS)
def respondent_remove(round_id: int, invitation_id: int):
    round_ = _round(round_id)
    invitation = _invitation(round_, invitation_id)
    return _run(round_id, lambda: respondent_service.remove_respondent(get_db(), invitation_id, actor=actor()),
                f"{invitation['key']} er fjernet fra listen.")


# --- mail -------------------------------------------------------------------------------------

@bp.route("/rounds/<int:round_id>/templates", methods=["GET", "POST"])
@roles_required(*ADMIN_ONLY)
def templates(round_id: int):
    db = get_db()
    round_ = _round(round_id)
    error = None
    current = {kind: mail.get_template(db, round_id, kind) for kind in mail.KINDS}
    if request.method == "POST":
        kind = request.form.get("kind", "")
        if kind not in mail.KINDS:
            abort(400)
        if request.form.get("action") == "reset":
            subject, body = mail.DEFAULT_TEMPLATES[kind]["subject"], mail.DEFAULT_TEMPLATES[kind]["body"]
        else:
            subject, body = request.form.get("subject", ""), request.form.get("body", "")
        try:
            mail.save_template(db, round_id, kind, subject, body, actor=actor())
        except SurveyError as problem:
            error = f"{'Invitationen' if kind == 'invitation' else 'Påmindelsen'} er ikke gemt: {danish_reason(problem)}"
            current[kind] = {"subject": subject, "body": body, "default": False}
        else:
            flash("Skabelonen er gemt.", "info")
            return redirect(url_for("console.templates", round_id=round_id))
    sample = {"name": "Anne Jensen", "email": "anne@example.dk"}
    previews = {kind: mail.render(current[kind], round_, sample, "https://…/s/personligt-link") if not error else None
                for kind in mail.KINDS}
    return render_template("console/templates.html", round=round_, current=current, error=error, previews=previews,
                           fields=mail.FIELDS), (400 if error else 200)


@bp.route("/rounds/<int:round_id>/send", methods=["GET", "POST"])
@roles_required(*LEADS)
def send(round_id: int):
    db = get_db()
    round_ = _round(round_id)
    form = request.form if request.method == "POST" else request.args
    kind = form.get("kind", "invitation")
    if kind not in mail.KINDS:
        abort(400)
    min_days, max_count = max(0, _int(form.get("min_days"), 3)), max(0, _int(form.get("max"), 2))
    result, error = None, None
    if request.method == "POST":
        dry_run = request.form.get("action") != "send"
        try:
            result = mail.send(db, round_id, kind, current_app.config, _secret(), dry_run=dry_run, min_days=min_days,
                               max_reminders=max_count, units=allowed_units(), actor=actor())
        except SurveyError as problem:
            error = danish_reason(problem)
        else:
            if not dry_run:
                flash(f"Sendt: {result['sent']}, sprunget over: {result['skipped']}, fejlet: {result['failed']}.",
                      "error" if result["failed"] else "info")
    return render_template("console/send.html", round=round_, kind=kind, min_days=min_days, max_count=max_count,
                           result=result, error=error), (400 if error else 200)


@bp.post("/rounds/<int:round_id>/mails/<int:mail_id>/resolve")
@roles_required(*ADMIN_ONLY)
def resolve_mail(round_id: int, mail_id: int):
    _round(round_id)
    return _run(round_id, lambda: mail.resolve_uncertain(get_db(), mail_id, request.form.get("delivered") == "yes",
                                                         actor=actor()))


# --- audit log and accounts --------------------------------------------------------------------

@bp.get("/audit")
@roles_required(*READERS)
def audit_log():
    db = get_db()
    round_id = _int(request.args.get("round"), 0) or None
    entries = audit.entries(db, round_id, limit=min(2000, max(10, _int(request.args.get("limit"), 500))))
    names = {r["id"]: r["name"] for r in round_service.list_rounds(db)}
    return render_template("console/audit.html", entries=entries, names=names, round_id=round_id)


@bp.route("/users", methods=["GET", "POST"])
@roles_required(*ADMIN_ONLY)
def users():
    db = get_db()
    error = None
    form = request.form
    if request.method == "POST":
        units = [u.strip() for u in form.get("units", "").split(",") if u.strip()]
        try:
            if form.get("action") == "create":
                user_service.create_user(db, form.get("username", ""), form.get("password", ""), form.get("role", ""),
                                         units, actor=actor())
                flash(f"Brugeren {form.get('username')} er oprettet.", "info")
            else:
                username = form.get("username", "")
                if username == current_user()["username"] and form.get("action") == "deactivate":
                    raise SurveyError("du kan ikke deaktivere dig selv")
                user_service.update_user(db, username, actor(), active=form.get("action") == "activate")
                flash(f"Brugeren {username} er {'aktiveret' if form.get('action') == 'activate' else 'deaktiveret'}.", "info")
        except SurveyError as problem:
            error = danish_reason(problem)
        else:
            return redirect(url_for("console.users"))
    return render_template("console/users.html", users=user_service.list_users(db), error=error, form=form), (400 if error else 200)
