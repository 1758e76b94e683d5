"""Uploading a respondent list in the console: preview first (every bad row flagged, nothing
stored), then confirm; a bad file stores nothing at all."""
from __future__ import annotations

import io
import re
from pathlib import Path

import openpyxl

from surveyapp import rounds

from console_helpers import round_id_of

GOOD_CSV = (
    "key;email;name;group;unit;anciennitet\n"
    "hor-10;ida@horsens.example;Ida Juhl;ledere;Horsens;3-5 år\n"
    "hor-11;jens@horsens.example;Jens Kock;medarbejdere;Horsens;0-2 år\n"
    "kol-10;kim@kolding.example;Kim Lund;medarbejdere;Kolding;6+ år\n"
).encode("utf-8")

# Lines as a spreadsheet numbers them (header = 1): 3 bad e-mail, 5 unknown group,
# 6 repeats line 2's key, 7 is already on the round's list, 8 has neither key nor e-mail.
BAD_CSV = (
    "key,email,name,group,unit\n"
    "hor-20,ok@horsens.example,Ok Person,ledere,Horsens\n"
    "hor-21,not-an-address,Bad Mail,ledere,Horsens\n"
    "hor-22,fine@horsens.example,Fine,medarbejdere,Horsens\n"
    "hor-23,x@horsens.example,Wrong Group,borgere,Horsens\n"
    "hor-20,twice@horsens.example,Twice,ledere,Horsens\n"
    "hor-1,anne2@horsens.example,Already There,ledere,Horsens\n"
    ",,Nobody,ledere,Horsens\n"
).encode("utf-8")
BAD_LINES = {3, 5, 6, 7, 8}


def counts(db) -> tuple[int, int]:
    return (db.execute("SELECT COUNT(*) FROM invitations").fetchone()[0], db.execute("SELECT COUNT(*) FROM people").fetchone()[0])


