"""`surveyapp cases ...`: families, members, the work list, registration and evaluator tables."""
from __future__ import annotations

import json
from pathlib import Path

import click

from analysis.formatting import decimal, percent

from .. import cases as service
from .. import schedule as schedule_model
from ..questionnaire import QuestionnaireError
from ..questionnaire import load_file as load_questionnaire
from ..responses import PageInvalid
from .base import Group, check_files, emit, format_option, main, pass_app

cases = Group("cases", help="Progress measurements for citizens: families, members, work list, counts, paired M1-M2.")
main.add_command(cases)

project_option = click.option("--project", default="familieprogression", show_default=True, help="Project id.")
today_option = click.option("--today", default=None, help="Pretend today is this date (YYYY-MM-DD).")
cutoff_option = click.option("--cutoff", default=None, help="Inclusion cut-off date (YYYY-MM-DD).")


def denominator_option(default: str):
    return click.option("--denominator", type=click.Choice(["sample", "asked"]), default=default, show_default=True)


@cases.command("schedule-check")
@click.argument("files", nargs=-1, required=True, type=click.Path())
def schedule_check(files):
    """Validate schedule YAML files (FILE:LINE: message; the instruments are checked against questionnaires/)."""
    models = {}
    for path in sorted(service.QUESTIONNAIRE_DIR.glob("*.yaml")):
        try:
            q = load_questionnaire(path)
        except QuestionnaireError:
            continue
        models[q.id] = q
    check_files(files, lambda path: schedule_model.load_file(path, models))
    click.echo(f"{len(files)} schedule(s) ok")


@cases.command("schedule-load")
@click.argument("path", type=click.Path())
@pass_app
def schedule_load(app, path):
    """Store a schedule (loading the questionnaires it routes to from questionnaires/ if needed)."""
    result = service.load_schedule(app.db, path)
    click.echo(f"schedule {result['schedule']}: {'stored' if result['new'] else 'unchanged'}")


@cases.command("open")
@click.argument("key")
@click.option("--unit", required=True)
@click.option("--opened", "opened_on", required=True, help="Opening date YYYY-MM-DD.")
@click.option("--schedule", "schedule_id", default="familie-progression", show_default=True)
@click.option("--label", default=None)
@project_option
@pass_app
def open_(app, key, unit, opened_on, schedule_id, label, project):
    """Open a family (case) in a unit."""
    case_id = service.open_case(app.db, project, key, unit, opened_on, schedule_id, label)
    click.echo(f"family {key} opened (id {case_id})")


@cases.command("close")
@click.argument("key")
@click.option("--closed", "closed_on", required=True, help="Closing date YYYY-MM-DD.")
@click.option("--reason", default=None)
@pass_app
def close(app, key, closed_on, reason):
    """Close a family and every member still open in it."""
    case = service.close_case(app.db, key, closed_on, reason)
    click.echo(f"family {case['key']} closed on {case['closed_on']}; {case['members_closed']} member(s) closed with it")


@cases.command("add-member")
@click.argument("case_key")
@click.argument("key")
@click.option("--role", required=True)
@click.option("--born", "birth_date", required=True, help="Birth date YYYY-MM-DD.")
@click.option("--intake", "intake_on", default=None, help="Intake date (default: the family's opening date).")
@click.option("--name", default=None)
@click.option("--email", default=None)
@pass_app
def add_member(app, case_key, key, role, birth_date, intake_on, name, email):
    """Add a member (child/young person or parent) to an open family."""
    service.add_member(app.db, case_key, key, role, birth_date, intake_on, name, email)
    click.echo(f"{key} added to {case_key}")


@cases.command("close-member")
@click.argument("key")
@click.option("--closed", "closed_on", required=True)
@pass_app
def close_member(app, key, closed_on):
    """Close one member (the family stays open)."""
    member = service.close_member(app.db, key, closed_on)
    click.echo(f"{member['key']} closed on {member['closed_on']}")


@cases.command("check")
@format_option
@pass_app
def check(app, fmt):
    """Consistency check: members open in closed families and similar; exit 1 if any."""
    problems = service.consistency_problems(app.db)
    if problems:
        emit(problems, fmt)
        raise SystemExit(1)
    click.echo("no problems found")


@cases.command("worklist")
@click.option("--unit", default=None, help="Only this unit.")
@click.option("--state", "states", multiple=True, type=click.Choice(["overdue", "due", "upcoming", "done"]),
              help="Only these states (repeatable; default all).")
@project_option
@today_option
@format_option
@pass_app
def worklist(app, unit, states, project, today, fmt):
    """Who is due, overdue or done, per unit (open members only)."""
    rows = service.worklist(app.db, project, unit, today, states=tuple(states) or ("overdue", "due", "done", "upcoming"))
    for row in rows:
        row["instruments"] = ", ".join(row["instruments"])
    emit(rows, fmt, ["unit", "case", "member", "role", "age", "slot", "state", "target", "window_start", "window_end",
                     "days_overdue", "instruments", "measured_on"])


