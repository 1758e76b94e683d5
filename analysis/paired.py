"""Paired (panel) comparisons between two rounds (analysis.md).

Only those who answered the item in both rounds count: n pairs, mean of A, mean of B, the mean
difference (B - A), a paired t-test and a Wilcoxon signed-rank test. Panel counts put each person
once, in the highest set they belong to ("only round A", "only round B", "both rounds").
"""
from __future__ import annotations

import math
from statistics import fmean



def _ok(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def paired_comparison(a: dict[str, float | None], b: dict[str, float | None]) -> dict:
    """a, b: panel key -> value (None = not answered / "Ved ikke"). diff is B minus A."""
    from scipy import stats  # imported on use: at module level it cost every CLI command ~0.5 s

    keys = sorted(k for k in a.keys() & b.keys() if _ok(a[k]) and _ok(b[k]))
    xs = [float(a[k]) for k in keys]
    ys = [float(b[k]) for k in keys]
    out = {"n_pairs": len(keys), "mean_a": None, "mean_b": None, "diff": None, "sd_diff": None,
           "p_ttest": None, "p_wilcoxon": None}
    if not keys:
        return out
    out["mean_a"], out["mean_b"] = fmean(xs), fmean(ys)
    diffs = [y - x for x, y in zip(xs, ys)]
    out["diff"] = fmean(diffs)
    if len(keys) >= 2:
        m = out["diff"]
        out["sd_diff"] = math.sqrt(sum((d - m) ** 2 for d in diffs) / (len(diffs) - 1))
        if all(d == 0 for d in diffs):
            # No change at all: nothing to test against; both tests would divide by zero.
            out["p_ttest"], out["p_wilcoxon"] = 1.0, 1.0
        else:
            if out["sd_diff"] > 0:
                out["p_ttest"] = float(stats.ttest_rel(ys, xs).pvalue)
            else:
                out["p_ttest"] = 0.0
            out["p_wilcoxon"] = float(stats.wilcoxon(ys, xs, zero_method="wilcox").pvalue)
    return out


def panel_counts(answered: dict[str, set]) -> dict:
    """answered: round label -> set of panel keys who answered (in round order, 2 rounds or more).

    Each person counts once, in the highest set they belong to: for two rounds A, B the result
    has only_a, only_b and both; for more rounds, `patterns` counts each combination.
    """
    labels = list(answered)
    people = set().union(*answered.values()) if answered else set()
    patterns: dict[str, int] = {}
    for person in people:
        combo = "+".join(label for label in labels if person in answered[label])
        patterns[combo] = patterns.get(combo, 0) + 1
    out = {"people": len(people), "patterns": dict(sorted(patterns.items(), key=lambda kv: (-kv[0].count("+"), kv[0])))}
    if len(labels) == 2:
        a, b = answered[labels[0]], answered[labels[1]]
        out.update(only_a=len(a - b), only_b=len(b - a), both=len(a & b))
    return out
