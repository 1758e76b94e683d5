"""Exports of answers (and of aggregated, suppressed tables) with a codebook.

Input is plain data from the query layer:
  rows: one dict per response (round, group, unit, [respondent_id — a pseudonym, see pseudonym() —
        or key with --identify], status, responded, submitted_at, attributes..., one column per item)
  variables: {item_id: {"name", "label", "type", "value_labels": {code: label}, "missing": [codes],
             "versions": [...], "reverse": bool}}
  rules: the rules the numbers were made with (partial threshold, minimum n, "Ved ikke",
         cut-off dates) — written into every codebook.

Layouts: "responses" (one row per response), "long" (one row per response and item),
"wide" (one row per panel member across rounds: columns r1_item, r2_item, ...).
Privacy of microdata: pseudonym() and protect_small_cells() (analysis.md "Small numbers and
anonymity").
Formats: csv (with FILE.codebook.csv beside it), xlsx (data + codebook + rules sheets),
sav (SPSS: variable labels, value labels, "Ved ikke" declared missing; rules in the file's
document note and FILE.codebook.csv).
"""
from __future__ import annotations

import csv
import hashlib
import hmac
import json
import re
import textwrap
from collections import defaultdict
from pathlib import Path

# The respondent id column: a pseudonym by default, the real panel key only on request.
PSEUDONYM = "respondent_id"
KEY = "key"
PSEUDONYM_LENGTH = 16   # hex characters of HMAC-SHA256 (64 bits)
FIXED = ("round", "round_id", "group", "unit", KEY, PSEUDONYM, "status", "responded", "submitted_at")
CODEBOOK_COLUMNS = ["variable", "label", "type", "values", "missing_codes", "item_versions", "reverse_keyed"]
FIXED_LABELS = {
    "round": "Runde", "round_id": "Rundens id", "group": "Respondentgruppe", "unit": "Enhed (kommune)",
    "key": "Panelnøgle (people.key, stabil på tværs af runder; eksporteret med --identify)",
    PSEUDONYM: "Pseudonym for respondenten (HMAC-SHA256 af panelnøglen under instansens hemmelige nøgle, "
               f"{PSEUDONYM_LENGTH} hex-tegn; stabil på tværs af runder og eksporter, ikke panelnøglen)",
    "status": "Status (complete/started)",
    "responded": "Besvarelse: complete / valid_partial / break_off (rundens tærskel for delvise)",
    "submitted_at": "Indsendt (dato)", "person": "Panelnøgle",
    "item": "Spørgsmålets variabelnavn (se kodebogen)", "value": "Svar (kode eller tekst)", "label": "Svarkodens tekst",
    "missing_code": "Svaret er en manglende-kode (fx Ved ikke)",
}


def document_lines(text: str, limit: int = 80) -> list[str]:
    """`text` wrapped into SPSS document lines of at most `limit` bytes of UTF-8 each (an 'ø' is
    two): a longer line makes pyreadstat refuse the whole file ('note is too long')."""
    lines = []
    for line in textwrap.wrap(text, limit):
        while len(line.encode("utf-8")) > limit:
            cut = limit
            while len(line[:cut].encode("utf-8")) > limit:
                cut -= 1
            space = line.rfind(" ", 0, cut + 1)
            cut = space if space > 0 else cut
            lines.append(line[:cut].rstrip())
            line = line[cut:].lstrip()
        lines.append(line)
    return lines

def pseudonym(secret: str, project: str, key: str, length: int = PSEUDONYM_LENGTH) -> str:
    """The export id of a panel member: a keyed hash (HMAC-SHA256 under the instance secret) of
    the project and the person's key, truncated. The same person gets the same id in every round
    and every export of the instance; without the secret it cannot be turned back into the key."""
    if not secret:
        raise ValueError("a pseudonymous export needs the instance secret key")
    return hmac.new(secret.encode(), f"export-person:{project}:{key}".encode(), hashlib.sha256).hexdigest()[:length]


