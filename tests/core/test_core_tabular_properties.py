"""Property tests: the table reader gives back what a spreadsheet wrote, and the response-rate
roll-ups add up for any respondent list."""
from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from analysis.rates import response_rates
from surveyapp.errors import ImportRejected
from surveyapp.tabular import read_table

# Cell text as people type it: Danish letters, separators, quotes, line breaks inside cells.
cell = st.text(alphabet=st.sampled_from(list("abcæøåÆØÅ 019,;\"'\n-")), max_size=12).map(str.strip)
header = st.lists(st.text(alphabet="abcdefghij_", min_size=1, max_size=6), min_size=1, max_size=5, unique_by=str.casefold)


@st.composite
def tables(draw):
    columns = draw(header)
    rows = draw(st.lists(st.lists(cell, min_size=len(columns), max_size=len(columns)), max_size=8))
    return columns, rows


@settings(max_examples=60, deadline=None)
@given(table=tables(), delimiter=st.sampled_from([",", ";"]), encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
def test_csv_reads_back_what_was_written(table, delimiter, encoding):
    columns, rows = table
    # A one-column file has no delimiter in its header to tell ';' from ','.
    assume(len(columns) > 1 or delimiter == ",")
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(columns)
    starts = []
    for row in rows:
        starts.append(buffer.getvalue().count("\n") + 1)  # the line this record starts on
        writer.writerow(row)
    got_header, got = read_table(None, buffer.getvalue().encode(encoding), "x.csv")
    assert got_header == columns
    # Blank rows are skipped; every other row comes back whole, with the line it starts on.
    expected = [(start, row) for start, row in zip(starts, rows) if any(row)]
    assert [(line, [values[c] for c in columns]) for line, values in got] == expected


@settings(max_examples=25, deadline=None)
@given(table=tables())
def test_xlsx_reads_back_what_was_written(table):
    columns, rows = table
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(columns)
    for row in rows:
        sheet.append([c or None for c in row])
    buffer = io.BytesIO()
    book.save(buffer)
    got_header, got = read_table(None, buffer.getvalue(), "x.xlsx")
    assert got_header == columns
    kept = [(n, r) for n, r in enumerate(rows, start=2) if any(r)]
    assert [(line, [values[c] for c in columns]) for line, values in got] == kept


def test_unreadable_files_are_one_clear_error():
    with pytest.raises(ImportRejected) as error:
        read_table(None, b"PK\x03\x04 not really a zip", "list.xlsx")
    assert "not a readable XLSX file" in error.value.errors[0].reason
    with pytest.raises(ImportRejected) as error:
        read_table(None, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "liste.xls")
    assert "save it as .xlsx or CSV" in error.value.errors[0].reason
    with pytest.raises(ImportRejected) as error:
        read_table(None, b"", "list.csv")
    assert error.value.errors[0].reason == "the file is empty"
    with pytest.raises(ImportRejected) as error:
        read_table(None, b"key,key\n1,2\n", "list.csv")
    assert error.value.errors[0].reason == "column name appears twice in the header"


# ---------------------------------------------------------------- rates roll-ups

person = st.fixed_dictionaries({
    "group": st.sampled_from(["ledere", "medarbejdere"]),
    "unit": st.sampled_from(["Horsens", "Vejle", "Kolding"]),
    "eligible": st.booleans(),
    "fate": st.sampled_from(["none", "complete", "partial"]),
    "applicable": st.integers(min_value=1, max_value=12),
    "share": st.floats(min_value=0, max_value=1),
})


@settings(max_examples=80, deadline=None)
@given(people=st.lists(person, min_size=1, max_size=40), threshold=st.sampled_from([0.5, 0.8, 1.0]))
def test_roll_ups_are_sums_of_their_cells(people, threshold):
    invitations, responses = [], []
    for p in people:
        invitations.append({"round_id": 1, "group": p["group"], "unit": p["unit"], "eligible": p["eligible"]})
        if p["fate"] != "none":
            answered = round(p["share"] * p["applicable"])
            responses.append({"round_id": 1, "group": p["group"], "unit": p["unit"],
                              "status": "complete" if p["fate"] == "complete" else "started",
                              "answered": answered, "applicable": p["applicable"]})
    rows = response_rates([{"id": 1, "name": "R", "partial_threshold": threshold}], invitations, responses, ("group", "unit"))
    cells = {(r["group"], r["unit"]): r for r in rows}
    # Every subset of the breakdown is there: the cells, both one-way roll-ups and the total.
    groups = {p["group"] for p in people}
    units = {p["unit"] for p in people}
    expected_keys = ({(g, u) for p in people for g, u in [(p["group"], p["unit"])]} | {(g, None) for g in groups}
                     | {(None, u) for u in units} | {(None, None)})
    assert set(cells) == expected_keys
    counts = ("invited", "ineligible", "started", "complete", "valid_partial", "responded")
    for key, row in cells.items():
        members = [(g, u) for (g, u) in cells if g is not None and u is not None
                   and (key[0] is None or g == key[0]) and (key[1] is None or u == key[1])]
        for name in counts:
            assert row[name] == sum(cells[m][name] for m in members), (key, name)
        assert row["rate"] == round(100 * row["responded"] / row["invited"], 2)
    # The total, counted straight from the list.
    total = cells[(None, None)]
    valid = sum(1 for r in responses if r["status"] != "complete" and r["answered"] / r["applicable"] >= threshold)
    assert total["valid_partial"] == valid
    assert total["complete"] == sum(1 for p in people if p["fate"] == "complete")
    assert total["invited"] == len(people) and total["ineligible"] == sum(not p["eligible"] for p in people)
    eligible = len(people) - total["ineligible"]
    if eligible:
        assert total["rr2"] == round(100 * total["responded"] / eligible, 2)
    else:
        assert total["rr1"] is None and total["rr2"] is None
