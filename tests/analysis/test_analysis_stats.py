"""The pure statistics of analysis/ against independent computations (numpy/scipy written here,
or small hand-worked tables)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from analysis.comparisons import crosstab, group_comparison
from analysis.indices import cronbach_alpha, index_table, mean_of_unit_means, pooled_mean, respondent_index, traffic_light
from analysis.items import ItemSpec, compare_counts, item_statistics, trend_changes
from analysis.paired import paired_comparison, panel_counts

GRAD4 = ItemSpec(id="q", type="scale", substantive=(4, 3, 2, 1), missing=(9,))


def test_item_statistics_match_numpy_with_ved_ikke_and_missing():
    answers = [4, 4, 3, 3, 3, 2, 1, 9, 9]          # two "Ved ikke"; unanswered people are simply absent
    counts = {code: answers.count(code) for code in set(answers)}
    row = item_statistics(counts, GRAD4)
    substantive = np.array([a for a in answers if a != 9], dtype=float)
    assert row["n"] == 9 and row["n_valid"] == 7
    assert row["mean"] == pytest.approx(substantive.mean())
    assert row["sd"] == pytest.approx(substantive.std(ddof=1))
    half = stats.t.ppf(0.975, 6) * substantive.std(ddof=1) / math.sqrt(7)
    assert row["ci_low"] == pytest.approx(substantive.mean() - half)
    assert row["ci_high"] == pytest.approx(substantive.mean() + half)
    # Shares of N (Ved ikke in the denominator, its own category) and of the substantive answers.
    assert row["shares"] == pytest.approx({"4": 200 / 9, "3": 300 / 9, "2": 100 / 9, "1": 100 / 9, "9": 200 / 9})
    assert row["shares_valid"] == pytest.approx({"4": 200 / 7, "3": 300 / 7, "2": 100 / 7, "1": 100 / 7})
    assert row["top1"] == pytest.approx(200 / 9) and row["top2"] == pytest.approx(500 / 9)
    assert row["top2_valid"] == pytest.approx(500 / 7)
    assert sum(row["shares"].values()) == pytest.approx(100)


def test_no_mean_below_two_substantive_answers_but_n_counts_ved_ikke():
    row = item_statistics({4: 1, 9: 3}, GRAD4)
    assert row["n"] == 4 and row["n_valid"] == 1
    assert row["mean"] is None and row["sd"] is None and row["ci_low"] is None
    assert row["shares"]["9"] == pytest.approx(75.0)


def test_reverse_keyed_item_is_reversed_before_the_mean_only():
    spec = ItemSpec(id="r", type="scale", substantive=(4, 3, 2, 1), missing=(9,), reverse=True)
    row = item_statistics({4: 3, 1: 1, 9: 1}, spec)
    assert row["mean"] == pytest.approx((1 + 1 + 1 + 4) / 4)       # 4 -> 1, 1 -> 4
    assert row["shares"]["4"] == pytest.approx(60.0)                 # categories stay as answered
    assert row["top1"] == pytest.approx(60.0)


def test_change_between_rounds_against_scipy():
    a = {4: 10, 3: 20, 2: 15, 1: 5, 9: 4}
    b = {4: 25, 3: 18, 2: 6, 1: 1, 9: 2}
    change = compare_counts(a, b, GRAD4)
    xa = np.repeat([4, 3, 2, 1], [10, 20, 15, 5]).astype(float)
    xb = np.repeat([4, 3, 2, 1], [25, 18, 6, 1]).astype(float)
    assert change["diff_mean"] == pytest.approx(xb.mean() - xa.mean())
    top2_a, top2_b = 100 * 30 / 54, 100 * 43 / 52
    assert change["diff_share"] == pytest.approx(top2_b - top2_a)   # unrounded, in procentpoint
    chi = stats.chi2_contingency([[10, 20, 15, 5], [25, 18, 6, 1]], correction=False)
    assert change["p_chi2"] == pytest.approx(chi.pvalue)
    assert change["p_mannwhitney"] == pytest.approx(stats.mannwhitneyu(xa, xb, alternative="two-sided").pvalue)
    assert change["diff_unit_share"] == "procentpoint" and change["diff_unit_mean"] == "skalapoint"
    # Codes may come as numeric strings (and as 4.0 from SQLite): the same table, the same tests.
    as_text = compare_counts({str(k): v for k, v in a.items()}, {float(k): v for k, v in b.items()}, GRAD4)
    assert as_text["p_chi2"] == pytest.approx(chi.pvalue) and as_text["diff_mean"] == pytest.approx(xb.mean() - xa.mean())


def test_change_uses_unrounded_values():
    # 1/3 vs 2/3 in the top category: rounded shares would give 33 and 67 -> 34 points.
    spec = ItemSpec(id="q", type="scale", substantive=(4, 3, 2, 1), missing=(9,))
    change = compare_counts({4: 1, 1: 2}, {4: 2, 1: 1}, spec, share="top1")
    assert change["diff_share"] == pytest.approx(100 / 3)


def test_trend_changes_pair_consecutive_rounds_of_one_version():
    # (That trends never join two versions is tested on real queries: test_report_queries.py.)
    changes = trend_changes([("R2", {4: 3, 3: 2}), ("R3", {4: 1, 3: 4})], ItemSpec(id="q3", version=2, substantive=(4, 3, 2, 1)))
    assert len(changes) == 1 and changes[0]["round_a"] == "R2" and changes[0]["item_version"] == 2


# ---------------------------------------------------------------- indices


def test_respondent_index_leaves_out_unanswered_and_ved_ikke():
    values = {"a": 4, "b": None, "c": 2}        # b: "Ved ikke" or unanswered -> None
    assert respondent_index(values, ["a", "b", "c"]) == pytest.approx(3.0)   # not (4+0+2)/3
    assert respondent_index(values, ["a", "b", "c"], min_share=0.67) is None  # 2 of 3 answered < 67 %
    assert respondent_index(values, ["a", "b", "c"], min_share=0.66) == pytest.approx(3.0)
    assert respondent_index({"a": None}, ["a"]) is None


def test_mean_of_unit_means_differs_from_pooled_when_units_differ_in_size():
    rows = [{"unit": "A", "x": 4.0}, {"unit": "A", "x": 4.0}, {"unit": "A", "x": 4.0}, {"unit": "B", "x": 1.0}]
    assert mean_of_unit_means({"A": 4.0, "B": 1.0, "C": None}) == (pytest.approx(2.5), 2)
    assert pooled_mean(rows, ["x"]) == pytest.approx(13 / 4)
    table = index_table(rows, ["x"], "unit", thresholds=(4, 3))
    assert table["score"] == pytest.approx(2.5) and table["n"] == 2
    assert table["pooled"] == pytest.approx(3.25)
    assert {u["unit"]: u["light"] for u in table["units"]} == {"A": "green", "B": "red"}


def test_cronbach_alpha_against_covariance_formula():
    rng = np.random.default_rng(3)
    latent = rng.normal(size=40)
    data = np.column_stack([latent + rng.normal(scale=s, size=40) for s in (0.5, 0.8, 1.0)])
    cov = np.cov(data, rowvar=False, ddof=1)
    k = data.shape[1]
    expected = k / (k - 1) * (1 - np.trace(cov) / cov.sum())
    matrix = data.tolist() + [[1.0, None, 2.0]]        # an incomplete case is left out
    assert cronbach_alpha(matrix) == pytest.approx(expected)
    assert cronbach_alpha([[1, 2], [2, 3]]) is None           # n < 3
    assert cronbach_alpha([[1], [2], [3], [4]]) is None       # k < 2


@pytest.mark.parametrize("score,light", [(4.0, "green"), (4.5, "green"), (3.99, "yellow"), (3.0, "yellow"), (2.99, "red"), (None, None)])
def test_traffic_light(score, light):
    assert traffic_light(score, 4, 3) == light


# ---------------------------------------------------------------- paired and panel


def test_paired_comparison_uses_only_complete_pairs_and_matches_scipy():
    a = {"p1": 2, "p2": 3, "p3": 1, "p4": 4, "p5": 2, "p6": None, "only_a": 4}
    b = {"p1": 3, "p2": 3, "p3": 3, "p4": 4, "p5": 4, "p6": 2, "only_b": 1}
    result = paired_comparison(a, b)
    xs, ys = [2, 3, 1, 4, 2], [3, 3, 3, 4, 4]
    assert result["n_pairs"] == 5
    assert result["mean_a"] == pytest.approx(np.mean(xs)) and result["mean_b"] == pytest.approx(np.mean(ys))
    assert result["diff"] == pytest.approx(np.mean(ys) - np.mean(xs))       # B minus A
    assert result["p_ttest"] == pytest.approx(stats.ttest_rel(ys, xs).pvalue)
    assert result["p_wilcoxon"] == pytest.approx(stats.wilcoxon(ys, xs).pvalue)


def test_paired_comparison_drops_a_pair_missing_or_nan_on_either_side():
    # Data frames hand over NaN for a blank cell; None is "not answered / Ved ikke".
    a = {"p1": 1, "p2": 2, "p3": 4, "p4": 3, "b_missing": 2, "b_nan": 1, "a_nan": float("nan")}
    b = {"p1": 2, "p2": 4, "p3": 4, "p4": 4, "b_missing": None, "b_nan": float("nan"), "a_nan": 3}
    result = paired_comparison(a, b)
    xs, ys = [1, 2, 4, 3], [2, 4, 4, 4]
    assert result["n_pairs"] == 4
    assert result["mean_a"] == pytest.approx(2.5) and result["mean_b"] == pytest.approx(3.5)
    assert result["diff"] == pytest.approx(1.0)
    assert result["sd_diff"] == pytest.approx(np.std(np.subtract(ys, xs), ddof=1))
    assert result["p_ttest"] == pytest.approx(stats.ttest_rel(ys, xs).pvalue)


def test_paired_comparison_with_no_change_at_all():
    result = paired_comparison({"a": 3, "b": 2, "c": 4}, {"a": 3, "b": 2, "c": 4})
    assert result["diff"] == 0 and result["p_ttest"] == 1.0 and result["p_wilcoxon"] == 1.0


def test_panel_counts_put_each_person_once():
    counts = panel_counts({"R1": {"a", "b", "c", "d"}, "R2": {"c", "d", "e"}})
    assert (counts["only_a"], counts["only_b"], counts["both"], counts["people"]) == (2, 1, 2, 5)
    assert counts["only_a"] + counts["only_b"] + counts["both"] == counts["people"]
    three = panel_counts({"R1": {"a", "b"}, "R2": {"a", "c"}, "R3": {"a", "b", "c", "d"}})
    assert three["patterns"] == {"R1+R2+R3": 1, "R1+R3": 1, "R2+R3": 1, "R3": 1}
    assert sum(three["patterns"].values()) == three["people"] == 4


# ---------------------------------------------------------------- group comparison and cross-tab


def test_group_comparison_on_a_construct():
    lead = ItemSpec(id="l1", substantive=(4, 3, 2, 1), missing=(9,), construct="coop")
    staff = ItemSpec(id="q1", substantive=(4, 3, 2, 1), missing=(9,), construct="coop")
    result = group_comparison({"ledere": (lead, {4: 6, 3: 2}), "medarbejdere": (staff, {4: 2, 3: 4, 2: 4, 9: 1})}, "ledere", "medarbejdere")
    assert result["construct"] == "coop" and result["item_a"] == "l1" and result["item_b"] == "q1"
    assert result["diff_mean"] == pytest.approx((8 + 12 + 8) / 10 - (24 + 6) / 8)
    assert result["diff_share"] == pytest.approx(100 * 6 / 11 - 100.0)
    with pytest.raises(ValueError):
        group_comparison({"a": (lead, {4: 1}), "b": (ItemSpec(id="x", substantive=(1, 2, 3, 4, 5)), {4: 1})}, "a", "b")


def test_crosstab_counts_percentages_and_chi_square():
    row_spec = ItemSpec(id="r", substantive=(1, 2), missing=())
    col_spec = ItemSpec(id="c", substantive=(1, 2), missing=())
    pairs = [(1, 1)] * 12 + [(1, 2)] * 8 + [(2, 1)] * 6 + [(2, 2)] * 14 + [(None, 1)]
    result = crosstab(pairs, row_spec, col_spec, min_n=5)
    table = {line["row"]: line for line in result["table"]}
    assert result["n"] == 40
    assert table["1"]["cells"]["1"] == {"n": 12, "percent": pytest.approx(60.0)}
    assert table[None]["cells"]["2"]["n"] == 22
    assert result["p_chi2"] == pytest.approx(stats.chi2_contingency([[12, 8], [6, 14]], correction=False).pvalue)
    assert result["suppressed"] == []


def test_reverse_keying_uses_the_questionnaires_reverse_sum():
    # A scale whose reverse_max says 5 although the codes run 1-4: reversed = (1 + 5) - code.
    spec = ItemSpec(id="r", type="scale", substantive=(1, 2, 3, 4), reverse=True, reverse_sum=6)
    assert item_statistics({1: 2, 4: 2}, spec)["mean"] == pytest.approx((5 + 5 + 2 + 2) / 4)
