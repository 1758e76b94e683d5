"""Danish number and date formatting for tables, captions and figures."""
from __future__ import annotations

import datetime as dt

MONTHS_DA = ["januar", "februar", "marts", "april", "maj", "juni", "juli", "august", "september", "oktober", "november", "december"]


def decimal(value: float | None, digits: int = 1) -> str:
    """12.345 -> '12,3' (decimal comma, dot as thousands separator)."""
    if value is None:
        return "–"
    text = f"{value:,.{digits}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def percent(value: float | None, digits: int = 1) -> str:
    """57.53 -> '57,5 %'."""
    return "–" if value is None else f"{decimal(value, digits)} %"


def month_year(value: str | dt.date | None) -> str:
    """'2013-03-01' -> 'marts 2013'."""
    if value in (None, ""):
        return ""
    date = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
    return f"{MONTHS_DA[date.month - 1]} {date.year}"
