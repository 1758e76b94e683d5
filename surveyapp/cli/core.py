"""Core commands: database, questionnaires, rounds, respondent lists, links, rates, demo."""
from __future__ import annotations

import click

from analysis.rates import RATE_COLUMNS

from .. import questionnaire as qmodel
from .. import questionnaire_store, respondents as respondent_service, responses as response_service, rounds as round_service
from ..db import init as init_db, transaction
from ..errors import SurveyError
from ..results import rate_rows
from .base import DAYS, check_files, emit, format_option, invitations, main, pass_app, questionnaire, report, respondents, responses, round_, user


@main.command()
@pass_app
def init(app):
    """Create or upgrade the database (safe to run twice)."""
    _, applied = init_db(app.db_path)
    click.echo(f"{app.db_path}: " + (f"applied {', '.join(applied)}" if applied else "up to date"))


@questionnaire.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path())
def questionnaire_check(files):
    """Validate only; every problem as FILE:LINE: message, exit 1 if any."""
    check_files(files, qmodel.load_file)
    click.echo(f"{len(files)} file(s) ok")


@questionnaire.command("load")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@format_option
@pass_app
def questionnaire_load(app, files, fmt):
    """Validate and register; a changed file becomes a new version."""
    check_files(files, qmodel.load_file)
    loaded = []
    # All files or none: a refused file (changed wording under an answered item version)
    # leaves the files before it unregistered too.
    with transaction(app.db):
        for path in files:
            result = questionnaire_store.load(app.db, path)
            loaded.append({"questionnaire": result["questionnaire"], "version": result["version"], "new": result["new"]})
    emit(loaded, fmt)


@questionnaire.command("schema")
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
def questionnaire_schema(out):
    """The JSON Schema of the questionnaire format (questionnaires/schema.json is this output)."""
    text = qmodel.json_schema_text()
    if out:
        with open(out, "w", encoding="utf-8") as handle:
            handle.write(text)
        click.echo(f"wrote {out}")
    else:
        click.echo(text, nl=False)


@questionnaire.command("list")
@format_option
@pass_app
def questionnaire_list(app, fmt):
    """Every loaded questionnaire version."""
    emit(questionnaire_store.list_versions(app.db), fmt, ["questionnaire_id", "version", "title", "personal", "loaded_at", "source_path"])


@round_.command("create")
@click.option("--name", required=True)
@click.option("--questionnaire", "questionnaires", multiple=True, required=True,
              help="QID for everyone, or GROUP=QID per respondent group; QID@VERSION freezes an older version.")
@click.option("--project")
@click.option("--opens")
@click.option("--closes")
@click.option("--partial-threshold", type=float, default=0.5, show_default=True)
@click.option("--anonymous", is_flag=True, help="Keep no link between people and their answers.")
@click.option("--allow-edit", is_flag=True, help="Respondents may change answers after submitting.")
@click.option("--answered-by", type=click.Choice(["self", "citizen", "unit"]), default="self", show_default=True)
@click.option("--retention-days", type=DAYS)
@pass_app
def round_create(app, name, questionnaires, project, opens, closes, partial_threshold, anonymous, allow_edit, answered_by, retention_days):
    """Create a measurement round; prints its id."""
    mapping = {}
    for entry in questionnaires:
        group, sep, qid = entry.partition("=")
        group, qid = (group.strip(), qid.strip()) if sep else ("", group.strip())
        if group in mapping:
            raise SurveyError(f"--questionnaire names {'group ' + repr(group) if group else 'a questionnaire for everyone'} twice")
        mapping[group] = qid
    round_id = round_service.create_round(
        app.db, name, mapping, project, opens, closes, partial_threshold, anonymous, allow_edit, answered_by, retention_days)
    click.echo(round_id)


@round_.command("open")
@click.argument("round_ref", metavar="ROUND")
@pass_app
def round_open(app, round_ref):
    """Open a round: answers are accepted only while it is open."""
    r = round_service.open_round(app.db, round_ref)
    click.echo(f"round {r['id']} '{r['name']}' is open")


@round_.command("close")
@click.argument("round_ref", metavar="ROUND")
@pass_app
def round_close(app, round_ref):
    """Close a round."""
    r = round_service.close_round(app.db, round_ref)
    click.echo(f"round {r['id']} '{r['name']}' is closed")


