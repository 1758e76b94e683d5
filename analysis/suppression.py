"""Small-number suppression (analysis.md, "Small numbers and anonymity").

- A breakdown cell with fewer than the minimum n shows no shares, means or free text; it says
  "for få svar" (its count stays: response counts are not sensitive).
- Complementary suppression: within every line of a table (the cells that differ in one
  dimension only, plus their total where that dimension is empty), when exactly one cell is
  hidden, the next-smallest visible cell is hidden too; when there is no such cell, the total
  is hidden. Repeated until nothing changes, so no hidden cell can be recovered by subtraction.
- Questionnaires with `personal: false` (a unit answering for itself) are never suppressed.
"""
from __future__ import annotations

from collections import defaultdict

TOO_FEW = "for få svar"
SECONDARY = "for få svar (skjult, så tallet ikke kan regnes ud fra totalen)"


def primary(n: int | None, min_n: int, personal: bool = True) -> bool:
    """True when a cell with n answers must be hidden."""
    return bool(personal) and (n or 0) < min_n and (n or 0) > 0


def suppress(cells: dict[tuple, int], min_n: int, personal: bool = True) -> dict[tuple, str]:
    """Which cells to hide and why.

    cells maps a key tuple (one position per dimension; None = total over that dimension) to its
    n. Returns {key: "primary" | "secondary"} for hidden cells. A cell with n = 0 has nothing to
    hide and never counts as hidden, but it is not a usable complement either.
    """
    if not personal:
        return {}
    hidden: dict[tuple, str] = {k: "primary" for k, n in cells.items() if primary(n, min_n, personal)}
    if not cells:
        return hidden
    dims = len(next(iter(cells)))
    changed = True
    while changed:
        changed = False
        for d in range(dims):
            lines: dict[tuple, list[tuple]] = defaultdict(list)
            for key in cells:
                rest = key[:d] + key[d + 1:]
                lines[rest].append(key)
            for rest, keys in lines.items():
                members = [k for k in keys if k[d] is not None]
                total = [k for k in keys if k[d] is None]
                if not total or len(members) == 0:
                    continue
                hidden_members = [k for k in members if k in hidden]
                total_hidden = total[0] in hidden
                if total_hidden and not hidden_members:
                    # A hidden total with every part shown can be recovered by addition.
                    candidates = [k for k in members if cells[k] > 0]
                elif not total_hidden and len(hidden_members) == 1:
                    # One hidden part next to a shown total: total minus the rest gives it away.
                    candidates = [k for k in members if k not in hidden and cells[k] > 0]
                else:
                    continue
                if candidates:
                    smallest = min(candidates, key=lambda k: (cells[k], str(k)))
                    hidden[smallest] = "secondary"
                    changed = True
                elif not total_hidden:
                    hidden[total[0]] = "secondary"
                    changed = True
    return hidden


def spread(values: dict[str, tuple[float | None, int]], min_n: int, personal: bool = True, unit: str = "procent",
           digits: int = 0) -> dict:
    """Anonymous spread across units: min and max of the values of units with at least min_n answers.

    values: {unit: (value, n)}. Returns {"min", "max", "n_units", "text"} without naming units.
    """
    from .formatting import decimal

    usable = [v for v, n in values.values() if v is not None and (not personal or n >= min_n)]
    if not usable:
        return {"min": None, "max": None, "n_units": 0, "text": TOO_FEW}
    low, high = min(usable), max(usable)
    text = f"varierer mellem {decimal(low, digits)} og {decimal(high, digits)} {unit}".strip()
    if len(usable) == 1:
        text = f"{decimal(low, digits)} {unit} (kun én enhed med nok svar)".strip()
    return {"min": low, "max": high, "n_units": len(usable), "text": text}