def small_cells(counts: dict[tuple, int], present: set[tuple], min_n: int) -> set[tuple]:
    """The (round, group, unit) cells whose unit is blanked in microdata.

    counts: counted responses per cell (complete + valid partial, over the whole round);
    present: the cells that have rows in the export. A present cell with fewer than min_n counted
    responses is blanked. Where that leaves exactly one blanked unit in a round x group beside
    other units, the next-smallest present cell of the same round x group is blanked as well, so
    the blank rows are not simply "the one small unit" (the complement, as in the item tables)."""
    blank = {cell for cell in present if counts.get(cell, 0) < min_n}
    by_round_group: dict[tuple, list[tuple]] = defaultdict(list)
    for cell in present:
        by_round_group[cell[:2]].append(cell)
    for cells in by_round_group.values():
        hidden = [c for c in cells if c in blank]
        shown = sorted((c for c in cells if c not in blank), key=lambda c: (counts.get(c, 0), str(c[2])))
        if len(hidden) == 1 and shown:
            blank.add(shown[0])
    return blank


def protect_small_cells(rows: list[dict], counts: dict[tuple, int], min_n: int, personal: dict[tuple, bool],
                        free_text: list[str], attributes: list[str], id_column: str | None) -> dict:
    """Blank the unit, the free-text answers and the respondent attributes of the rows in small
    cells (see small_cells), in place. Rows of questionnaires that are not personal
    (personal[(round, group)] false: a unit answering for itself) are never touched. A person
    (id_column) with one blanked row has all their rows blanked, so a stable id cannot carry the
    unit over from another round. Returns {"rows": rows blanked, "cells": [(round, group, unit)]}."""
    def cell(row):
        return (row["round"], row["group"], row.get("unit") or "")

    # Rows without a unit form the round x group's unit-less cell: its free text and attributes
    # are protected the same way.
    considered = [r for r in rows if personal.get((r["round"], r["group"]), True)]
    blank = small_cells(counts, {cell(r) for r in considered}, min_n)
    hit = [r for r in considered if cell(r) in blank]
    if id_column:
        people = {r.get(id_column) for r in hit if r.get(id_column) not in (None, "")}
        seen = {id(r) for r in hit}
        hit += [r for r in considered if id(r) not in seen and r.get(id_column) in people]
    for row in hit:
        row["unit"] = ""
        for name in list(free_text) + list(attributes):
            if name in row:
                row[name] = None
    return {"rows": len(hit), "cells": sorted(blank, key=lambda c: tuple(str(x) for x in c))}


def _numeric(var: dict) -> bool:
    return var["type"] in ("scale", "single", "number")


def long_rows(rows: list[dict], variables: dict[str, dict]) -> list[dict]:
    """One row per response and answered item: value (code or text) and its label."""
    out = []
    for row in rows:
        base = {k: row[k] for k in FIXED if k in row}
        for name, var in variables.items():
            value = row.get(name)
            if value in (None, ""):
                continue
            label = var["value_labels"].get(value) if isinstance(value, (int, float)) else None
            out.append({**base, "item": name, "value": value, "label": label,
                        "missing_code": bool(isinstance(value, (int, float)) and value in var["missing"])})
    return out


