"""Evaluator commands: `report items|indices|paired|panel|changes|groups|crosstab|spread`,
`export` and `figures` (interface.md). Thin: every number comes from surveyapp.report_data."""
from __future__ import annotations

import click

from .. import report_data
from ..errors import SurveyError
from .base import emit, format_option, main, pass_app, report

round_option = click.option("--round", "rounds", multiple=True, help="Round id or name (repeatable); default: every round of the project.")
project_option = click.option("--project", help="Project id (needed when the database holds several projects).")
unit_option = click.option("--unit", "units", multiple=True, help="Only these units (repeatable).")


def _by(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def _units(units) -> list[str] | None:
    return list(units) if units else None


ITEM_COLUMNS = ["round", "group", "unit", "item", "item_version", "n", "n_valid", "mean", "sd", "ci_low", "ci_high", "top1", "top2",
                "shares", "suppressed"]


@report.command("items")
@round_option
@project_option
@unit_option
@click.option("--by", "by", help="Breakdown: group, unit and/or respondent attributes, comma-separated (e.g. group,unit).")
@click.option("--item", "items", multiple=True, help="Only these item ids (repeatable).")
@click.option("--responded-only", is_flag=True, help="Count only complete + valid partial responses (default: everyone who answered the item).")
@format_option
@pass_app
def report_items(app, rounds, project, units, by, items, responded_only, fmt):
    """Per item x round (x breakdown): n, n_valid, mean, sd, ci_low, ci_high, shares (percent per option code), suppressed."""
    rows = report_data.item_rows(app.db, list(rounds) or None, _by(by), project, _units(units), list(items) or None, responded_only)
    for row in rows:
        row.pop("round_index", None)
    dims = [d for d in _by(by) if d not in ("group", "unit")]
    columns = [c for c in ITEM_COLUMNS if c in ("round", "item", "item_version") or any(c in r for r in rows[:1])]
    columns[1:1] = dims
    emit(rows, fmt, columns)


@report.command("indices")
@round_option
@project_option
@unit_option
@click.option("--by", "by", type=click.Choice(["unit", ""]), default="", help="unit: a row per unit as well.")
@click.option("--index", "indices", multiple=True, help="Only these index ids.")
@format_option
@pass_app
def report_indices(app, rounds, project, units, by, indices, fmt):
    """Per index x round (x unit): score (mean of unit means), n (units), alpha."""
    rows = report_data.index_rows(app.db, list(rounds) or None, by == "unit", project, _units(units), list(indices) or None)
    emit(rows, fmt, ["index", "round", "unit", "score", "n", "n_respondents", "alpha", "pooled", "light", "suppressed"])


@report.command("paired")
@click.argument("round_a")
@click.argument("round_b")
@project_option
@unit_option
@click.option("--item", "items", multiple=True)
@format_option
@pass_app
def report_paired(app, round_a, round_b, project, units, items, fmt):
    """Per item: n_pairs, mean_a, mean_b, diff (B - A), p_ttest, p_wilcoxon (panel members who answered both)."""
    result = report_data.paired_rows(app.db, round_a, round_b, project, list(items) or None, _units(units))
    emit(result["items"], fmt, ["item", "round_a", "round_b", "n_pairs", "mean_a", "mean_b", "diff", "p_ttest", "p_wilcoxon", "suppressed"])


@report.command("panel")
@click.argument("round_a")
@click.argument("round_b")
@project_option
@unit_option
@format_option
@pass_app
def report_panel(app, round_a, round_b, project, units, fmt):
    """Panel counts between two rounds: only round A, only round B, both (each person once)."""
    result = report_data.paired_rows(app.db, round_a, round_b, project, [], _units(units))  # no items
    emit({"round_a": result["round_a"], "round_b": result["round_b"], **result["panel"]}, fmt)


@report.command("changes")
@round_option
@project_option
@unit_option
@click.option("--total", is_flag=True, help="Pool the groups instead of one series per group.")
@click.option("--share", type=click.Choice(["top1", "top2"]), default="top2", show_default=True)
@format_option
@pass_app
def report_changes(app, rounds, project, units, total, share, fmt):
    """Changes between consecutive rounds per item version: diff_share (procentpoint), diff_mean (scale points), p-values."""
    rows = report_data.item_changes(app.db, list(rounds) or None, not total, project, _units(units), share)
    emit(rows, fmt, ["group", "item", "item_version", "series_starts", "round_a", "round_b", "n_a", "n_b", "diff_share",
                     "diff_mean", "p_chi2", "p_mannwhitney"])


@report.command("groups")
@round_option
@project_option
@unit_option
@click.option("--a", "group_a", default="ledere", show_default=True)
@click.option("--b", "group_b", default="medarbejdere", show_default=True)
@format_option
@pass_app
def report_groups(app, rounds, project, units, group_a, group_b, fmt):
    """Two groups on parallel items linked by `construct` (diff = B - A)."""
    rows = report_data.construct_rows(app.db, list(rounds) or None, group_a, group_b, project, _units(units))
    emit(rows, fmt, ["round", "construct", "item_a", "item_b", "n_a", "n_b", "mean_a", "mean_b", "diff_mean", "top2_a", "top2_b",
                     "diff_share", "p_chi2", "p_mannwhitney", "suppressed"])


@report.command("crosstab")
@click.argument("round_ref")
@click.argument("row_item")
@click.argument("col_item")
@click.option("--group")
@project_option
@format_option
@pass_app
def report_crosstab(app, round_ref, row_item, col_item, group, project, fmt):
    """Cross-tab of two items in one round (counts, row percent, chi-square; small cells suppressed)."""
    result = report_data.crosstab_data(app.db, round_ref, row_item, col_item, group, project)
    if fmt == "json":
        emit(result, fmt)
        return
    rows = []
    for line in result["table"]:
        row = {row_item: line["row"] if line["row"] is not None else ""}
        for col, cell in line["cells"].items():
            row[col] = cell.get("note") or cell["n"]
        rows.append(row)
    emit(rows, fmt)


@report.command("spread")
@click.argument("round_ref")
@click.argument("item")
@click.option("--group")
@click.option("--share", type=click.Choice(["top1", "top2"]), default="top2", show_default=True)
@project_option
@format_option
@pass_app
def report_spread(app, round_ref, item, group, share, project, fmt):
    """Anonymous spread of an item's share across units ("varierer mellem 34 og 66 procent")."""
    emit(report_data.unit_spread(app.db, round_ref, item, group, share, project), fmt)


@main.command("export")
@round_option
@project_option
@unit_option
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "sav"]), required=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False))
@click.option("--layout", type=click.Choice(["responses", "long", "wide"]), default="responses", show_default=True,
              help="responses: a row per response; long: a row per response and item; wide: a row per panel member across rounds.")
