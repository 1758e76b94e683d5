"""Small-cell suppression holds in the exports, checked through the `export` and `report` commands
(the analysis area owns them; this is the data-protection check from the outside). Minimum n is 5:
Nordby has 8 respondents, Sydby 3, Østby 6. Sydby must be hidden, and Østby with it, or
Sydby could be recovered as total minus Nordby minus Østby."""
from __future__ import annotations

import csv
import io
import json

import openpyxl
import pytest
from click.testing import CliRunner

from reliability_support import make_round, person
from surveyapp import responses as rs, tokens
from surveyapp.cli import main

UNITS = {"Nordby": range(0, 8), "Sydby": range(8, 11), "Østby": range(11, 17)}


def scale_value(i: int, page: int) -> int:
    return 1 + (i + page) % 5


@pytest.fixture
def answered(db, secret):
    people = [person(i, unit=unit) for unit, ids in UNITS.items() for i in ids]
    made = make_round(db, secret, people)
    for i, p in enumerate(people):
        token = made["tokens"][p["key"]]
        response = rs.start_response(db, secret, token, tokens.find_invitation(db, secret, token))
        q = rs.questionnaire_of(db, response)
        for page, section in enumerate(q.sections):
            rs.save_page(db, response, page, {
                item.id: str(scale_value(i, page)) if item.type == "scale" else (["2"] if item.type == "multiple"
                                                                                  else f"fritekst fra {p['name']}")
                for item in section.items})
        rs.submit(db, response)
    return made


def run(db_path, *args):
    result = CliRunner().invoke(main, ["--db", str(db_path), *args])
    assert result.exit_code == 0, result.output
    return result


def check_item_rows(rows: list[dict]) -> None:
    by_unit = {r["unit"] or "": r for r in rows if r["item"] == "samarbejde_1"}
    # Nordby by hand: codes 1,2,3,4,5,1,2,3 -> mean 21/8.
    assert float(by_unit["Nordby"]["mean"]) == pytest.approx(21 / 8, abs=1e-3)
    assert str(by_unit["Nordby"]["suppressed"]) in ("False", "false", "0")
    for unit in ("Sydby", "Østby"):
        row = by_unit[unit]
        assert str(row["suppressed"]) in ("True", "true", "1"), unit
        for column, value in row.items():
            if column.startswith("share") or column in ("mean", "sd", "ci_low", "ci_high", "top1", "top2"):
                assert value in ("", None), (unit, column, value)
    # The total is shown, but Sydby cannot be got back from it: two unit cells are hidden.
    total = by_unit[""]
    all_codes = [scale_value(i, 0) for ids in UNITS.values() for i in ids]
    assert float(total["mean"]) == pytest.approx(sum(all_codes) / len(all_codes), abs=1e-3)


def test_item_exports_suppress_small_units_with_a_second_cell(db_path, answered, tmp_path):
    out = tmp_path / "items.csv"
    run(db_path, "export", "--format", "csv", "--out", str(out), "--level", "items", "--by", "unit")
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    check_item_rows(rows)
    text = out.read_text(encoding="utf-8-sig")
    assert "fritekst fra" not in text  # no free text in an aggregate export

    xlsx = tmp_path / "items.xlsx"
    run(db_path, "export", "--format", "xlsx", "--out", str(xlsx), "--level", "items", "--by", "unit")
    sheet = openpyxl.load_workbook(xlsx, read_only=True).worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    header = [str(h) for h in values[0]]
    xrows = [{h: ("" if v is None else str(v)) for h, v in zip(header, row)} for row in values[1:] if any(row)]
    check_item_rows(xrows)


def test_report_items_json_suppresses_the_same_cells(db_path, answered):
    rows = json.loads(run(db_path, "report", "items", "--by", "unit", "--format", "json").output)
    flat = []
    for r in rows:
        flat.append({**{k: v for k, v in r.items() if not isinstance(v, dict)},
                     **{f"share_{k}": v for k, v in (r.get("shares") or {}).items()}})
    check_item_rows(flat)
    for r in rows:
        if r["unit"] in ("Sydby", "Østby"):
            assert not any(v not in (None, "") for v in (r.get("shares") or {}).values())
