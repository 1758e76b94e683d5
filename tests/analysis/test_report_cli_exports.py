"""`surveyapp report items|indices|paired`, `export` and `figures` through the real command line,
on a real SQLite file: JSON shapes of interface.md, exports read back, figure files."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner

from surveyapp.cli import main

from report_testdata import LEADS, ROUND1, ROUND2, STAFF


def run(db_path, *args):
    result = CliRunner().invoke(main, ["--db", str(db_path), *args], catch_exceptions=False)
    return result


def test_report_items_json_shape(report_db, db_path):
    result = run(db_path, "report", "items", "--project", "eval", "--by", "group", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    for row in rows:
        for key in ("round", "item", "n", "n_valid", "mean", "sd", "ci_low", "ci_high", "shares", "suppressed"):
            assert key in row
        assert "group" in row                                       # null on the totals
    q1 = [r for r in rows if r["item"] == "q1" and r["round"] == ROUND1]
    assert {r["group"] for r in q1} == {"medarbejdere", None}
    staff = next(r for r in q1 if r["group"] == "medarbejdere")
    answers = [a[0] for _, (_, a, _) in STAFF.items()]
    # shares map option code -> percent (a number, not "27,3 %")
    assert staff["shares"]["4"] == pytest.approx(100 * answers.count(4) / len(answers), abs=0.01)
    assert isinstance(staff["shares"]["4"], float)
    assert sum(staff["shares"].values()) == pytest.approx(100, abs=0.05)
    assert all(r["round"] in (ROUND1, ROUND2) for r in rows)        # omitting --round = every round


def test_report_items_round_filter_and_csv(report_db, db_path):
    result = run(db_path, "report", "items", "--round", ROUND2, "--item", "q1", "--format", "csv")
    assert result.exit_code == 0
    lines = list(csv.DictReader(result.stdout.splitlines()))
    assert lines and all(line["round"] == ROUND2 for line in lines)
    assert lines[0]["item"] == "q1"


def test_report_indices_and_paired_json(report_db, db_path):
    indices = json.loads(run(db_path, "report", "indices", "--project", "eval", "--by", "unit", "--format", "json").stdout)
    assert {"index", "round", "score", "n", "alpha"} <= set(indices[0])
    assert any(r["unit"] is None for r in indices) and any(r["unit"] == "A" for r in indices)
    paired = json.loads(run(db_path, "report", "paired", ROUND1, ROUND2, "--project", "eval", "--format", "json").stdout)
    q1 = next(r for r in paired if r["item"] == "q1")
    assert {"n_pairs", "mean_a", "mean_b", "diff", "p_ttest", "p_wilcoxon"} <= set(q1)
    # Staff who answered q1 substantively (not 9 = "Ved ikke") in both rounds, from the test data.
    pairs = [(a[0], b[0]) for _, (_, a, b) in STAFF.items() if b is not None and 9 not in (a[0], b[0])]
    xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
    assert q1["n_pairs"] == len(pairs)
    assert (q1["mean_a"], q1["mean_b"]) == (pytest.approx(np.mean(xs), abs=1e-5), pytest.approx(np.mean(ys), abs=1e-5))
    assert q1["diff"] == pytest.approx(np.mean(ys) - np.mean(xs), abs=1e-5)
    panel = json.loads(run(db_path, "report", "panel", ROUND1, ROUND2, "--project", "eval", "--format", "json").stdout)
    assert (panel["only_a"], panel["both"], panel["only_b"]) == (3, 14, 0)


def test_unknown_round_is_one_line_error(report_db, db_path):
    result = CliRunner().invoke(main, ["--db", str(db_path), "report", "items", "--round", "Runde 99", "--format", "json"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "Runde 99" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_export_sav_has_labels_and_ved_ikke_declared_missing(report_db, db_path, tmp_path):
    import pyreadstat

    out = tmp_path / "svar.sav"
    result = run(db_path, "export", "--project", "eval", "--round", ROUND1, "--format", "sav", "--out", str(out))
    assert result.exit_code == 0, result.output
    df, meta = pyreadstat.read_sav(str(out), user_missing=True)
    assert meta.column_names_to_labels["q1"] == "Samarbejdet er godt"
    assert meta.variable_value_labels["q1"][9.0] == "Ved ikke"
    assert meta.variable_value_labels["q1"][4.0] == "I høj grad"
    assert meta.missing_ranges["q1"] == [{"lo": 9.0, "hi": 9.0}]
    # Respondents carry the pseudonymous id, never the panel key.
    assert len(df) == 17 and "respondent_id" in df.columns and "key" not in df.columns
    assert not set(df["respondent_id"]) & (set(STAFF) | set(LEADS))
    # Read without user-missing values: "Ved ikke" becomes missing, so SPSS means leave it out.
    plain, _ = pyreadstat.read_sav(str(out))
    staff = plain[plain["group"] == "medarbejdere"]
    substantive = [a[0] for _, (_, a, _) in STAFF.items() if a[0] != 9]
    assert staff["q1"].mean() == pytest.approx(np.mean(substantive))
    codebook = (tmp_path / "svar.codebook.csv").read_text(encoding="utf-8-sig")
    assert "minimum_n" in codebook and "partial threshold 0.5" in codebook and "closes (cut-off) 2013-03-29" in codebook


def test_export_xlsx_codebook_and_wide_panel_rows(report_db, db_path, tmp_path, secret):
    import hashlib
    import hmac

    import openpyxl

    def pid(key):   # the export's pseudonym, from its definition (HMAC-SHA256 under the secret, 16 hex)
        return hmac.new(secret.encode(), f"export-person:eval:{key}".encode(), hashlib.sha256).hexdigest()[:16]

    out = tmp_path / "wide.xlsx"
    assert run(db_path, "export", "--project", "eval", "--format", "xlsx", "--layout", "wide", "--out", str(out)).exit_code == 0
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["data", "codebook", "rules"]
    data = list(wb["data"].values)
    header, body = data[0], data[1:]
    keys = [row[0] for row in body]
    assert len(keys) == len(set(keys)) == 17        # each panel member once: 11 staff + 6 leads (s99 never answered)
    assert header[0] == "respondent_id" and set(keys) == {pid(k) for k in list(STAFF) + list(LEADS)}
    s01 = dict(zip(header, body[keys.index(pid("s01"))]))
    assert (s01["r1_q1"], s01["r2_q1"]) == (4, 4)
    # The reworded q3 never shares a column with its old wording: version 2 is q3_v2.
    assert s01["r1_q3"] == 3 and s01["r2_q3"] is None and s01["r2_q3_v2"] == 4
    codebook = {row[0]: row for row in list(wb["codebook"].values)[1:]}
    assert "9 = Ved ikke" in codebook["r1_q1"][3] and codebook["r1_q1"][4] == "9"
    assert codebook["r2_q3_v2"][1] == "Runde 2: Ny formulering af q3" and codebook["r1_q3"][1] == "Runde 1: Gammel formulering af q3"
    rules = dict(list(wb["rules"].values)[1:])
    assert rules["minimum_n"] == "5"
    assert "Ved ikke" in rules["ved_ikke"]


def test_aggregated_export_keeps_suppression(report_db, db_path, tmp_path):
    out = tmp_path / "items.csv"
    assert run(db_path, "export", "--project", "eval", "--format", "csv", "--level", "items", "--by", "group,unit",
               "--out", str(out)).exit_code == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    c = next(r for r in rows if r["round"] == ROUND1 and r["group"] == "medarbejdere" and r["unit"] == "C" and r["item"] == "q1")
    assert c["suppressed"] == "True" and c["mean"] == "" and c["share_4"] == "" and c["n"] == "2"
    total = next(r for r in rows if r["round"] == ROUND1 and r["group"] == "medarbejdere" and r["unit"] == "" and r["item"] == "q1")
    assert total["suppressed"] == "False" and total["share_4"] != ""


def test_figures_write_png_svg_pdf_and_csv_with_n_in_caption(report_db, db_path, output_dir):
    out = output_dir / "analysis-figures"        # kept for a reviewer to look at
    result = run(db_path, "figures", "--project", "eval", "--out", str(out), "--format", "json")
    assert result.exit_code == 0, result.output
    made = json.loads(result.stdout)
    kinds = {m["kind"] for m in made}
    assert {"trend", "shares", "diverging", "index", "rates"} <= kinds
    for m in made:
        suffixes = sorted(f.rsplit(".", 1)[1] for f in m["files"])
        assert suffixes == ["csv", "pdf", "png", "svg"]
    assert (out / "trend_q1.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "trend_q1.pdf").read_bytes()[:4] == b"%PDF"
    svg = (out / "trend_q1.svg").read_text(encoding="utf-8")
    # Round labels in Danish with the month ("Runde 1 (marts 2013)"), N per round and group in the caption.
    assert "N: Runde 1 (marts 2013): medarbejdere 11; Runde 2 (september 2013): medarbejdere 9" in svg
    assert "9 = Ved ikke" in svg and "1 = Slet ikke" in svg
    # The reworded item: one figure per version, the new one says where its series starts.
    assert (out / "trend_q3_v1.png").exists() and (out / "trend_q3_v2.png").exists()
    assert "serien starter Runde 2 (september 2013)" in (out / "trend_q3_v2.svg").read_text(encoding="utf-8")
    # The response-rate caption in Danish: round 1 invited every staff member and lead, and all
    # of them answered in full; the round's partial threshold is the default 0.5.
    rates_svg = (out / "rates_runde_1.svg").read_text(encoding="utf-8")
    invited = len(STAFF) + len(LEADS)
    assert f"Inviterede i alt: {invited}; besvaret: {invited} (100,0 %)" in rates_svg
    assert "mindst 50 % af de relevante spørgsmål" in rates_svg
    rows = list(csv.DictReader((out / "trend_q1.csv").open(encoding="utf-8")))
    answers = [a[0] for _, (_, a, _) in STAFF.items() if a[0] != 9]
    first = next(r for r in rows if r["round"] == "Runde 1 (marts 2013)")
    assert float(first["mean"]) == pytest.approx(np.mean(answers)) and first["n"] == "11"


def test_figures_show_suppression(report_db, db_path, output_dir):
    from surveyapp.db import connect

    db = connect(db_path)
    db.execute("UPDATE projects SET min_n = 7 WHERE id = 'eval'")
    db.conn.commit()
    out = output_dir / "analysis-figures-suppressed"
    assert run(db_path, "figures", "--project", "eval", "--item", "l1", "--kind", "trend", "--kind", "shares",
               "--out", str(out)).exit_code == 0
    rows = list(csv.DictReader((out / "trend_l1.csv").open(encoding="utf-8")))
    assert all(r["suppressed"] == "True" and r["mean"] == "" for r in rows)        # 6 and 5 leads < 7
    svg = (out / "trend_l1.svg").read_text(encoding="utf-8")
    assert "For få svar" in svg and "Færre end 7 svar" in svg
    assert "for få svar" in (out / "shares_l1.svg").read_text(encoding="utf-8")
