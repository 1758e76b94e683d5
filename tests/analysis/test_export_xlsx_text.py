"""The XLSX data export keeps formula-like answers as text: a respondent's '=...' never becomes a
live formula in the evaluator's Excel (nor '#N/A' an error value), and the text is exactly what
was answered."""
from __future__ import annotations

import zipfile

import openpyxl

from analysis import export

ANSWERS = ['=HYPERLINK("http://example.org","klik")', "=1+1", "+45 1234", "-ikke relevant", "#N/A", "#VALUE!",
           "almindeligt svar"]


def test_formula_like_answers_are_stored_as_text_cells(tmp_path):
    rows = [{"respondent": f"r{n}", "kommentar": text} for n, text in enumerate(ANSWERS)]
    variables = {"kommentar": {"label": "=Kommentar", "type": "text", "value_labels": {}, "missing": []}}
    path = export.write(tmp_path / "data.xlsx", "xlsx", rows, variables, {"min_n": 5})[0]

    with zipfile.ZipFile(path) as archive:
        sheets = [archive.read(n).decode() for n in archive.namelist() if n.startswith("xl/worksheets/")]
    assert sheets and not any("<f>" in sheet for sheet in sheets)  # no formula anywhere in the workbook
    assert not any('t="e"' in sheet for sheet in sheets)  # and no error value

    book = openpyxl.load_workbook(path)
    data = book["data"]
    assert [c.value for c in data[1]] == ["respondent", "kommentar"]
    read_back = [row[1] for row in data.iter_rows(min_row=2, values_only=True)]
    assert read_back == ANSWERS  # the very text answered, nothing added or removed
    assert all(row[1].data_type == "s" for row in data.iter_rows(min_row=2))
    labels = [row for row in book["codebook"].iter_rows(values_only=True) if "kommentar" in row]
    assert labels and "=Kommentar" in labels[0]


def test_control_characters_xml_cannot_hold_are_shown_as_replacement_marks(tmp_path):
    """A vertical tab (Word's line break when pasted), a NUL or an ESC in a text made openpyxl
    refuse the whole workbook; each becomes U+FFFD and the rest of the text is kept."""
    texts = ["før\x0befter", "a\x00b", "\x1b[31mrød", "tab\tog\nlinje"]  # tab and newline are allowed in XML
    rows = [{"respondent": f"r{n}", "kommentar\x07": text} for n, text in enumerate(texts)]
    path = export.write(tmp_path / "data.xlsx", "xlsx", rows, {}, {"min_n": 5})[0]

    data = openpyxl.load_workbook(path)["data"]
    assert [c.value for c in data[1]] == ["respondent", "kommentar\ufffd"]
    assert [row[1] for row in data.iter_rows(min_row=2, values_only=True)] == [
        "før\ufffdefter", "a\ufffdb", "\ufffd[31mrød", "tab\tog\nlinje"]
