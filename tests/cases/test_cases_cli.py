"""`surveyapp cases ...` end to end on a real SQLite file: open families, add members,
register measurements, then the work list, counts (cut-off, split, JSON), paired M1-M2 and
the over-13 item table."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from scipy import stats

from surveyapp.cli import main
from surveyapp.db import connect
from surveyapp.schedule import SCHEDULE_DIR

WHO5 = {  # member: (M1 codes, M2 codes) -> WHO-5 = sum x 4
    "F1-1": ((3, 3, 3, 3, 3), (4, 4, 3, 3, 4)),   # 60 -> 72
    "F2-1": ((1, 2, 1, 2, 1), (2, 2, 2, 2, 2)),   # 28 -> 40
    "F3-1": ((4, 4, 4, 4, 4), (4, 4, 4, 3, 3)),   # 80 -> 72
}


@pytest.fixture
def cli(db_path):
    runner = CliRunner()

    def run(*args, ok=True):
        result = runner.invoke(main, ["--db", str(db_path), *args])
        if ok:
            assert result.exit_code == 0, result.output
        return result
    run("cases", "schedule-load", str(SCHEDULE_DIR / "familie-progression.yaml"))
    for n, unit, opened in ((1, "Aarhus", "2023-01-10"), (2, "Aarhus", "2023-02-01"), (3, "Odense", "2023-03-01")):
        run("cases", "open", f"F{n}", "--unit", unit, "--opened", opened, "--project", "fp")
        run("cases", "add-member", f"F{n}", f"F{n}-1", "--role", "forael", "--born", "1980-01-01")
    return run


def register(cli, member, slot, codes, date):
    answers = json.dumps({f"who5_{i}": c for i, c in enumerate(codes, start=1)})
    return cli("cases", "register", member, "--slot", slot, "--questionnaire", "who5", "--mode", "phone",
               "--date", date, "--by", "anna", "--answers", answers)


def test_counts_and_paired_json(cli, db_path):
    for member, (m1, m2) in WHO5.items():
        register(cli, member, "M1", m1, "2023-09-15")
        register(cli, member, "M2", m2, "2024-03-20")
    # F3-1 also has the background measurement; nobody is counted twice.
    register(cli, "F3-1", "baseline", (2, 2, 2, 2, 2), "2023-03-02")
    counts = json.loads(cli("cases", "counts", "--project", "fp", "--cutoff", "2024-03-19", "--format", "json").output)
    rows = {r["unit"]: r for r in counts["rows"]}
    assert (rows["I alt"]["m1_only"], rows["I alt"]["m1_and_m2"], rows["I alt"]["n_sample"]) == (3, 0, 3)
    later = json.loads(cli("cases", "counts", "--project", "fp", "--split", "2023-02-01", "--format", "json",
                           "--today", "2024-06-01").output)
    by = {(r["period"], r["unit"]): r["m1_and_m2"] for r in later["rows"]}
    assert by == {("før 1.2.2023", "Aarhus"): 1, ("før 1.2.2023", "I alt"): 1,
                  ("fra og med 1.2.2023", "Aarhus"): 1, ("fra og med 1.2.2023", "Odense"): 1, ("fra og med 1.2.2023", "I alt"): 2}
    paired = json.loads(cli("cases", "paired", "--project", "fp", "--format", "json", "--today", "2024-06-01").output)
    who5 = next(t for t in paired if t["score"] == "who5")
    total = who5["rows"][-1]
    a, b = [60, 28, 80], [72, 40, 72]
    assert total["n_pairs"] == 3 and total["suppressed"]          # 3 pairs < min n 5: no means shown
    assert total["mean_a"] is None and "for få svar" in who5["caption"]
    # With the project's minimum n lowered to 2 the same pairs are shown and tested.
    db = connect(db_path)
    db.execute("UPDATE projects SET min_n = 2 WHERE id = 'fp'")
    db.conn.close()
    paired = json.loads(cli("cases", "paired", "--project", "fp", "--format", "json", "--today", "2024-06-01").output)
    total = next(t for t in paired if t["score"] == "who5")["rows"][-1]
    assert total["mean_a"] == pytest.approx(168 / 3) and total["mean_b"] == pytest.approx(184 / 3)
    assert total["mean_diff"] == pytest.approx(16 / 3)                  # (12 + 12 - 8) / 3
    assert total["p_t"] == pytest.approx(stats.ttest_rel(b, a).pvalue)
    assert total["p_wilcoxon"] == pytest.approx(stats.wilcoxon(b, a).pvalue)
    # The table format writes decimal commas: 168/3 = 56,0; 184/3 = 61,3; 16/3 = 5,3.
    table = cli("cases", "paired", "--project", "fp", "--today", "2024-06-01", "--format", "table").output
    assert all(text in table for text in ("56,0", "61,3", "5,3")) and "56.0" not in table
    counts = cli("cases", "counts", "--project", "fp", "--cutoff", "2024-03-19", "--format", "table").output
    assert "3 (100,0 % af 3)" in counts                  # I alt: all 3 only M1, of N = 3


def test_worklist_and_errors(cli, tmp_path):
    register(cli, "F1-1", "baseline", (3, 3, 3, 3, 3), "2023-01-11")
    out = json.loads(cli("cases", "worklist", "--project", "fp", "--unit", "Aarhus", "--today", "2023-02-20", "--format", "json").output)
    states = {(r["member"], r["slot"]): r["state"] for r in out}
    # F1-1's baseline needs WHO-5 and the stress scale: only one is done, so it is still overdue.
    assert states[("F1-1", "baseline")] == "overdue"
    assert states[("F2-1", "baseline")] == "due"      # opened 1.2.2023, window until 3.3.2023
    assert all(r["unit"] == "Aarhus" for r in out)
    bad = cli("cases", "register", "F1-1", "--slot", "M1", "--questionnaire", "who5", "--mode", "phone",
              "--date", "2023-07-10", "--by", "anna", "--answers", '{"who5_1": 7}', ok=False)
    assert bad.exit_code == 1 and "error: who5_1: Vælg en af svarmulighederne." in bad.output
    closed = cli("cases", "close", "F1", "--closed", "2023-03-01")
    assert "1 member(s) closed with it" in closed.output
    again = cli("cases", "close", "F1", "--closed", "2023-03-02", ok=False)
    assert again.exit_code == 1 and "already closed on 2023-03-01" in again.output
    assert "no problems found" in cli("cases", "check").output