def wide_rows(rows: list[dict], variables: dict[str, dict], rounds: list[str],
              id_column: str = PSEUDONYM) -> tuple[list[dict], dict[str, dict]]:
    """One row per panel member across rounds; item columns prefixed r1_, r2_, … in round order.
    id_column is the pseudonym (default) or the panel key. Returns (rows, variables of the wide
    file). Refuses rows without an id."""
    if any(r.get(id_column) in (None, "") for r in rows):
        raise ValueError("a wide export across rounds needs the panel key; anonymous rounds have none")
    index = {name: i + 1 for i, name in enumerate(rounds)}
    people: dict[str, dict] = {}
    wide_vars: dict[str, dict] = {}
    per_round = [k for k in ("group", "unit", "status", "responded", "submitted_at")]
    for row in rows:
        prefix = f"r{index[row['round']]}_"
        person = people.setdefault(row[id_column], {id_column: row[id_column]})
        for k in per_round:
            person[prefix + k] = row.get(k)
        for name in variables:
            if row.get(name) not in (None, ""):
                person[prefix + name] = row[name]
    for name_round, i in index.items():
        for k in per_round:
            wide_vars[f"r{i}_{k}"] = {"name": f"r{i}_{k}", "label": f"{name_round}: {FIXED_LABELS.get(k, k)}", "type": "text",
                                      "value_labels": {}, "missing": []}
        for name, var in variables.items():
            wide_vars[f"r{i}_{name}"] = {**var, "name": f"r{i}_{name}", "label": f"{name_round}: {var['label']}"}
    columns = [id_column] + list(wide_vars)
    return [{c: p.get(c) for c in columns} for p in people.values()], wide_vars


def codebook_rows(variables: dict[str, dict], columns: list[str]) -> list[dict]:
    out = []
    for column in columns:
        var = variables.get(column)
        if var is None:
            out.append({"variable": column, "label": FIXED_LABELS.get(column, column), "type": "text", "values": "",
                        "missing_codes": "", "item_versions": "", "reverse_keyed": ""})
            continue
        out.append({"variable": column, "label": var["label"], "type": var["type"],
                    "values": "; ".join(f"{c} = {label}" for c, label in sorted(var["value_labels"].items())),
                    "missing_codes": ", ".join(str(c) for c in var["missing"]),
                    "item_versions": ", ".join(str(v) for v in var.get("versions", [])),
                    "reverse_keyed": "ja" if var.get("reverse") else ""})
    return out


def rules_rows(rules: dict) -> list[dict]:
    out = []
    for key, value in rules.items():
        if key == "rounds":
            for r in value:
                out.append({"rule": f"round {r['round']}", "value": f"opens {r.get('opens') or '-'}, closes (cut-off) {r.get('closes') or '-'}, "
                                                                    f"partial threshold {r['partial_threshold']}, anonymous {r['anonymous']}"})
        else:
            out.append({"rule": key, "value": value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)})
    return out


def _write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(row.get(k)) for k in columns})


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value


def append_as_text(ws, values: list) -> None:
    """Append a row to an openpyxl sheet with every text stored as text. openpyxl stores a string
    that starts with '=' as a formula and one such as '#N/A' as an error, so a free-text answer
    such as '=HYPERLINK(...)' would run in the evaluator's Excel; marked as text it shows exactly
    what the respondent wrote. A control character that XML cannot hold (a vertical tab pasted
    from Word, say) would make openpyxl refuse the whole file; it is shown as U+FFFD instead."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    values = [ILLEGAL_CHARACTERS_RE.sub("\ufffd", v) if isinstance(v, str) else v for v in values]
    ws.append(values)
    if any(isinstance(v, str) and v.startswith(("=", "#")) for v in values):
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"


def columns_of(rows: list[dict], variables: dict[str, dict]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows[:1] or [{}]:
        for k in row:
            seen.setdefault(k)
    for name in variables:
        seen.setdefault(name)
    return list(seen)


def write(path: str | Path, fmt: str, rows: list[dict], variables: dict[str, dict], rules: dict,
          columns: list[str] | None = None, sheet: str = "data") -> list[Path]:
    """Write rows in csv/xlsx/sav with the codebook and rules; returns the files written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.open("ab").close()  # a path that cannot be written is an OSError naming it now (pyreadstat's names no file)
    columns = columns or columns_of(rows, variables)
    # Variables that are not columns (the items of a long file, named in its `item` column) are
    # described in the codebook too.
    book = codebook_rows(variables, columns) + codebook_rows(variables, [v for v in variables if v not in columns])
    rules_table = rules_rows(rules)
    if fmt == "csv":
        _write_csv(path, rows, columns)
        return [path, _write_codebook_csv(path, book, rules_table)]
    if fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.title = sheet
        append_as_text(ws, columns)
        for row in rows:
            append_as_text(ws, [_cell(row.get(c)) for c in columns])
        cb = wb.create_sheet("codebook")
        append_as_text(cb, CODEBOOK_COLUMNS)
        for r in book:
            append_as_text(cb, [r.get(c) for c in CODEBOOK_COLUMNS])
        rs = wb.create_sheet("rules")
        append_as_text(rs, ["rule", "value"])
        for r in rules_table:
            append_as_text(rs, [r["rule"], r["value"]])
        wb.save(path)
        return [path]
    if fmt == "sav":
        _write_sav(path, rows, variables, columns, rules_table)
        return [path, _write_codebook_csv(path, book, rules_table)]
    raise ValueError(f"unknown export format '{fmt}' (csv, xlsx or sav)")