@cases.command("register")
@click.argument("member")
@click.option("--slot", required=True, help="baseline, M1, M2, ...")
@click.option("--questionnaire", "questionnaire_id", required=True)
@click.option("--mode", required=True, type=click.Choice(list(service.MODES)))
@click.option("--date", "reference_date", required=True, help="The date the answers refer to (YYYY-MM-DD).")
@click.option("--by", "registered_by", required=True, help="Who registers (the professional).")
@click.option("--answers", "answers_json", required=True, help='JSON object item -> code, e.g. \'{"who5_1": 3}\'.')
@pass_app
def register(app, member, slot, questionnaire_id, mode, reference_date, registered_by, answers_json):
    """Register a measurement on a member's behalf (submitted at once)."""
    try:
        answers = json.loads(answers_json)
    except json.JSONDecodeError as error:
        raise click.UsageError(f"--answers is not JSON: {error}") from None
    except RecursionError:
        raise click.UsageError("--answers is nested too deeply (a JSON object of item -> code)") from None
    if not isinstance(answers, dict):
        raise click.UsageError("--answers must be a JSON object")
    try:
        response = service.register_measurement(app.db, app.secret, member, slot, questionnaire_id,
                                                {k: (None if v is None else str(v)) for k, v in answers.items()},
                                                mode, reference_date, registered_by)
    except PageInvalid as error:
        for item, reason in error.errors.items():
            click.echo(f"error: {item}: {reason}", err=True)
        raise SystemExit(1)
    click.echo(f"registered response {response['id']} for {member} ({slot}, {questionnaire_id}, {mode}, refers to {response['reference_date']})")


@cases.command("link")
@click.argument("member")
@click.option("--slot", required=True)
@click.option("--by", "registered_by", required=True)
@click.option("--send", is_flag=True, help="E-mail the link to the member.")
@pass_app
def link(app, member, slot, registered_by, send):
    """Self-completion link(s) for a member's measurement (optionally e-mailed)."""
    links = service.self_completion_link(app.db, app.secret, app.settings["BASE_URL"], member, slot, registered_by,
                                         app.settings, send_mail=send)
    for entry in links:
        click.echo(f"{entry['questionnaire']}: {entry['url']}")
    if send:
        click.echo("sent by e-mail")


@cases.command("counts")
@cutoff_option
@click.option("--split", default=None, help="Split the sample by intake before / from this date.")
@denominator_option("sample")
@project_option
@today_option
@format_option
@pass_app
def counts(app, cutoff, split, denominator, project, today, fmt):
    """People per unit with background only, only M1, both M1 and M2 (each once, highest set)."""
    result = service.count_table(app.db, project, cutoff, split, denominator, today)
    if fmt == "json":
        emit(result, fmt)
        return
    sets = ["background_only", "m1_only", "m1_and_m2", "m2_without_m1", "none"]
    if fmt == "csv":
        columns = (["period"] if split else []) + ["unit", "n_sample"] + [c for s in sets for c in (s, f"{s}_denominator", f"{s}_share")]
        emit(result["rows"], fmt, columns + ["n_asked_baseline", "n_asked_M1", "n_asked_M2"])
        return
    shown = []
    for row in result["rows"]:
        entry = {k: row[k] for k in ("period", "unit", "n_sample") if k in row}
        for s in sets:
            share = row[f"{s}_share"]
            entry[s] = f"{row[s]} ({percent(share)} af {row[f'{s}_denominator']})" if share is not None else str(row[s])
        shown.append(entry)
    emit(shown, fmt)
    click.echo("\n" + result["caption"])


@cases.command("paired")
@click.option("--first", default="M1", show_default=True)
@click.option("--second", default="M2", show_default=True)
@cutoff_option
@denominator_option("sample")
@click.option("--by-unit", is_flag=True)
@click.option("--figures", "figure_dir", type=click.Path(file_okay=False), default=None,
              help="Write one PNG (+ CSV of its numbers) per score here.")
@project_option
@today_option
@format_option
@pass_app
def paired(app, first, second, cutoff, denominator, by_unit, figure_dir, project, today, fmt):
    """Paired comparison of two measurements (default M1 vs M2) per score, same people only."""
    tables = service.paired_tables(app.db, project, first, second, cutoff, denominator, by_unit, today)
    if figure_dir:
        from analysis.progress import paired_figure

        Path(figure_dir).mkdir(parents=True, exist_ok=True)
        for table in tables:
            png, _ = paired_figure(table, Path(figure_dir) / f"paired-{table['score']}.png", table["title"],
                                   table["cutoffs"], first, second)
            click.echo(f"wrote {png}", err=True)
    if fmt == "json":
        emit(tables, fmt)
        return
    rows = [row for table in tables for row in table["rows"]]
    if fmt == "table":
        digits = {"mean_a": 1, "mean_b": 1, "mean_diff": 1, "p_t": 3, "p_wilcoxon": 3}
        rows = [{**row, **{k: decimal(row[k], d) for k, d in digits.items() if row.get(k) is not None}}
                for row in rows]
    emit(rows, fmt, ["score", "unit", "n_pairs", "denominator", "mean_a", "mean_b", "mean_diff", "p_t", "p_wilcoxon", "note"])
    if fmt == "table":
        for table in tables:
            click.echo("\n" + table["caption"])


@cases.command("items")
@click.option("--slot", default="M1", show_default=True)
@cutoff_option
@denominator_option("asked")
@project_option
@today_option
@format_option
@pass_app
def items(app, slot, cutoff, denominator, project, today, fmt):
    """Answers to the items the schedule asks only some people (e.g. over 13), per unit."""
    tables = service.item_tables(app.db, project, slot, cutoff, denominator, today)
    if fmt == "json":
        emit(tables, fmt)
        return
    for table in tables:
        codes = [f"n_{o['code']}" for o in table["options"]]
        emit(table["rows"], fmt, ["unit", "n_sample", "n_asked", "n_answered", *codes, "note"])
        if fmt == "table":
            click.echo("\n" + table["caption"] + "\n")


@cases.command("families")
@click.option("--unit", default=None)
@project_option
@format_option
@pass_app
def families(app, unit, project, fmt):
    """Families with their opening/closing dates and member counts."""
    rows = service.list_cases(app.db, project, [unit] if unit else None)
    emit(rows, fmt, ["unit", "key", "label", "opened_on", "closed_on", "close_reason", "members", "open_members"])
