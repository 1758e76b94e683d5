"""`surveyapp fidelity …`, `surveyapp activities …`, `surveyapp indicators …`: fidelity and
implementation monitoring from the command line (the same services as /fidelity).

Every output carries the rules in force: JSON as a "rules" list beside the rows, CSV as leading
'# ' comment lines, tables with the rules printed below them.
"""
from __future__ import annotations

from pathlib import Path

import click

from analysis import fidelity as fa
from .. import fidelity as service
from ..tabular import write_csv
from ..errors import SurveyError
from ..tokens import answer_url
from .base import ROW_ID, emit, format_option, pass_app, subgroup

fidelity = subgroup("fidelity", "Fidelity rounds answered on units' behalf: registration, profiles, overview, trends.")
activities = subgroup("activities", "Activities with milestones, a status note per round and traffic lights.")
indicators = subgroup("indicators", "Goal indicators: baseline, target, direction and a value per round.")

project_option = click.option("--project", help="Project id (default: the only project with unit rounds).")


def _project(app, project: str | None) -> str:
    if project:
        return project
    projects = [p["id"] for p in service.fidelity_projects(app.db)]
    if len(projects) == 1:
        return projects[0]
    raise SurveyError("name the project with --project (" + (", ".join(projects) or "no project has unit rounds") + ")")


def _out(rows: list[dict], fmt: str, rules: list[str], columns: list[str] | None = None, extra: dict | None = None) -> None:
    columns = columns or (list(rows[0].keys()) if rows else [])
    if fmt == "json":
        emit({**(extra or {}), "rows": rows, "rules": rules}, "json")
    elif fmt == "csv":
        click.echo(write_csv(rows, columns, rules), nl=False)
    else:
        emit(rows, "table", columns)
        click.echo("")
        for rule in rules:
            click.echo(f"# {rule}")


# ---------------------------------------------------------------- fidelity


@fidelity.command("round-create")
@click.option("--name", required=True)
@click.option("--questionnaire", required=True, help="Questionnaire id (fidelity or self-evaluation), optionally QID@VERSION.")
@click.option("--unit", "units", multiple=True, required=True, help="A unit answered for (repeat): one invitation each.")
@project_option
@click.option("--opens")
@click.option("--closes")
@pass_app
def round_create(app, name, questionnaire, units, project, opens, closes):
    """Create a round answered on units' behalf (answered_by=unit) with one invitation per unit."""
    if not project:
        raise SurveyError("name the project with --project")
    round_id = service.create_unit_round(app.db, name, questionnaire, project, list(units), app.secret, opens, closes)
    click.echo(round_id)


@fidelity.command("units")
@click.argument("round_ref", metavar="ROUND")
@click.argument("units", nargs=-1, required=True)
@pass_app
def units_add(app, round_ref, units):
    """Put units on a unit round's list (one invitation each, key = unit name)."""
    result = service.add_units(app.db, round_ref, list(units), app.secret)
    click.echo(f"added {result['added']} unit(s)")


@fidelity.command("register")
@click.argument("round_ref", metavar="ROUND")
@click.argument("unit")
@click.option("--by", "registered_by", required=True, help="Who registers the answers on the unit's behalf.")
@click.option("--participants", help="Who took part in the dialogue (e.g. the core team).")
@click.option("--mode", type=click.Choice(["in_person", "phone", "self_completion"]), default="in_person", show_default=True)
@project_option
@pass_app
def register(app, round_ref, unit, registered_by, participants, mode, project):
    """Start the unit's registration and print its answer link. Refused (exit 1) when the unit
    already has a submitted response in the round, unless an admin has reopened it."""
    started = service.start_registration(app.db, app.secret, round_ref, unit, registered_by, participants, mode,
                                         project=project, actor=f"cli:{registered_by}")
    if started["resumed"]:
        click.echo(f"resuming the registration started by {started['previous_registered_by'] or 'unknown'}", err=True)
    click.echo(answer_url(app.settings["BASE_URL"], started["token"]))


@fidelity.command("reopen")
@click.argument("round_ref", metavar="ROUND")
@click.argument("unit")
@click.option("--reason", required=True)
@click.option("--actor", default="cli", show_default=True, help="Name recorded in the audit log.")
@project_option
@pass_app
def reopen(app, round_ref, unit, reason, actor, project):
    """Reopen a unit's submitted response (audited) so that it can be registered again."""
    result = service.reopen_registration(app.db, round_ref, unit, reason, actor, project)
    click.echo(f"reopened {result['unit']} in {result['round']}")


@fidelity.command("registrations")
@click.argument("round_ref", metavar="ROUND")
@format_option
@pass_app
def registrations(app, round_ref, fmt):
    """Per unit: response status, who registered it, participants, reopenings."""
    emit(service.registrations(app.db, round_ref), fmt)


