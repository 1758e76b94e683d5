"""Every cell of the item and paired reports on the demo database against an independent
computation with pandas/scipy straight from the answers table."""
from __future__ import annotations

import sqlite3

import pandas as pd
import pytest
from scipy import stats

from surveyapp import report_data as rd
from surveyapp.demo import build_demo


@pytest.fixture
def demo_db(db, db_path, secret):
    build_demo(db, secret)
    return db


def _answers(db_path) -> pd.DataFrame:
    conn = sqlite3.connect(db_path)
    frame = pd.read_sql(
        "SELECT r.round_id, r.group_name AS grp, r.unit, p.key, a.item_id, a.item_version, a.value_num "
        "FROM answers a JOIN responses r ON r.id = a.response_id JOIN rounds ro ON ro.id = r.round_id "
        "LEFT JOIN invitations i ON i.id = r.invitation_id LEFT JOIN people p ON p.id = i.person_id "
        "WHERE ro.project_id = 'forebyggelse' AND a.value_num IS NOT NULL", conn)
    conn.close()
    return frame


def test_every_item_cell_matches_pandas(demo_db, db_path):
    rows = rd.item_rows(demo_db, by=("group",), project="forebyggelse", decimals=None)
    frame = _answers(db_path)
    checked = 0
    for row in rows:
        if row["group"] is None or row["type"] != "scale" or row["suppressed"]:
            continue
        cell = frame[(frame.round_id == row["round_id"]) & (frame.grp == row["group"]) & (frame.item_id == row["item"])
                     & (frame.item_version == row["item_version"])]
        values = cell.value_num
        substantive = values[values != 9]
        assert row["n"] == len(values)
        assert row["n_valid"] == len(substantive)
        assert row["mean"] == pytest.approx(substantive.mean())
        assert row["sd"] == pytest.approx(substantive.std(ddof=1))
        sem = stats.sem(substantive)
        low, high = stats.t.interval(0.95, len(substantive) - 1, loc=substantive.mean(), scale=sem)
        assert (row["ci_low"], row["ci_high"]) == (pytest.approx(low), pytest.approx(high))
        for code, share in row["shares"].items():
            assert share == pytest.approx(100 * (values == float(code)).mean())
        assert row["top2"] == pytest.approx(100 * values.isin([3.0, 4.0]).mean())
        checked += 1
    assert checked > 60


def test_every_paired_item_matches_scipy(demo_db, db_path):
    result = rd.paired_rows(demo_db, "Marts 2013", "September 2013", "forebyggelse")
    frame = _answers(db_path)
    frame = frame[frame.value_num != 9]
    tested = 0
    for row in result["items"]:
        a = frame[(frame.round_id == 1) & (frame.item_id == row["item"])].set_index("key").value_num
        b = frame[(frame.round_id == 2) & (frame.item_id == row["item"])].set_index("key").value_num
        both = pd.concat([a.rename("a"), b.rename("b")], axis=1, join="inner")
        assert row["n_pairs"] == len(both)
        if row["suppressed"]:
            continue
        assert row["diff"] == pytest.approx((both.b - both.a).mean(), abs=1e-6)
        if (both.b - both.a).abs().sum() > 0:
            assert row["p_ttest"] == pytest.approx(stats.ttest_rel(both.b, both.a).pvalue, abs=1e-6)
            assert row["p_wilcoxon"] == pytest.approx(stats.wilcoxon(both.b, both.a).pvalue, abs=1e-6)
            tested += 1
    assert len(result["items"]) >= 10
    assert tested >= 10, "too few shown items with a change to compare against scipy"