@click.option("--level", type=click.Choice(["answers", "items"]), default="answers", show_default=True,
              help="items: the aggregated item table (suppressed) instead of the answers.")
@click.option("--by", "by", default="group", show_default=True, help="Breakdown for --level items.")
@click.option("--identify", is_flag=True,
              help="Export the real panel key (people.key) in a `key` column instead of the pseudonymous respondent_id. "
                   "Names and emails are never exported; anonymous rounds never get an id.")
@pass_app
def export_command(app, rounds, project, units, fmt, out, layout, level, by, identify):
    """Answers with a codebook (labels, codes, missing codes, rules) as CSV, XLSX or SPSS .sav.

    Answer-level files identify respondents by a pseudonym (a keyed hash of the panel key under the
    instance secret, the same in every round and export) and blank the unit, free text and
    attributes of rows in cells below the project's minimum n (personal questionnaires only)."""
    result = report_data.export(app.db, out, fmt, list(rounds) or None, project, _units(units), layout, level, _by(by),
                                secret=app.secret, identify=identify)
    click.echo(f"wrote {result['rows']} rows: {', '.join(result['files'])}")
    if result["level"] == "answers":
        ids = {None: "no respondent id (anonymous round)", "key": "real panel keys (--identify)",
               "respondent_id": "pseudonymous respondent_id"}[result["id_column"]]
        click.echo(f"{ids}; {result['blanked_rows']} responses in cells below the minimum n had unit, free text and "
                   "attributes blanked")


@main.command("figures")
@round_option
@project_option
@unit_option
@click.option("--out", required=True, type=click.Path(file_okay=False))
@click.option("--item", "items", multiple=True, help="Only these item ids.")
@click.option("--group", "groups", multiple=True, help="Only these respondent groups.")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(["trend", "shares", "diverging", "index", "rates"]),
              help="Only these kinds (default: all).")
@format_option
@pass_app
def figures_command(app, rounds, project, units, out, items, groups, kinds, fmt):
    """Trend figures as PNG, SVG and PDF, each with the CSV of the numbers it draws."""
    made = report_data.build_figures(app.db, out, list(rounds) or None, project, _units(units), list(items) or None,
                                     tuple(kinds) or ("trend", "shares", "diverging", "index", "rates"), list(groups) or None)
    if not made:
        raise SurveyError("no figures: the rounds have no scale items with answers")
    if fmt == "table":
        click.echo(f"wrote {len(made)} figures ({len(made) * 4} files) to {out}")
        return
    emit([{"figure": m["figure"], "kind": m["kind"], "files": m["files"]} for m in made], fmt)