@fidelity.command("overview")
@project_option
@click.option("--round", "round_ref", help="Round id or name (default: the latest fidelity round).")
@format_option
@pass_app
def overview(app, project, round_ref, fmt):
    """Units x indices for one round: score and traffic light per cell, then the mean of unit means."""
    matrix = service.overview(app.db, _project(app, project), round_ref)
    rows = fa.overview_rows(matrix)
    extra = {"round": matrix["round"], "ladders": matrix["ladders"], "checklists": matrix["checklists"]}
    _out(rows, fmt, matrix["rules"], service.OVERVIEW_COLUMNS, extra)


@fidelity.command("profile")
@click.argument("unit")
@project_option
@format_option
@click.option("--pdf", "pdf_path", type=click.Path(dir_okay=False), help="Also write the one-page PDF here.")
@pass_app
def profile(app, unit, project, fmt, pdf_path):
    """A unit's indices across rounds (light, change, comparison with the other units), its lowest
    items and ladder positions."""
    project = _project(app, project)
    data = service.profile(app.db, project, unit)
    if pdf_path:
        Path(pdf_path).write_bytes(service.profile_document(data))
        click.echo(f"wrote {pdf_path}", err=True)
    if fmt == "json":
        emit(data, "json")
        return
    _out(service.profile_rows(data), fmt, data["rules"] + data["comparison_notes"])
    if fmt == "table":
        click.echo(f"\nLowest items ({data['latest_round']}):")
        for row in data["lowest"]:
            click.echo(f"  {row['value']}  {row['text']}")
        for ladder in data["ladders"]:
            click.echo(f"\n{ladder['text']}")
            for p in ladder["positions"]:
                click.echo(f"  {p['round']}: " + (f"step {p['code']} of {ladder['steps']} ({p['label']})" if p["code"] is not None else "-"))


@fidelity.command("trends")
@project_option
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False))
@pass_app
def trends(app, project, out_dir):
    """Index trends for all units in one figure: trends.png, trends.svg and the CSV it draws."""
    project = _project(app, project)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = service.trends(app.db, project)
    for fmt, body in service.trend_figures(data, ("png", "svg")).items():
        (out / f"fidelity-trends.{fmt}").write_bytes(body)
    (out / "fidelity-trends.csv").write_text(write_csv(service.trend_rows(data), service.TREND_COLUMNS, data["rules"]),
                                             encoding="utf-8")
    click.echo(f"wrote {out}/fidelity-trends.png, .svg and .csv")


@fidelity.command("self-evaluation")
@project_option
@click.option("--round", "round_ref")
@format_option
@pass_app
def self_evaluation(app, project, round_ref, fmt):
    """The self-evaluation as units x questions: answer label and free-text reason per cell."""
    matrix = service.self_evaluation(app.db, _project(app, project), round_ref)
    _out(service.self_evaluation_rows(matrix), fmt, matrix["rules"], service.SELF_EVALUATION_COLUMNS)


# ---------------------------------------------------------------- activities


@activities.command("add")
@click.argument("code")
@click.argument("title")
@project_option
@click.option("--owner")
@click.option("--unit", default="", help="The unit it belongs to (default: the whole project).")
@click.option("--from-round", help="First round it is followed in.")
@pass_app
def activity_add(app, code, title, project, owner, unit, from_round):
    click.echo(service.add_activity(app.db, _project(app, project), code, title, owner, unit, from_round=from_round))


@activities.command("milestone")
@click.argument("code")
@click.argument("title")
@project_option
@click.option("--unit", default="")
@click.option("--measure", type=click.Choice(list(service.MEASURES)), default="status", show_default=True)
@click.option("--target", type=float, help="Target count or percentage.")
@click.option("--due", "due_round", help="Round from which the milestone is due (before it: no colour).")
@pass_app
def milestone_add(app, code, title, project, unit, measure, target, due_round):
    """Add a milestone to activity CODE; prints the milestone id."""
    activity = service.find_activity(app.db, _project(app, project), code, unit)
    click.echo(service.add_milestone(app.db, activity["id"], title, measure, target, due_round))


@activities.command("status")
@click.argument("milestone_id", type=ROW_ID)
@click.argument("round_ref", metavar="ROUND")
@click.option("--status", help="Ja, Nej, På vej or N/A.")
@click.option("--value", type=float, help="A count or a percentage.")
@click.option("--comment")
@click.option("--actor", default="cli", show_default=True)
@pass_app
def milestone_status(app, milestone_id, round_ref, status, value, comment, actor):
    """Record a milestone's status note in a round."""
    result = service.set_milestone_status(app.db, milestone_id, round_ref, status, value, comment, actor)
    click.echo(f"milestone {result['milestone']} in {result['round']}: {fa.STATUS_LABELS.get(result['status'], '-')}"
               + (f", {result['value']:g}" if result["value"] is not None else ""))


