"""Damaged and unusual import files: each is read correctly or refused as a whole with a reason
(ImportRejected), never a crash, a hang or a silently wrong list. The cases come from feeding
tabular.read_table broken archives, XML and CSV (each raised something else, or read wrongly,
before)."""
from __future__ import annotations

import io
import re
import zipfile

import openpyxl
import pytest

from surveyapp.errors import ImportRejected
from surveyapp.tabular import read_table

SHEET = "xl/worksheets/sheet1.xml"


def _workbook() -> bytes:
    book = openpyxl.Workbook()
    for row in (["key", "name"], ["a1", "Ida"], ["a2", "Jens"]):
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _members(data: bytes) -> dict[str, bytes]:
    archive = zipfile.ZipFile(io.BytesIO(data))
    return {name: archive.read(name) for name in archive.namelist()}


def _zip(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


def _changed(member: str, change) -> bytes:
    members = _members(_workbook())
    members[member] = change(members[member])
    return _zip(members)


def _sheet(rows_xml: str, dimension: str | None = None) -> bytes:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    xml = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           f'{dim}<sheetData>{rows_xml}</sheetData></worksheet>')
    return _changed(SHEET, lambda _: xml.encode())


def _text(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def _row(n: int, *cells: str) -> str:
    return f'<row r="{n}">' + "".join(cells) + "</row>"


HEADER = _row(1, _text("A1", "key"), _text("B1", "name"))


def _flag_encrypted(data: bytes) -> bytes:
    raw = bytearray(data)
    at = raw.find(b"PK\x01\x02")
    while at != -1:
        raw[at + 8] |= 1  # general purpose flag bit 0 in the central directory: encrypted
        at = raw.find(b"PK\x01\x02", at + 4)
    return bytes(raw)


def _method(data: bytes, method: int) -> bytes:
    raw = bytearray(_zip(_members(data), zipfile.ZIP_STORED))
    for info in zipfile.ZipFile(io.BytesIO(bytes(raw))).infolist():
        raw[info.header_offset + 8] = method
    at = raw.find(b"PK\x01\x02")
    while at != -1:
        raw[at + 10] = method
        at = raw.find(b"PK\x01\x02", at + 4)
    return bytes(raw)


def _damaged_deflate(data: bytes) -> bytes:
    raw = bytearray(data)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(SHEET)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 5, start + 25):
        raw[i] ^= 0xFF
    return bytes(raw)


REFUSED = {
    "no worksheet": (_changed("xl/workbook.xml", lambda x: re.sub(rb"<sheets>.*</sheets>", b"<sheets/>", x)),
                     "the workbook has no worksheet"),
    "a shared string that is not there": (_sheet(HEADER + _row(2, '<c r="A2" t="s"><v>99</v></c>')), "not a readable XLSX file"),
    "a sheet id that is not a number": (_changed("xl/workbook.xml", lambda x: re.sub(rb'sheetId="\d+"', b'sheetId="abc"', x)),
                                        "not a readable XLSX file"),
    "damaged compressed data": (_damaged_deflate(_workbook()), "not a readable XLSX file"),
    "an unsupported compression method": (_method(_workbook(), 99), "not a readable XLSX file"),
    "an encrypted zip": (_flag_encrypted(_workbook()), "not a readable XLSX file"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_damaged_workbook_is_refused_with_a_reason(case):
    data, reason = REFUSED[case]
    with pytest.raises(ImportRejected) as refused:
        read_table(None, data=data, filename="liste.xlsx")
    assert reason in refused.value.errors[0].reason


def test_the_rows_that_are_there_are_read_whatever_size_the_sheet_declares():
    # declared A1:B2 but four rows (Excel trusts the rows, so must we) ...
    small = _sheet(HEADER + "".join(_row(n, _text(f"A{n}", f"a{n}")) for n in (2, 3, 4)), dimension="A1:B2")
    assert [line for line, _ in read_table(None, data=small, filename="l.xlsx")[1]] == [2, 3, 4]
    # ... and declared as the whole sheet with one row at the very bottom: read (not padded to 16,384 columns)
    big = _sheet(HEADER + _row(1048576, _text("A1048576", "last")), dimension="A1:XFD1048576")
    header, rows = read_table(None, data=big, filename="l.xlsx")
    assert header == ["key", "name"] and rows == [(1048576, {"key": "last", "name": ""})]


CSV_REFUSED = {
    "a quote left open swallows the rest": ('key,name\na1,"Ida\na2,Jens\na3,Kim\n', 4, "unexpected end of data"),
    "data separated by the other delimiter": ("key;name\na1,Ida\na2,Jens\n", 2, "the line is separated by ',' but the header by ';'"),
    "a NUL character": ("key,name\na1,I\x00da\n", 2, "a NUL character"),
    "two files joined": ("key,name\na1,Ida\n\ufeffkey,name\na2,Jens\n", 3, "a byte-order mark inside the file"),
    "only a byte-order mark": ("\ufeff\n", 1, "the file is empty"),
}


@pytest.mark.parametrize("case", sorted(CSV_REFUSED))
def test_a_csv_that_would_be_read_wrongly_is_refused_with_its_line(case):
    text, line, reason = CSV_REFUSED[case]
    with pytest.raises(ImportRejected) as refused:
        read_table(None, data=text.encode("utf-8"), filename="liste.csv")
    first = refused.value.errors[0]
    assert (first.line, reason in first.reason) == (line, True), first


def test_a_utf16_csv_with_its_byte_order_mark_is_read():
    data = "key;name\na1;Bøb\n".encode("utf-16")  # what Excel's "Unicode text" starts with
    assert read_table(None, data=data, filename="liste.csv") == (["key", "name"], [(2, {"key": "a1", "name": "Bøb"})])


def test_excel_error_values_are_refused_with_their_line_and_column():
    data = _sheet(HEADER + _row(2, _text("A2", "a1"), _text("B2", "Ida"))
                  + _row(3, '<c r="A3" t="e"><v>#N/A</v></c>', '<c r="B3" t="e"><v>#DIV/0!</v></c>'))
    with pytest.raises(ImportRejected) as refused:
        read_table(None, data=data, filename="liste.xlsx")
    assert [(e.line, e.column, e.reason) for e in refused.value.errors] == [
        (3, "key", "an Excel error value (#N/A): correct the cell in the spreadsheet"),
        (3, "name", "an Excel error value (#DIV/0!): correct the cell in the spreadsheet")]
