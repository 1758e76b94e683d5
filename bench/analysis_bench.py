"""Analysis throughput: a full item report against a plain SQL GROUP BY and pandas, in one run.

Builds a national-size database (default 100,000 respondents x 3 rounds x 40 items: 300,000
responses, ~11.4 million stored answers with ~7 % "Ved ikke" and ~5 % blanks) and times, each in
its own child process so peak memory is measured per approach (ru_maxrss):

  A. surveyapp: report_data.item_rows(by=group) — the code path of `surveyapp report items`:
     counts per round x group x item x code aggregated in SQL, then N, n_valid, shares, top-1/2,
     mean, SD and t-based CI computed in analysis/ from the counts, plus suppression;
  B. plain SQL: one GROUP BY computing the same item means (AVG over substantive codes) per
     round x group x item on the same file;
  C. pandas: read_sql of the answer rows joined with their round and group, then
     groupby(...).mean() — the usual notebook approach.

Each is run twice and the faster run counts (the file is in the page cache after the build).
Prints seconds, ratios A/B (target <= 2) and A/C (target < 1), peak memory (target < 1 GB), and
checks that A's means equal B's.

    .venv/bin/python bench/analysis_bench.py                      # 100,000 respondents
    .venv/bin/python bench/analysis_bench.py --respondents 20000  # quicker
    .venv/bin/python bench/analysis_bench.py --db /tmp/big.db     # keep/reuse the database
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _common import ITEMS, questionnaire_yaml  # noqa: E402  (bench/ is on sys.path: run as a script)

ROUNDS = [("Marts 2013", "2013-03-04"), ("September 2013", "2013-09-02"), ("September 2014", "2014-09-01")]
GROUPS = ["medarbejdere", "ledere"]
UNITS = [f"Kommune {n:02d}" for n in range(1, 99)]
PROJECT = "bench"

SQL_BASELINE = (
    "SELECT r.round_id, r.group_name, a.item_id, AVG(a.value_num), COUNT(*) "
    "FROM answers a JOIN responses r ON r.id = a.response_id "
    "WHERE a.value_num IS NOT NULL AND a.value_num <> 9 "
    "GROUP BY r.round_id, r.group_name, a.item_id"
)
PANDAS_SQL = (
    "SELECT r.round_id, r.group_name, a.item_id, a.value_num "
    "FROM answers a JOIN responses r ON r.id = a.response_id WHERE a.value_num IS NOT NULL"
)


def build(path: Path, respondents: int, seed: int = 7) -> dict:
    """The database, written with bulk inserts (the services would take hours at this size)."""
    import numpy as np

    from surveyapp import questionnaire_store, rounds
    from surveyapp.db import connect, migrate, transaction

    started = time.perf_counter()
    db = connect(path)
    migrate(db)
    with transaction(db):
        rounds.ensure_project(db, PROJECT, "Benchmark", min_n=5)
    yaml_path = path.with_suffix(".yaml")
    yaml_path.write_text(questionnaire_yaml("bench-analysis"), encoding="utf-8")
    questionnaire_store.load(db, yaml_path)
    version_id = db.execute("SELECT id FROM questionnaire_versions WHERE questionnaire_id = 'bench-analysis'").fetchone()[0]
    round_ids = [rounds.create_round(db, name, {"": "bench-analysis"}, PROJECT, opens) for name, opens in ROUNDS]
    conn = db.conn
    conn.execute("PRAGMA synchronous = OFF")
    rng = np.random.default_rng(seed)
    stamp = "2013-03-10T10:00:00+00:00"
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO people (id, project_id, key) VALUES (?, ?, ?)",
                     ((i + 1, PROJECT, f"p{i:06d}") for i in range(respondents)))
    groups = rng.choice(len(GROUPS), size=respondents, p=[0.85, 0.15])
    units = rng.integers(0, len(UNITS), size=respondents)
    item_ids = [f"q{n:02d}" for n in range(1, ITEMS + 1)]
    codes = np.array([1, 2, 3, 4, 9], dtype=float)
    answers = 0
    for r_index, round_id in enumerate(round_ids):
        base = r_index * respondents
        conn.executemany(
            "INSERT INTO invitations (id, round_id, person_id, group_name, unit, token_hash, started, completed, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, 1, 1, ?)",
            ((base + i + 1, round_id, i + 1, GROUPS[groups[i]], UNITS[units[i]], f"bench:{base + i + 1}", stamp)
             for i in range(respondents)))
        conn.executemany(
            "INSERT INTO responses (id, round_id, invitation_id, group_name, unit, questionnaire_version_id, status, "
            "started_at, last_saved_at, submitted_at) VALUES (?, ?, ?, ?, ?, ?, 'complete', ?, ?, ?)",
            ((base + i + 1, round_id, base + i + 1, GROUPS[groups[i]], UNITS[units[i]], version_id, stamp, stamp, stamp)
             for i in range(respondents)))
        shift = 0.1 * r_index
        probabilities = np.array([0.1 - shift / 3, 0.25 - shift / 3, 0.35 + shift / 3, 0.23 + shift / 3, 0.07])
        probabilities /= probabilities.sum()
        chunk = 10_000
        for start in range(0, respondents, chunk):
            size = min(chunk, respondents - start)
            values = rng.choice(codes, size=(size, ITEMS), p=probabilities)
            blank = rng.random((size, ITEMS)) < 0.05
            rows = [(base + start + i + 1, item_ids[j], float(values[i, j]), "2013")
                    for i in range(size) for j in range(ITEMS) if not blank[i, j]]
            conn.executemany("INSERT INTO answers (response_id, item_id, item_version, value_num, saved_at) VALUES (?, ?, 1, ?, ?)", rows)
            answers += len(rows)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    db.conn.close()
    return {"answers": answers, "responses": respondents * len(round_ids), "seconds": time.perf_counter() - started,
            "size_mb": path.stat().st_size / 1e6}


# ---------------------------------------------------------------- the three approaches (run in a child)


def run_report(path: str) -> dict:
    import scipy.stats  # noqa: F401  imported on first use by analysis/; loaded before the clock, like pandas below

    from surveyapp import report_data
    from surveyapp.db import connect

    db = connect(path)
    started = time.perf_counter()
    rows = report_data.item_rows(db, by=("group",), project=PROJECT, decimals=None)
    seconds = time.perf_counter() - started
    means = {f"{r['round_id']}|{r['group']}|{r['item']}": r["mean"] for r in rows if r.get("group") is not None}
    return {"seconds": seconds, "rows": len(rows), "means": means}


def run_sql(path: str) -> dict:
    from surveyapp.db import connect

    db = connect(path)
    started = time.perf_counter()
    rows = db.conn.execute(SQL_BASELINE).fetchall()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": len(rows), "means": {f"{r[0]}|{r[1]}|{r[2]}": r[3] for r in rows}}


def run_pandas(path: str) -> dict:
    import sqlite3

    import pandas as pd

    conn = sqlite3.connect(path)
    started = time.perf_counter()
    frame = pd.read_sql(PANDAS_SQL, conn)
    frame = frame[frame["value_num"] != 9]
    result = frame.groupby(["round_id", "group_name", "item_id"])["value_num"].agg(["mean", "count"])
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": len(result), "means": {}}


MODES = {"report": run_report, "sql": run_sql, "pandas": run_pandas}


def child(mode: str, path: str) -> None:
    result = MODES[mode](path)
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def measure(mode: str, path: Path, repeat: int = 2) -> dict:
    best = None
    for _ in range(repeat):
        out = subprocess.run([sys.executable, __file__, "--child", mode, "--db", str(path)], capture_output=True, text=True, check=True)
        result = json.loads(out.stdout)
        if best is None or result["seconds"] < best["seconds"]:
            best = result
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--respondents", type=int, default=100_000)
    parser.add_argument("--db", help="database file to build (or reuse if it exists)")
    parser.add_argument("--child", choices=sorted(MODES), help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.db)
        return
    folder = None
    if args.db:
        path = Path(args.db)
    else:
        folder = tempfile.TemporaryDirectory(prefix="analysis-bench-")
        path = Path(folder.name) / "bench.db"
    if not path.exists():
        info = build(path, args.respondents)
        print(f"set-up: {args.respondents:,} respondents x {len(ROUNDS)} rounds x {ITEMS} items: "
              f"{info['responses']:,} responses, {info['answers']:,} answers, {info['size_mb']:,.0f} MB ({info['seconds']:.0f} s)")
    else:
        print(f"reusing {path} ({path.stat().st_size / 1e6:,.0f} MB)")
    sql = measure("sql", path, args.repeat)
    report = measure("report", path, args.repeat)
    pandas = measure("pandas", path, 1)
    mismatches = [k for k, v in sql["means"].items() if abs((report["means"].get(k) or -1) - v) > 1e-9]
    print(f"plain SQL GROUP BY (item means):           {sql['seconds']:7.2f} s   {sql['rows']:>6} cells   peak {sql['peak_mb']:6.0f} MB")
    print(f"surveyapp item report (n, shares, mean, sd, CI, suppression): "
          f"{report['seconds']:7.2f} s   {report['rows']:>6} rows    peak {report['peak_mb']:6.0f} MB")
    print(f"pandas read_sql + groupby:                 {pandas['seconds']:7.2f} s   {pandas['rows']:>6} cells   peak {pandas['peak_mb']:6.0f} MB")
    print(f"ratio report / SQL:    {report['seconds'] / sql['seconds']:.2f}  (target <= 2)")
    print(f"ratio report / pandas: {report['seconds'] / pandas['seconds']:.2f}  (target < 1)")
    print(f"peak memory of the report: {report['peak_mb']:.0f} MB (target < 1024 MB)")
    print(f"means equal to the SQL baseline: {'yes' if not mismatches else f'NO ({len(mismatches)} differ)'} "
          f"({len(sql['means'])} round x group x item cells)")
    if folder is not None:
        folder.cleanup()


if __name__ == "__main__":
    main()
