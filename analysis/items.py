"""Item statistics, computed from category counts (exact for means, SD and CI), and trends.

Rules (analysis.md):
- N (`n`) is everyone who answered the item, "Ved ikke" included; `n_valid` the substantive
  answers behind the mean.
- Shares are n_category / N in percent ("Ved ikke" stays in the denominator and is shown as its
  own category); `shares_valid` leave the non-substantive codes out of the denominator.
- Top-1 is the share of the highest substantive code ("i høj grad"), top-2 of the two highest.
- Means over substantive answers only (reverse-keyed items reversed first), with SD and a
  t-based 95 % confidence interval; no mean where n_valid < 2.
- Changes between rounds come from unrounded values: procentpoint for shares, scale points for
  means; tested with chi-square (category distribution) and Mann-Whitney (ordinal), rounds
  being independent samples. A trend never joins two item versions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field



@dataclass(frozen=True)
class ItemSpec:
    """What the statistics need to know about an item (from the questionnaire, via the query layer)."""

    id: str
    version: int = 1
    type: str = "scale"
    substantive: tuple[int, ...] = ()
    missing: tuple[int, ...] = ()
    reverse: bool = False
    labels: dict = field(default_factory=dict, compare=False, hash=False)
    text: str = ""
    construct: str | None = None
    reverse_sum: float | None = None   # reversed = reverse_sum - code (min + max, or the scale's reverse_max)

    @property
    def has_mean(self) -> bool:
        return self.type in ("scale", "number")

    @property
    def has_shares(self) -> bool:
        return self.type in ("scale", "single")

    def reversed_code(self, code: float) -> float:
        if not self.reverse or not self.substantive:
            return code
        total = self.reverse_sum if self.reverse_sum is not None else min(self.substantive) + max(self.substantive)
        return total - code


def _num(code) -> float:
    return float(code)


def mean_sd_ci(values_counts: dict[float, int]) -> dict:
    """n, mean, SD (ddof=1) and t-based 95 % CI from value -> count. No mean when n < 2."""
    from scipy import stats  # imported on use: at module level it cost every CLI command ~0.5 s

    n = sum(values_counts.values())
    out = {"n_valid": n, "mean": None, "sd": None, "ci_low": None, "ci_high": None}
    if n < 2:
        return out
    mean = sum(v * c for v, c in values_counts.items()) / n
    ss = sum(c * (v - mean) ** 2 for v, c in values_counts.items())
    sd = math.sqrt(ss / (n - 1))
    half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    out.update(mean=mean, sd=sd, ci_low=mean - half, ci_high=mean + half)
    return out


def item_statistics(counts: dict, spec: ItemSpec) -> dict:
    """Statistics of one cell from its code -> count table (codes as numbers or numeric strings).

    Multiple-choice items: counts holds, per option, how many respondents chose it, and under the
    key None how many answered the item (N); each share is percent of N (they can add up to more
    than 100)."""
    if spec.type == "multiple":
        return _multiple_statistics(counts, spec)
    counts = {_num(k): int(v) for k, v in counts.items() if v}
    missing = {float(c) for c in spec.missing}
    n = sum(counts.values())
    substantive = {code: c for code, c in counts.items() if code not in missing}
    n_valid = sum(substantive.values())
    row = {"n": n, "n_valid": n_valid, "mean": None, "sd": None, "ci_low": None, "ci_high": None,
           "shares": None, "shares_valid": None, "top1": None, "top2": None, "top1_valid": None, "top2_valid": None}
    if spec.has_mean:
        moments = mean_sd_ci({spec.reversed_code(code): c for code, c in substantive.items()})
        row.update({k: moments[k] for k in ("mean", "sd", "ci_low", "ci_high")})
    if spec.has_shares and n:
        order = [float(c) for c in spec.substantive] + sorted(missing)
        seen = order + sorted(set(counts) - set(order))
        row["shares"] = {code_key(code): 100.0 * counts.get(code, 0) / n for code in seen}
        if n_valid:
            subst_order = [c for c in seen if c not in missing]
            row["shares_valid"] = {code_key(code): 100.0 * counts.get(code, 0) / n_valid for code in subst_order}
        if spec.type == "scale" and spec.substantive:
            # Top-1/top-2 name answer categories ("i høj grad", "i høj eller nogen grad"): the highest
            # codes as answered, also for a reverse-keyed item (its mean is what gets reversed).
            top = sorted((float(c) for c in spec.substantive), reverse=True)
            top1 = counts.get(top[0], 0)
            top2 = top1 + (counts.get(top[1], 0) if len(top) > 1 else 0)
            row["top1"], row["top2"] = 100.0 * top1 / n, 100.0 * top2 / n
            if n_valid:
                row["top1_valid"], row["top2_valid"] = 100.0 * top1 / n_valid, 100.0 * top2 / n_valid
    return row


def _multiple_statistics(counts: dict, spec: ItemSpec) -> dict:
    n = int(counts.get(None) or 0)
    chosen = {_num(k): int(v) for k, v in counts.items() if k is not None and v}
    order = [float(c) for c in spec.substantive] + [float(c) for c in spec.missing]
    order += sorted(set(chosen) - set(order))
    shares = {code_key(code): 100.0 * chosen.get(code, 0) / n for code in order} if n else None
    return {"n": n, "n_valid": n, "mean": None, "sd": None, "ci_low": None, "ci_high": None, "shares": shares,
            "shares_valid": shares, "top1": None, "top2": None, "top1_valid": None, "top2_valid": None}


def code_key(code: float) -> str:
    """A code as the key of a shares table: 4.0 -> '4', 2.5 -> '2.5'."""
    return str(int(code)) if float(code).is_integer() else str(code)


def _expand(counts: dict, spec: ItemSpec):
    import numpy as np

    missing = {float(c) for c in spec.missing}
    pairs = [(spec.reversed_code(_num(k)), int(v)) for k, v in counts.items() if v and _num(k) not in missing]
    if not pairs:
        return np.array([])
    return np.repeat([p[0] for p in pairs], [p[1] for p in pairs])


def compare_counts(counts_a: dict, counts_b: dict, spec: ItemSpec, share: str = "top2") -> dict:
    """Change from A to B (independent samples) from unrounded values.

    diff_mean in scale points, diff_share (of `share`: top1/top2 with "Ved ikke" in N) in
    procentpoint; p_chi2 tests the substantive category distribution (2 x k chi-square),
    p_mannwhitney the ordinal shift (two-sided).
    """
    from scipy import stats  # imported on use: at module level it cost every CLI command ~0.5 s

    a, b = item_statistics(counts_a, spec), item_statistics(counts_b, spec)
    out = {"n_a": a["n"], "n_b": b["n"], "mean_a": a["mean"], "mean_b": b["mean"], "diff_mean": None,
           f"{share}_a": a[share], f"{share}_b": b[share], "diff_share": None, "diff_unit_share": "procentpoint",
           "diff_unit_mean": "skalapoint", "p_chi2": None, "p_mannwhitney": None}
    if a["mean"] is not None and b["mean"] is not None:
        out["diff_mean"] = b["mean"] - a["mean"]
    if a[share] is not None and b[share] is not None:
        out["diff_share"] = b[share] - a[share]
    missing = {float(c) for c in spec.missing}
    by_code_a, by_code_b = _by_code(counts_a), _by_code(counts_b)
    codes = sorted((by_code_a.keys() | by_code_b.keys()) - missing)
    table = [[by_code_a.get(c, 0) for c in codes], [by_code_b.get(c, 0) for c in codes]]
    keep = [j for j in range(len(codes)) if table[0][j] + table[1][j] > 0]
    if len(keep) >= 2 and sum(table[0]) and sum(table[1]):
        chi = stats.chi2_contingency([[row[j] for j in keep] for row in table], correction=False)
        out["p_chi2"] = float(chi.pvalue)
    xa, xb = _expand(counts_a, spec), _expand(counts_b, spec)
    if len(xa) and len(xb) and spec.type in ("scale", "number"):
        if len(set(xa.tolist()) | set(xb.tolist())) > 1:
            out["p_mannwhitney"] = float(stats.mannwhitneyu(xa, xb, alternative="two-sided").pvalue)
    return out


def _by_code(counts: dict) -> dict[float, int]:
    """code -> count with the codes as numbers ('4' and 4.0 are one code)."""
    totals: dict[float, int] = {}
    for k, v in counts.items():
        totals[_num(k)] = totals.get(_num(k), 0) + int(v)
    return totals


def trend_changes(series_counts: list[tuple[str, dict]], spec: ItemSpec, share: str = "top2") -> list[dict]:
    """Changes between consecutive rounds of one version's series: [(round, counts), ...]."""
    changes = []
    for (round_a, counts_a), (round_b, counts_b) in zip(series_counts, series_counts[1:]):
        change = compare_counts(counts_a, counts_b, spec, share)
        changes.append({"round_a": round_a, "round_b": round_b, "item": spec.id, "item_version": spec.version, **change})
    return changes