@activities.command("override")
@click.argument("milestone_id", type=ROW_ID)
@click.argument("round_ref", metavar="ROUND")
@click.argument("light", type=click.Choice(["green", "yellow", "red", "none", "auto"]))
@click.option("--reason", help="Required unless LIGHT is auto (which removes the override).")
@click.option("--actor", default="cli", show_default=True)
@pass_app
def milestone_override(app, milestone_id, round_ref, light, reason, actor):
    """Override the suggested traffic light of a milestone in a round, with a recorded reason."""
    service.override_light(app.db, milestone_id, round_ref, None if light == "auto" else light, reason, actor)
    click.echo("override removed" if light == "auto" else f"light set to {light}")


@activities.command("drop")
@click.argument("code")
@click.argument("round_ref", metavar="ROUND")
@click.option("--reason", required=True)
@project_option
@click.option("--unit", default="")
@pass_app
def activity_drop(app, code, round_ref, reason, project, unit):
    """Mark an activity as dropped from ROUND on; it stays visible with the reason."""
    activity = service.find_activity(app.db, _project(app, project), code, unit)
    service.drop_activity(app.db, activity["id"], round_ref, reason)
    click.echo(f"activity {code} dropped from {round_ref}")


@activities.command("notes")
@project_option
@click.option("--round", "round_ref", help="Round id or name (default: the latest).")
@format_option
@pass_app
def notes(app, project, round_ref, fmt):
    """The status-note table: one row per milestone and per indicator, with suggested and shown lights."""
    project = _project(app, project)
    data = service.status_notes(app.db, project, round_ref)
    _out(service.status_note_rows(data), fmt, data["rules"], service.STATUS_COLUMNS, {"round": data["round"]})


@activities.command("export")
@project_option
@click.option("--round", "round_ref")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="FILE.csv or FILE.xlsx")
@pass_app
def export(app, project, round_ref, out_path):
    """Export the status-note table as CSV or XLSX (rules on a sheet 'Regler' / as '#' lines)."""
    fmt = Path(out_path).suffix.lower().lstrip(".")
    if fmt not in ("csv", "xlsx"):
        raise SurveyError("the output file must end in .csv or .xlsx")
    Path(out_path).write_bytes(service.export_status_notes(app.db, _project(app, project), round_ref, fmt))
    click.echo(f"wrote {out_path}")


# ---------------------------------------------------------------- indicators


@indicators.command("add")
@click.argument("code")
@click.argument("title")
@project_option
@click.option("--measure-unit", default="", help="e.g. antal, %")
@click.option("--baseline", type=float)
@click.option("--target", type=float)
@click.option("--direction", type=click.Choice(["higher", "lower"]), default="higher", show_default=True,
              help="Which way is better.")
@click.option("--unit", default="")
@click.option("--from-round")
@pass_app
def indicator_add(app, code, title, project, measure_unit, baseline, target, direction, unit, from_round):
    click.echo(service.add_indicator(app.db, _project(app, project), code, title, measure_unit, baseline, target, direction,
                                     unit, from_round))


@indicators.command("value")
@click.argument("code")
@click.argument("round_ref", metavar="ROUND")
@click.argument("value", type=float)
@click.option("--comment")
@project_option
@click.option("--unit", default="")
@pass_app
def indicator_value(app, code, round_ref, value, comment, project, unit):
    indicator = service.find_indicator(app.db, _project(app, project), code, unit)
    service.set_indicator_value(app.db, indicator["id"], round_ref, value, comment)
    click.echo(f"{code} in {round_ref}: {value:g}")


@indicators.command("drop")
@click.argument("code")
@click.argument("round_ref", metavar="ROUND")
@click.option("--reason", required=True)
@project_option
@click.option("--unit", default="")
@pass_app
def indicator_drop(app, code, round_ref, reason, project, unit):
    """Mark an indicator as dropped from ROUND on; it stays visible with the reason."""
    indicator = service.find_indicator(app.db, _project(app, project), code, unit)
    service.drop_indicator(app.db, indicator["id"], round_ref, reason)
    click.echo(f"indicator {code} dropped from {round_ref}")


@indicators.command("replace")
@click.argument("code")
@click.argument("round_ref", metavar="ROUND")
@click.option("--reason", required=True)
@click.option("--new-code", required=True)
@click.option("--new-title", required=True)
@click.option("--measure-unit")
@click.option("--baseline", type=float)
@click.option("--target", type=float)
@click.option("--direction", type=click.Choice(["higher", "lower"]))
@project_option
@click.option("--unit", default="")
@pass_app
def indicator_replace(app, code, round_ref, reason, new_code, new_title, measure_unit, baseline, target, direction, project, unit):
    """Replace an indicator from ROUND on by a new one; the old one stays visible as replaced."""
    indicator = service.find_indicator(app.db, _project(app, project), code, unit)
    new_id = service.replace_indicator(app.db, indicator["id"], round_ref, reason, new_code, new_title, measure_unit, baseline,
                                       target, direction)
    click.echo(new_id)
