"""Small-number suppression: primary cells, complementary cells that stop recovery by subtraction,
non-personal questionnaires, and the anonymous spread across units."""
from __future__ import annotations

import itertools

import pytest

from analysis.comparisons import crosstab
from analysis.items import ItemSpec
from analysis.suppression import TOO_FEW, spread, suppress


def _recoverable(cells: dict[tuple, int], hidden: dict) -> list[tuple]:
    """Hidden cells an attacker can compute: repeat 'a line with exactly one unknown' until stable.
    A line is the cells that differ in one dimension plus their total (that dimension None)."""
    known = {k: v for k, v in cells.items() if k not in hidden}
    dims = len(next(iter(cells)))
    changed = True
    while changed:
        changed = False
        for d in range(dims):
            lines: dict[tuple, list] = {}
            for key in cells:
                lines.setdefault(key[:d] + key[d + 1:], []).append(key)
            for keys in lines.values():
                total = [k for k in keys if k[d] is None]
                members = [k for k in keys if k[d] is not None]
                if not total or not members:
                    continue
                unknown = [k for k in keys if k not in known]
                if len(unknown) == 1:
                    k = unknown[0]
                    if k[d] is None:
                        known[k] = sum(known[m] for m in members)
                    else:
                        known[k] = known[total[0]] - sum(known[m] for m in members if m != k)
                    changed = True
    return [k for k in hidden if k in known]


def test_one_small_cell_next_to_a_total_hides_a_second_cell():
    cells = {("A",): 12, ("B",): 3, ("C",): 7, ("D",): 20, (None,): 42}
    hidden = suppress(cells, 5)
    assert hidden[("B",)] == "primary"
    assert hidden[("C",)] == "secondary"           # the next-smallest cell of the same line
    assert ("A",) not in hidden and ("D",) not in hidden and (None,) not in hidden
    assert _recoverable(cells, hidden) == []
    # Without the complementary cell, B would be 42 - 12 - 7 - 20 = 3.
    assert _recoverable(cells, {("B",): "primary"}) == [("B",)]


def test_primary_boundary_fewer_than_min_n_is_hidden_exactly_min_n_is_shown():
    # analysis.md: a cell with FEWER than the minimum n is hidden; n = min_n is shown; n = 0 has nothing to hide.
    cells = {("A",): 5, ("B",): 4, ("C",): 0, ("D",): 9, (None,): 18}
    hidden = suppress(cells, 5)
    assert hidden.get(("B",)) == "primary"
    assert ("C",) not in hidden                       # empty: not hidden, and not a usable complement
    assert hidden.get(("A",)) == "secondary"          # the smallest shown, non-empty cell of the line
    assert ("D",) not in hidden and (None,) not in hidden
    assert suppress({("A",): 5, ("B",): 6, (None,): 11}, 5) == {}


def test_a_single_cell_line_hides_its_total():
    cells = {("A",): 3, (None,): 3}
    hidden = suppress(cells, 5)
    assert set(hidden) == {("A",), (None,)}


def test_two_small_cells_need_no_extra_cell():
    cells = {("A",): 2, ("B",): 4, ("C",): 30, (None,): 36}
    assert set(suppress(cells, 5)) == {("A",), ("B",)}


def test_two_dimensional_table_cannot_be_undone_by_subtraction():
    # group x unit with margins; one small cell.
    counts = {("L", "A"): 9, ("L", "B"): 2, ("L", "C"): 11, ("M", "A"): 30, ("M", "B"): 25, ("M", "C"): 40}
    cells = dict(counts)
    for g in "LM":
        cells[(g, None)] = sum(v for (gg, _), v in counts.items() if gg == g)
    for u in "ABC":
        cells[(None, u)] = sum(v for (_, uu), v in counts.items() if uu == u)
    cells[(None, None)] = sum(counts.values())
    hidden = suppress(cells, 5)
    assert hidden[("L", "B")] == "primary"
    assert _recoverable(cells, hidden) == []
    assert len([k for k in hidden if hidden[k] == "secondary"]) >= 3   # a row, a column and their crossing


@pytest.mark.parametrize("seed", range(25))
def test_random_tables_never_leak(seed):
    import random

    rng = random.Random(seed)
    groups, units = "LMN"[: rng.randint(1, 3)], "ABCDE"[: rng.randint(1, 5)]
    counts = {(g, u): rng.choice([0, 1, 2, 3, 4, 6, 8, 15, 40]) for g, u in itertools.product(groups, units)}
    cells = dict(counts)
    for g in groups:
        cells[(g, None)] = sum(counts[(g, u)] for u in units)
    for u in units:
        cells[(None, u)] = sum(counts[(g, u)] for g in groups)
    cells[(None, None)] = sum(counts.values())
    hidden = suppress(cells, 5)
    assert all(k in hidden for k, n in cells.items() if 0 < n < 5)
    assert _recoverable(cells, hidden) == []


def test_not_personal_is_never_suppressed():
    cells = {("A",): 1, ("B",): 1, (None,): 2}
    assert suppress(cells, 5, personal=False) == {}


def test_spread_names_no_unit_and_leaves_out_small_units():
    values = {"Horsens": (34.2, 20), "Kolding": (66.4, 12), "Vejle": (90.0, 3), "Randers": (50.0, 9)}
    result = spread(values, 5)
    assert result["text"] == "varierer mellem 34 og 66 procent"
    assert result["n_units"] == 3 and result["max"] == pytest.approx(66.4)
    assert "Horsens" not in result["text"]
    assert spread({"A": (10.0, 2)}, 5)["text"] == TOO_FEW
    assert spread({"A": (10.0, 2), "B": (80.0, 1)}, 5, personal=False)["text"] == "varierer mellem 10 og 80 procent"


def test_crosstab_suppression_holds_in_rows_and_columns():
    spec = ItemSpec(id="x", substantive=(1, 2, 3), missing=())
    pairs = [(1, 1)] * 20 + [(1, 2)] * 3 + [(1, 3)] * 9 + [(2, 1)] * 8 + [(2, 2)] * 12 + [(2, 3)] * 10 + [(3, 1)] * 6 + [(3, 2)] * 7 + [(3, 3)] * 11
    result = crosstab(pairs, spec, spec, min_n=5)
    hidden = {tuple(k) for k in result["suppressed"]}
    assert ("1", "2") in hidden
    # Rebuild the visible table the way a reader sees it and try to recover the hidden cells.
    cells = {}
    for line in result["table"]:
        for col, cell in line["cells"].items():
            cells[(line["row"], None if col == "total" else col)] = cell["n"]
    true = {}
    for r in ("1", "2", "3"):
        for c in ("1", "2", "3"):
            true[(r, c)] = sum(1 for p in pairs if p == (int(r), int(c)))
        true[(r, None)] = sum(true[(r, c)] for c in ("1", "2", "3"))
    for c in ("1", "2", "3"):
        true[(None, c)] = sum(true[(r, c)] for r in ("1", "2", "3"))
    true[(None, None)] = len(pairs)
    shown_hidden = {k for k, v in cells.items() if v is None}
    assert shown_hidden == hidden
    assert _recoverable(true, {k: "x" for k in hidden}) == []
    line = next(l for l in result["table"] if l["row"] == "1")
    assert line["cells"]["2"]["note"] == TOO_FEW and line["cells"]["2"]["percent"] is None