def post_file(client, round_id: int, data: bytes, name: str):
    return client.post(f"/console/rounds/{round_id}/upload", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def flagged_lines(html: str) -> set[int]:
    return {int(n) for n in re.findall(r'<tr class="bad" data-line="(\d+)">', html)}


def xlsx_bytes(rows: list[list]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def uploads(db_path: Path) -> list[Path]:
    folder = db_path.parent / "uploads"
    return sorted(folder.glob("*.upload")) if folder.exists() else []


def test_good_csv_preview_stores_nothing_then_confirm_adds_everyone(cdb, as_user, console_db_path):
    round_id = round_id_of(cdb)
    before = counts(cdb)
    admin = as_user("boss")
    preview = post_file(admin, round_id, GOOD_CSV, "liste.csv")
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "3 respondenter er klar til at blive tilføjet" in html
    assert "Ida Juhl" in html and "anciennitet: 3-5 år" in html
    assert counts(cdb) == before  # the preview stored nothing
    upload_id = re.search(r'name="upload_id" value="([^"]+)"', html).group(1)
    assert len(uploads(console_db_path)) == 1

    # Another session cannot confirm this upload, even knowing its id.
    stranger = as_user("boss")
    refused = stranger.post(f"/console/rounds/{round_id}/upload/confirm", data={"upload_id": upload_id, "action": "confirm"})
    assert refused.status_code == 302 and counts(cdb) == before

    confirmed = admin.post(f"/console/rounds/{round_id}/upload/confirm", data={"upload_id": upload_id, "action": "confirm"})
    assert confirmed.status_code == 302 and confirmed.headers["Location"].endswith(f"/console/rounds/{round_id}/respondents")
    assert counts(cdb) == (before[0] + 3, before[1] + 3)
    row = cdb.execute("SELECT i.group_name, i.unit, i.attributes, p.name FROM invitations i JOIN people p ON p.id = i.person_id "
                      "WHERE p.key = 'hor-11'").fetchone()
    assert tuple(row) == ("medarbejdere", "Horsens", '{"anciennitet": "0-2 år"}', "Jens Kock")
    entry = cdb.execute("SELECT actor, details FROM audit_log WHERE action = 'respondents.imported'").fetchone()
    assert entry["actor"] == "boss" and '"rows": 3' in entry["details"] and "liste.csv" in entry["details"]
    assert uploads(console_db_path) == []  # the temporary file is gone
    # Confirming the same upload again adds nobody twice.
    again = admin.post(f"/console/rounds/{round_id}/upload/confirm", data={"upload_id": upload_id, "action": "confirm"})
    assert again.status_code == 302 and counts(cdb) == (before[0] + 3, before[1] + 3)


def test_bad_csv_flags_every_bad_row_and_stores_nothing(cdb, as_user, console_db_path):
    round_id = round_id_of(cdb)
    before = counts(cdb)
    response = post_file(as_user("boss"), round_id, BAD_CSV, "fejl.csv")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert flagged_lines(html) == BAD_LINES
    assert "Intet er gemt" in html
    for reason in ("'not-an-address' er ikke en e-mailadresse", "ukendt gruppe 'borgere' (runden har ledere, medarbejdere)",
                   "'hor-20' står to gange i filen (første gang i linje 2)", "'hor-1' er allerede på rundens liste",
                   "hverken nøgle (key) eller e-mail er udfyldt"):
        assert reason in html.replace("&#39;", "'"), reason
    assert 'name="upload_id"' not in html  # nothing to confirm
    assert counts(cdb) == before and uploads(console_db_path) == []
    assert not cdb.execute("SELECT 1 FROM audit_log WHERE action = 'respondents.imported'").fetchone()


def test_xlsx_good_and_bad(cdb, as_user):
    round_id = round_id_of(cdb)
    admin = as_user("boss")
    before = counts(cdb)
    bad = xlsx_bytes([["key", "email", "group", "unit", "language"],
                      ["hor-30", "a@horsens.example", "ledere", "Horsens", "da"],
                      ["hor-31", "b@horsens.example", "ledere", "Horsens", "fr"],
                      ["hor-32", "c@@horsens", "ledere", "Horsens", "en"]])
    response = post_file(admin, round_id, bad, "liste.xlsx")
    assert response.status_code == 422 and flagged_lines(response.get_data(as_text=True)) == {3, 4}
    assert counts(cdb) == before
    good = xlsx_bytes([["key", "email", "group", "unit"], ["hor-30", "a@horsens.example", "ledere", "Horsens"],
                       ["hor-31", "b@horsens.example", "medarbejdere", "Horsens"]])
    preview = post_file(admin, round_id, good, "liste.xlsx")
    assert preview.status_code == 200 and counts(cdb) == before
    upload_id = re.search(r'name="upload_id" value="([^"]+)"', preview.get_data(as_text=True)).group(1)
    admin.post(f"/console/rounds/{round_id}/upload/confirm", data={"upload_id": upload_id, "action": "confirm"})
    assert counts(cdb) == (before[0] + 2, before[1] + 2)


def test_cancel_stores_nothing_and_removes_the_file(cdb, as_user, console_db_path):
    round_id = round_id_of(cdb)
    admin = as_user("boss")
    before = counts(cdb)
    preview = post_file(admin, round_id, GOOD_CSV, "liste.csv")
    upload_id = re.search(r'name="upload_id" value="([^"]+)"', preview.get_data(as_text=True)).group(1)
    admin.post(f"/console/rounds/{round_id}/upload/confirm", data={"upload_id": upload_id, "action": "cancel"})
    assert counts(cdb) == before and uploads(console_db_path) == []


def test_unit_lead_cannot_upload_people_of_other_units(cdb, as_user):
    round_id = round_id_of(cdb)
    before = counts(cdb)
    response = post_file(as_user("lead"), round_id, GOOD_CSV, "liste.csv")
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and flagged_lines(html) == {4}  # the Kolding row
    assert "'Kolding' er ikke en af dine enheder (Horsens)" in html.replace("&#39;", "'")
    assert counts(cdb) == before


def test_unreadable_file_and_closed_round(cdb, as_user):
    round_id = round_id_of(cdb)
    admin = as_user("boss")
    before = counts(cdb)
    empty = post_file(admin, round_id, b"", "tom.csv")
    assert empty.status_code == 422 and "filen er tom" in empty.get_data(as_text=True)
    garbage = post_file(admin, round_id, b"PK\x03\x04 not really a workbook", "liste.xlsx")
    assert garbage.status_code == 422
    rounds.close_round(cdb, round_id, actor="test")
    closed = post_file(admin, round_id, GOOD_CSV, "liste.csv")
    assert closed.status_code == 302
    assert "lukket" in admin.get(closed.headers["Location"]).get_data(as_text=True)
    assert counts(cdb) == before


def test_a_file_that_cannot_be_read_is_refused_in_danish(cdb, as_user):
    round_id = round_id_of(cdb)
    admin = as_user("boss")
    before = counts(cdb)
    cases = [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64, "liste.xls", "en gammel Excel-fil (.xls): gem den som .xlsx eller CSV først"),
        ("key;email;group;unit\nhor-40;a@horsens.example;ledere;Horsens;x;y\n".encode(), "liste.csv",
         "6 celler, men overskriften har 4 kolonner"),
        ("key;email;key\nhor-41;b@horsens.example;x\n".encode(), "liste.csv", "kolonnenavnet står to gange i overskriften"),
        ("key;email;group;unit\nhor-44,e@horsens.example,ledere,Horsens\n".encode(), "liste.csv",
         "linjen er adskilt med &#39;,&#39;, men overskriften med &#39;;&#39;"),
        (xlsx_bytes([["key", "email", "group", "unit"], ["hor-42", "c@horsens.example", "ledere", "Horsens", "x"]]),
         "liste.xlsx", "en værdi i kolonne 5, som ikke har et navn i overskriften"),
    ]
    # an XLSX whose sheet XML is cut off (read-only openpyxl parses it while reading the rows), and one
    # whose workbook openpyxl refuses with a message of several lines
    cases += [(_xlsx_with(lambda member, xml: xml[:-30] if member == "xl/worksheets/sheet1.xml" else xml),
               "liste.xlsx", "ikke en læsbar XLSX-fil"),
              (_xlsx_with(lambda member, xml: xml.replace(b'state="visible"', b'state="weird"')
                          if member == "xl/workbook.xml" else xml), "liste.xlsx", "ikke en læsbar XLSX-fil: Unable")]
    for data, name, danish in cases:
        response = post_file(admin, round_id, data, name)
        page = response.get_data(as_text=True)
        assert response.status_code == 422, name
        assert danish in page, (name, re.findall(r'<tr class="bad".*?</tr>', page, re.S)[:2])
    assert counts(cdb) == before


def _xlsx_with(change) -> bytes:
    """A valid respondent XLSX with change(member name, bytes) applied to each member of the archive."""
    import zipfile

    good = zipfile.ZipFile(io.BytesIO(xlsx_bytes([["key", "email", "group", "unit"],
                                                  ["hor-43", "d@horsens.example", "ledere", "Horsens"]])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for member in good.namelist():
            archive.writestr(member, change(member, good.read(member)))
    return out.getvalue()
