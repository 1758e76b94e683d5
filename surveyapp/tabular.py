"""CSV and XLSX: reading import files as rows with their line numbers, and writing downloads."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from .errors import ImportRejected, RowError

MAX_ROWS = 200_000
# What a workbook cell holds when its formula failed (openpyxl gives these as text).
EXCEL_ERRORS = frozenset({"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA"})


def read_table(path: str | Path, data: bytes | None = None, filename: str | None = None) -> tuple[list[str], list[tuple[int, dict]]]:
    """(header, [(line, {column: text})]) from a CSV (comma or semicolon) or XLSX file.

    Lines are numbered as a spreadsheet shows them (the header is line 1). Empty rows are skipped.
    """
    name = filename or str(path)
    if data is None:
        data = Path(path).read_bytes()
    if name.lower().endswith(".xls") or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise ImportRejected(name, [RowError(1, "-", "an old Excel .xls file: save it as .xlsx or CSV first")])
    # XLSX is a zip archive; a CSV whose first column happens to start with "PK" is still a CSV.
    if name.lower().endswith((".xlsx", ".xlsm")) or data[:4] == b"PK\x03\x04":
        return _read_xlsx(name, data)
    return _read_csv(name, data)


def _read_csv(name: str, data: bytes) -> tuple[list[str], list[tuple[int, dict]]]:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # Excel's "Unicode text" is UTF-16 with a byte-order mark
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise ImportRejected(name, [RowError(1, "-", "the file is neither UTF-8 nor Windows-1252 text")]) from None
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1252")  # Danish Excel saves CSV in Windows-1252
            except UnicodeDecodeError:
                raise ImportRejected(name, [RowError(1, "-", "the file is neither UTF-8 nor Windows-1252 text")]) from None
    for character, problem in (("\x00", "a NUL character: is this a text file in UTF-8 or Windows-1252?"),
                               ("\ufeff", "a byte-order mark inside the file: were two files joined?")):
        if character in text:  # line numbers as a spreadsheet counts them (a quoted cell may span lines, close enough)
            line = text.count("\n", 0, text.index(character)) + 1
            raise ImportRejected(name, [RowError(line, "-", problem)])
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    other = "," if delimiter == ";" else ";"
    # strict: a quote left open swallows the rest of the file into one cell; refuse it instead
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ImportRejected(name, [RowError(1, "-", "the file is empty")]) from None
    except csv.Error as error:
        raise ImportRejected(name, [RowError(1, "-", f"not a readable CSV file: {error}")]) from None
    if not any(header):
        raise ImportRejected(name, [RowError(1, "-", "the file is empty")])
    rows, errors = [], []
    end = reader.line_num
    try:
        for cells in reader:
            # A quoted cell may span lines: the record starts on the line after the last one ended.
            line, end = end + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(header):
                errors.append(RowError(line, "-", f"{len(cells)} cells but the header has {len(header)} columns"))
                continue
            if len(cells) == 1 and len(header) > 1 and other in cells[0]:
                errors.append(RowError(line, "-", f"the line is separated by '{other}' but the header by '{delimiter}'"))
                continue
            rows.append((line, {h: (cells[i].strip() if i < len(cells) else "") for i, h in enumerate(header)}))
            if len(rows) > MAX_ROWS:
                raise ImportRejected(name, [RowError(line, "-", f"more than {MAX_ROWS} rows")])
    except csv.Error as error:
        errors.append(RowError(reader.line_num, "-", f"not a readable CSV row: {error}"))
    if errors:
        raise ImportRejected(name, errors)
    _check_header(name, header)
    return header, rows


def _read_xlsx(name: str, data: bytes) -> tuple[list[str], list[tuple[int, dict]]]:
    import openpyxl
    import zipfile
    import zlib
    from xml.etree.ElementTree import ParseError

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            return _xlsx_table(name, book)  # read-only mode parses the sheet's XML while reading its rows
        finally:
            book.close()
    # What openpyxl and zipfile raise on a damaged or unusual workbook (found by feeding it broken
    # archives and XML): a damaged member, an unsupported or encrypted zip, attributes of the wrong
    # type, a shared string that is not there.
    except (zipfile.BadZipFile, zlib.error, KeyError, IndexError, TypeError, ValueError, OSError, ParseError,
            NotImplementedError, RuntimeError) as error:
        raise ImportRejected(name, [RowError(1, "-", f"not a readable XLSX file: {error}")]) from None


def _xlsx_table(name: str, book) -> tuple[list[str], list[tuple[int, dict]]]:
    if not book.worksheets:
        raise ImportRejected(name, [RowError(1, "-", "the workbook has no worksheet")])
    sheet = book.worksheets[0]
    # Read the rows that are there, not the size the file declares: a wrong <dimension> would
    # otherwise drop rows beyond it, or pad every row to 16,384 columns (minutes per upload).
    sheet.reset_dimensions()
    rows_iter = sheet.iter_rows(values_only=True)
    try:
        header = [("" if h is None else str(h)).strip() for h in next(rows_iter)]
    except StopIteration:
        raise ImportRejected(name, [RowError(1, "-", "the sheet is empty")]) from None
    while header and header[-1] == "":
        header.pop()
    rows, errors = [], []
    for line, cells in enumerate(rows_iter, start=2):
        values = ["" if c is None else _cell_text(c) for c in cells]
        if not any(values):
            continue
        if any(values[len(header):]):
            errors.append(RowError(line, "-", f"a value in column {len(header) + 1 + next(i for i, v in enumerate(values[len(header):]) if v)}, "
                                              f"which has no name in the header"))
            continue
        failed = [(header[i], v) for i, v in enumerate(values[:len(header)]) if v in EXCEL_ERRORS]
        if failed:  # a formula that failed: its value is not data (Excel turns a typed '#N/A' into this too)
            errors.extend(RowError(line, column, f"an Excel error value ({value}): correct the cell in the spreadsheet")
                          for column, value in failed)
            continue
        rows.append((line, {h: (values[i] if i < len(values) else "") for i, h in enumerate(header)}))
        if len(rows) > MAX_ROWS:
            raise ImportRejected(name, [RowError(line, "-", f"more than {MAX_ROWS} rows")])
    if errors:
        raise ImportRejected(name, errors)
    _check_header(name, header)
    return header, rows


def _cell_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10] if getattr(value, "hour", 0) == 0 else value.isoformat()
    return str(value).strip()


def _check_header(name: str, header: list[str]) -> None:
    errors = []
    seen = set()
    for index, column in enumerate(header, start=1):
        if not column:
            errors.append(RowError(1, f"#{index}", "empty column name in the header"))
        elif column.casefold() in seen:
            errors.append(RowError(1, column, "column name appears twice in the header"))
        seen.add(column.casefold())
    if errors:
        raise ImportRejected(name, errors)


def spreadsheet_safe(value):
    """A value safe to open in a spreadsheet: text that would start a formula gets a leading
    apostrophe (unit names and free text come from uploaded lists and respondents)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def write_csv(rows: list[dict], columns: list[str], rules: list[str] = ()) -> str:
    """A download CSV: the rules in force as leading '# ' lines (pandas: read_csv(..., comment='#')),
    then the table, with formula-like text neutralised."""
    buffer = io.StringIO()
    for rule in rules:
        buffer.write(f"# {rule}\n")
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else spreadsheet_safe(row.get(k))) for k in columns})
    return buffer.getvalue()
