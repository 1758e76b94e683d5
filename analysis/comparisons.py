"""Group comparisons on parallel items (linked by construct) and cross-tabs between two items."""
from __future__ import annotations


from .items import ItemSpec, code_key, compare_counts
from .suppression import TOO_FEW, suppress


def group_comparison(counts_by_group: dict[str, tuple[ItemSpec, dict]], reference: str, other: str, share: str = "top2") -> dict:
    """Compare two groups on items of one construct (e.g. ledere vs medarbejdere).

    counts_by_group: group -> (spec of that group's item, code -> count). diff = other - reference,
    in scale points (means) and procentpoint (shares); tests as for independent rounds.
    Both items must share the scale (the same substantive codes), or no test is made.
    """
    spec_a, counts_a = counts_by_group[reference]
    spec_b, counts_b = counts_by_group[other]
    if tuple(sorted(spec_a.substantive)) != tuple(sorted(spec_b.substantive)):
        raise ValueError(f"items {spec_a.id} and {spec_b.id} do not share a scale; they cannot be compared")
    result = compare_counts(counts_a, counts_b, spec_a, share)
    return {"construct": spec_a.construct, "group_a": reference, "group_b": other,
            "item_a": spec_a.id, "item_b": spec_b.id, **result}


def crosstab(pairs: list[tuple], row_spec: ItemSpec, col_spec: ItemSpec, min_n: int = 5, personal: bool = True) -> dict:
    """Cross-tab of two items from (row_code, col_code) pairs of respondents who answered both.

    Returns counts, row percentages, totals, chi-square (substantive codes only) and the
    suppression of every cell (and margin) below min_n with complementary cells.
    """
    from scipy import stats  # imported on use: at module level it cost every CLI command ~0.5 s

    rows = [code_key(c) for c in list(row_spec.substantive) + list(row_spec.missing)]
    cols = [code_key(c) for c in list(col_spec.substantive) + list(col_spec.missing)]
    counts: dict[tuple, int] = {}
    for r, c in pairs:
        if r is None or c is None:
            continue
        kr, kc = code_key(r), code_key(c)
        if kr not in rows:
            rows.append(kr)
        if kc not in cols:
            cols.append(kc)
        counts[(kr, kc)] = counts.get((kr, kc), 0) + 1
    cells = {(r, c): counts.get((r, c), 0) for r in rows for c in cols}
    for r in rows:
        cells[(r, None)] = sum(counts.get((r, c), 0) for c in cols)
    for c in cols:
        cells[(None, c)] = sum(counts.get((r, c), 0) for r in rows)
    cells[(None, None)] = sum(counts.values())
    hidden = suppress(cells, min_n, personal)
    table = []
    for r in rows + [None]:
        total = cells[(r, None)]
        line = {"row": r, "cells": {}, "total": None if (r, None) in hidden else total}
        for c in cols + [None]:
            n = cells[(r, c)]
            name = c if c is not None else "total"
            if (r, c) in hidden:
                line["cells"][name] = {"n": None, "percent": None, "note": TOO_FEW}
            else:
                line["cells"][name] = {"n": n, "percent": (100.0 * n / total) if total and (r, None) not in hidden else None}
        table.append(line)
    subst_r = [code_key(c) for c in row_spec.substantive]
    subst_c = [code_key(c) for c in col_spec.substantive]
    matrix = [[counts.get((r, c), 0) for c in subst_c] for r in subst_r]
    matrix = [row for row in matrix if sum(row)]
    p = None
    if len(matrix) >= 2:
        keep = [j for j in range(len(subst_c)) if sum(row[j] for row in matrix)]
        if len(keep) >= 2:
            p = float(stats.chi2_contingency([[row[j] for j in keep] for row in matrix], correction=False).pvalue)
    return {"rows": rows, "cols": cols, "table": table, "n": cells[(None, None)], "p_chi2": p,
            "suppressed": sorted([list(k) for k in hidden], key=str)}