def _write_codebook_csv(path: Path, book: list[dict], rules_table: list[dict]) -> Path:
    """FILE.codebook.csv beside the data file: the codebook, then the rules as '[regel] ...' lines."""
    side = path.with_name(path.stem + ".codebook.csv")
    _write_csv(side, book + [{"variable": f"[regel] {r['rule']}", "label": r["value"]} for r in rules_table], CODEBOOK_COLUMNS)
    return side


def spss_name(name: str, taken: set[str]) -> str:
    """A valid, unique SPSS variable name (letters first, <= 64 bytes, no reserved words)."""
    clean = re.sub(r"[^A-Za-z0-9_]", "_", name) or "v"
    if not clean[0].isalpha():
        clean = "v_" + clean
    if clean.upper() in {"ALL", "AND", "BY", "EQ", "GE", "GT", "LE", "LT", "NE", "NOT", "OR", "TO", "WITH"}:
        clean += "_"
    clean = clean[:64]
    base, n = clean, 1
    while clean.lower() in taken:
        n += 1
        clean = f"{base[:60]}_{n}"
    taken.add(clean.lower())
    return clean


def _write_sav(path: Path, rows: list[dict], variables: dict[str, dict], columns: list[str], rules_table: list[dict]) -> None:
    import pandas as pd
    import pyreadstat

    taken: set[str] = set()
    names = {c: spss_name(c, taken) for c in columns}
    data = {}
    labels, value_labels, missing_ranges, measures = {}, {}, {}, {}
    for c in columns:
        var = variables.get(c)
        values = [row.get(c) for row in rows]
        if var is not None and _numeric(var):
            data[names[c]] = pd.to_numeric(pd.Series(values, dtype="object"), errors="coerce").astype("float64")
            if var["value_labels"]:
                value_labels[names[c]] = {float(k): str(v) for k, v in var["value_labels"].items()}
            if var["missing"]:
                missing_ranges[names[c]] = [float(m) for m in var["missing"][:3]]
            measures[names[c]] = "ordinal" if var["type"] == "scale" else ("scale" if var["type"] == "number" else "nominal")
        elif c == "round_id":
            data[names[c]] = pd.Series(values, dtype="float64")
        else:
            data[names[c]] = pd.Series(["" if v is None else (json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else str(v))
                                        for v in values], dtype="object")
        labels[names[c]] = (var["label"] if var else FIXED_LABELS.get(c, c))[:255]
    frame = pd.DataFrame(data, columns=[names[c] for c in columns])
    note = [line for r in rules_table for line in document_lines(f"{r['rule']}: {r['value']}")]
    pyreadstat.write_sav(frame, str(path), column_labels=[labels[names[c]] for c in columns], variable_value_labels=value_labels,
                         missing_ranges=missing_ranges, variable_measure=measures or None, note=note,
                         file_label="surveyapp export")