@round_.command("list")
@click.option("--project")
@format_option
@pass_app
def round_list(app, project, fmt):
    """Rounds with their status, dates and questionnaires."""
    rows = round_service.list_rounds(app.db, project)
    if fmt != "json":
        for row in rows:
            row["questionnaires"] = ", ".join(f"{g or '*'}={v['questionnaire']}@{v['version']}" for g, v in row["questionnaires"].items())
    emit(rows, fmt, ["id", "project_id", "name", "status", "opens", "closes", "partial_threshold", "anonymous", "invited", "questionnaires"])


@respondents.command("import")
@click.argument("round_ref", metavar="ROUND")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@pass_app
def respondents_import(app, round_ref, file):
    """Import a CSV or XLSX list; a file with any bad row imports nothing."""
    result = respondent_service.import_respondents(app.db, round_ref, file, app.secret)
    click.echo(f"imported {result['added']} respondent(s)")


@respondents.command("copy")
@click.argument("from_round", metavar="FROM_ROUND")
@click.argument("to_round", metavar="TO_ROUND")
@pass_app
def respondents_copy(app, from_round, to_round):
    """Start a round's list from an earlier round's (panel keys carry over)."""
    result = respondent_service.copy_list(app.db, from_round, to_round, app.secret)
    click.echo(f"copied {result['added']} respondent(s), skipped {result['skipped']}")


@respondents.command("list")
@click.argument("round_ref", metavar="ROUND")
@format_option
@pass_app
def respondents_list(app, round_ref, fmt):
    """The round's respondent list."""
    emit(respondent_service.list_respondents(app.db, round_ref), fmt,
         ["key", "name", "email", "group_name", "unit", "eligible", "started", "completed", "attributes"])


@invitations.command("links")
@click.argument("round_ref", metavar="ROUND")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "table"]), default="csv", show_default=True)
@pass_app
def invitations_links(app, round_ref, fmt):
    """key, email and the personal answer URL of each respondent."""
    emit(respondent_service.links(app.db, round_ref, app.secret, app.settings["BASE_URL"]), fmt, ["key", "email", "group", "unit", "url"])


@responses.command("import")
@click.argument("round_ref", metavar="ROUND")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@pass_app
def responses_import(app, round_ref, file):
    """Answers from another tool: key (or email), one column per item id, optional status and submitted_at."""
    result = response_service.import_responses(app.db, round_ref, file)
    click.echo(f"imported {result['responses']} response(s) with {result['answers']} answer(s)"
               + (f"; skipped {result['skipped']} row(s) without answers" if result.get("skipped") else ""))




@report.command("response-rates")
@click.option("--round", "round_refs", multiple=True, help="Round id or name; repeat for several (default: all).")
@click.option("--by", default="", help="Breakdown: group, unit or group,unit.")
@click.option("--project")
@format_option
@pass_app
def report_response_rates(app, round_refs, by, project, fmt):
    """Invited, started, complete, valid partial, responded and rate per round x cell, with roll-ups."""
    dims = tuple(d.strip() for d in by.split(",") if d.strip())
    for d in dims:
        if d not in ("group", "unit"):
            raise SurveyError(f"--by: cannot break down response rates by '{d}' (use group, unit or group,unit)")
    rows = rate_rows(app.db, list(round_refs), dims, project)
    if fmt == "json":
        for row in rows:
            row.pop("round_id", None)
    emit(rows, fmt, RATE_COLUMNS)


@user.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "unit_lead", "evaluator"]), default="admin", show_default=True)
@click.option("--unit", "units", multiple=True, help="Units a unit lead may see (repeat).")
@click.password_option(envvar="SURVEYAPP_NEW_PASSWORD")
@pass_app
def user_create(app, username, role, units, password):
    """Create a console account (the first admin is made this way)."""
    from ..users import create_user

    create_user(app.db, username, password, role, list(units))
    click.echo(f"created {role} '{username}'")


# `serve` lives in cli/ops.py (gunicorn workers or waitress).


@main.command()
@click.option("--seed", default=2013, type=int, show_default=True)
@click.option("--force", is_flag=True, help="Add the demo project even if the database has data.")
@pass_app
def demo(app, seed, force):
    """Build a realistic demo project: six municipalities, managers and staff, three rounds."""
    from ..demo import DEMO_USERS, build_demo

    summary = build_demo(app.db, app.secret, seed=seed, force=force)
    for line in summary:
        click.echo(line)
    click.echo("demo logins (user / password):")
    for username, password, role, units in DEMO_USERS:
        click.echo(f"  {username:<10} / {password:<20} ({role}{': ' + ', '.join(units) if units else ''})")
