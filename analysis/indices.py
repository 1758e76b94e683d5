"""Index scores (fidelity phases and other composite scores), exactly as analysis.md says.

1. Per unit (or respondent) and round: the mean of the index's items that were answered;
   unanswered and "ved ikke" items are left out (never counted as zero). Optionally a minimum
   share of the items must be answered before the index counts.
2. Across units: the mean of the unit means (each unit weighs the same), with n units.
   Pooling all item answers (`pooled_mean`) gives a different number when answers are missing;
   captions say which was used.

Inputs are plain data: values already have "Ved ikke"/missing as None and reverse keying applied
(the query layer does that with Questionnaire.reverse_value).
"""
from __future__ import annotations

import math
from statistics import fmean

POOLED_NOTE = "Indeks: gennemsnit af enhedernes gennemsnit (hver enhed vejer ens)"


def _ok(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def respondent_index(values: dict[str, float | None], items: list[str], min_share: float = 0.0) -> float | None:
    """Mean of the answered items of `items`; None when none answered or the answered share is
    below `min_share`."""
    if not items:
        return None
    answered = [float(values[i]) for i in items if _ok(values.get(i))]
    if not answered or len(answered) / len(items) < min_share - 1e-12:
        return None
    return fmean(answered)


def mean_of_unit_means(unit_scores: dict[str, float | None]) -> tuple[float | None, int]:
    """Mean of the units' scores, each unit weighing the same; returns (mean, n_units)."""
    scores = [float(s) for s in unit_scores.values() if _ok(s)]
    if not scores:
        return None, 0
    return fmean(scores), len(scores)


def pooled_mean(rows: list[dict[str, float | None]], items) -> float | None:
    """The alternative: the mean of every answered item value of every row, pooled."""
    values = [float(row[i]) for row in rows for i in items if _ok(row.get(i))]
    return fmean(values) if values else None


def cronbach_alpha(matrix: list[list[float]]) -> float | None:
    """Cronbach's alpha over complete cases (rows with a value for every item).

    alpha = k/(k-1) * (1 - sum(item variances) / variance(total)), sample variances (ddof=1).
    None when fewer than 2 items, fewer than 3 complete cases, or zero total variance.
    """
    rows = [[float(v) for v in row] for row in matrix if row and all(_ok(v) for v in row)]
    if not rows:
        return None
    k = len(rows[0])
    rows = [r for r in rows if len(r) == k]
    n = len(rows)
    if k < 2 or n < 3:
        return None

    def var(xs: list[float]) -> float:
        m = fmean(xs)
        return sum((x - m) ** 2 for x in xs) / (len(xs) - 1)

    item_vars = sum(var([r[j] for r in rows]) for j in range(k))
    total_var = var([sum(r) for r in rows])
    if total_var <= 0:
        return None
    return k / (k - 1) * (1 - item_vars / total_var)


def traffic_light(score: float | None, green: float, yellow: float) -> str | None:
    """'green' when score >= green, 'yellow' when >= yellow, else 'red'; None without a score."""
    if not _ok(score):
        return None
    if score >= green - 1e-12:
        return "green"
    if score >= yellow - 1e-12:
        return "yellow"
    return "red"


def index_table(rows: list[dict], items: list[str], unit_key: str | None = "unit", min_share: float = 0.0,
                thresholds: tuple[float, float] | None = None) -> dict:
    """Index for one round: rows are respondents {unit_key: ..., item: value-or-None}.

    With unit_key: respondent indices are averaged per unit first (unit means), then the mean of
    unit means. Without: the mean of respondent indices. Returns the score, n (units or
    respondents), n_respondents, per-unit scores with traffic lights, alpha and the pooled mean.
    """
    respondent_scores = []
    per_unit: dict[str, list[float]] = {}
    for row in rows:
        score = respondent_index(row, items, min_share)
        if score is None:
            continue
        respondent_scores.append(score)
        if unit_key:
            per_unit.setdefault(row.get(unit_key) or "", []).append(score)
    if unit_key:
        unit_scores = {u: fmean(s) for u, s in sorted(per_unit.items())}
        score, n = mean_of_unit_means(unit_scores)
    else:
        unit_scores = {}
        score, n = (fmean(respondent_scores), len(respondent_scores)) if respondent_scores else (None, 0)
    matrix = [[row.get(i) for i in items] for row in rows]
    units = [{"unit": u, "score": s, "n": len(per_unit[u]),
              "light": traffic_light(s, *thresholds) if thresholds else None} for u, s in unit_scores.items()]
    return {"score": score, "n": n, "n_respondents": len(respondent_scores), "units": units,
            "alpha": cronbach_alpha(matrix), "pooled": pooled_mean(rows, items),
            "light": traffic_light(score, *thresholds) if thresholds else None}
