"""Import throughput: `responses import` against sqlite-utils' raw `insert_all`, in one run.

Builds a round with N respondents x 40 scale items (default 1,000,000 answers), writes the
CSV another tool would export, then times

  A. surveyapp.responses.import_responses: read the CSV, validate every cell, insert the
     responses and answers (one transaction, batched executemany), and
  B. sqlite_utils.Database(fresh file)["answers_raw"].insert_all(rows) of the very same answer
     rows into a bare table (no keys, no checks): the raw speed of the storage layer, and
  B'. the same insert_all on a file with surveyapp's pragmas (WAL, synchronous=NORMAL), and
  C. for reference, plain sqlite3 executemany of the same rows as tuples into a bare table in
     one transaction (WAL, synchronous=NORMAL): the fastest this machine can store them.

Prints answers per second of each and the ratios (target: A at least 50 % of B).

    .venv/bin/python bench/import_bench.py                  # 1,000,000 answers
    .venv/bin/python bench/import_bench.py --answers 200000 # quicker
    .venv/bin/python bench/import_bench.py --profile        # cProfile of A, top 25 by own time
"""
from __future__ import annotations

import argparse
import cProfile
import csv
import pstats
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlite_utils  # noqa: E402

from _common import ITEMS, questionnaire_yaml  # noqa: E402  (bench/ is on sys.path: run as a script)
from surveyapp import questionnaire_store, respondents, responses, rounds  # noqa: E402
from surveyapp.db import connect, migrate, transaction  # noqa: E402
from surveyapp.questionnaire import parse  # noqa: E402

SECRET = "bench-secret"


def build(folder: Path, respondent_count: int, rng: random.Random):
    """A database with the round and its list, and the CSV of answers to import."""
    db = connect(folder / "bench.db")
    migrate(db)
    text = questionnaire_yaml("bench")
    questionnaire_store.register(db, parse(text, "bench.yaml"), text, "bench.yaml")
    round_id = rounds.create_round(db, "Bench", {"": "bench"}, "bench")
    round_ = rounds.get_round(db, round_id)
    with transaction(db):
        for n in range(respondent_count):
            respondents.add_invitation(db, round_, {"key": f"P{n:07d}", "group": "", "unit": f"U{n % 6}"}, SECRET)
    item_ids = [f"q{n:02d}" for n in range(1, ITEMS + 1)]
    # Codes mostly, some labels (as other tools export them), some blanks and "Ved ikke".
    choices = ["4", "3", "2", "1", "9", "I høj grad", "Slet ikke", "", "3", "2"]
    csv_path = folder / "answers.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["key", "status", "submitted_at", *item_ids])
        for n in range(respondent_count):
            writer.writerow([f"P{n:07d}", "complete", "2013-03-15T10:00:00", *(rng.choice(choices) for _ in item_ids)])
    return db, round_id, csv_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answers", type=int, default=1_000_000, help="cells in the file (respondents x 40)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="profile the import instead of only timing it")
    args = parser.parse_args(argv)
    respondent_count = max(1, args.answers // ITEMS)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="surveyapp-bench-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        db, round_id, csv_path = build(folder, respondent_count, rng)
        print(f"set-up: {respondent_count:,} respondents x {ITEMS} items, CSV {csv_path.stat().st_size / 1e6:.1f} MB "
              f"({time.perf_counter() - t0:.1f} s)")

        profiler = cProfile.Profile() if args.profile else None
        t0 = time.perf_counter()
        if profiler:
            profiler.enable()
        result = responses.import_responses(db, round_id, csv_path)
        if profiler:
            profiler.disable()
        ours = time.perf_counter() - t0
        stored = result["answers"]

        # The same answer rows, as plain dicts, into a bare table of a fresh file.
        rows = [dict(r) for r in db.query(
            "SELECT response_id, item_id, item_version, value_num, value_text, saved_at FROM answers ORDER BY response_id, item_id")]
        db.conn.close()
        raw_db = sqlite_utils.Database(folder / "raw.db")
        t0 = time.perf_counter()
        raw_db["answers_raw"].insert_all(rows)
        raw = time.perf_counter() - t0
        assert raw_db["answers_raw"].count == stored
        raw_db.close()

        # The same, on a file with the pragmas surveyapp uses (WAL, synchronous=NORMAL), where
        # insert_all's commit per 100-row batch costs no fsync: the like-for-like baseline.
        tuned_db = sqlite_utils.Database(folder / "tuned.db")
        tuned_db.execute("PRAGMA journal_mode = WAL")
        tuned_db.execute("PRAGMA synchronous = NORMAL")
        t0 = time.perf_counter()
        tuned_db["answers_raw"].insert_all(rows)
        tuned = time.perf_counter() - t0
        assert tuned_db["answers_raw"].count == stored
        tuned_db.close()

        # A stricter floor for reference: plain executemany of tuples in one transaction.
        floor_db = connect(folder / "floor.db")
        floor_db.execute("CREATE TABLE answers_raw (response_id INTEGER, item_id TEXT, item_version INTEGER, "
                         "value_num REAL, value_text TEXT, saved_at TEXT)")
        tuples = [tuple(r.values()) for r in rows]
        t0 = time.perf_counter()
        with transaction(floor_db):
            floor_db.conn.executemany("INSERT INTO answers_raw VALUES (?,?,?,?,?,?)", tuples)
        floor = time.perf_counter() - t0
        floor_db.conn.close()

    ours_rate, raw_rate = stored / ours, stored / raw
    print(f"answers stored:                          {stored:,} (of {respondent_count * ITEMS:,} cells; blanks are not answers)")
    print(f"surveyapp responses import (read+check+insert): {ours:7.2f} s  {ours_rate:12,.0f} answers/s")
    print(f"sqlite-utils insert_all, bare table:            {raw:7.2f} s  {raw_rate:12,.0f} answers/s")
    print(f"sqlite-utils insert_all, WAL+NORMAL:             {tuned:7.2f} s  {stored / tuned:12,.0f} answers/s")
    print(f"sqlite3 executemany, one transaction, bare:     {floor:7.2f} s  {stored / floor:12,.0f} answers/s  (reference floor)")
    print(f"ratio: {100 * ours_rate / raw_rate:.0f} % of insert_all (target >= 50 %); "
          f"{100 * ours_rate / (stored / tuned):.0f} % of insert_all with surveyapp's pragmas; "
          f"{100 * ours_rate / (stored / floor):.0f} % of the executemany floor")
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
