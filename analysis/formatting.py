"""Danish number and date formatting for tables, captions and figures."""
from __future__ import annotations

import datetime as dt

MONTHS_DA = ["januar", "februar", "marts", "april", "maj", "juni", "juli", "august", "september", "oktober", "november", "december"]


def rounded(value: float | None, digits: int = 4) -> float | None:
    """A number for JSON/CSV output: rounded, None kept (the tables round the display, not this)."""
    return None if value is None else round(value, digits)


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


def round_label(name: str, opens: str | dt.date | None = None) -> str:
    """A round's label in figures: 'marts 2013' when the name is just the month, else
    'Måling 1 (marts 2019)'; the name alone without a date."""
    month = month_year(opens) if opens else ""
    if not month or name.strip().casefold() == month:
        return month or name
    return f"{name} ({month})"


def signed(value: float | None, digits: int = 1, unit: str = "") -> str:
    """+3,2 procentpoint / -0,15 skalapoint (from the unrounded value)."""
    if value is None:
        return "–"
    sign = "+" if value > 0 else ("−" if value < 0 else "±")
    return f"{sign}{decimal(abs(value), digits)}" + (f" {unit}" if unit else "")


def shorten(text: str, width: int) -> str:
    """The text cut to at most `width` characters, the last one an ellipsis when cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


def caption(source: str, group: str | None, n_text: str, scale: str, ved_ikke: str, suppression: str | None = None,
            extra: str | None = None) -> str:
    """The caption data every figure and table carries (analysis.md, Formatting)."""
    parts = [f"Kilde: {source}.", f"Gruppe: {group or 'alle grupper'}.", n_text + ".", f"Skala: {scale}.", ved_ikke]
    if extra:
        parts.append(extra)
    if suppression:
        parts.append(suppression)
    return "\n".join(p.strip() for p in parts if p)
