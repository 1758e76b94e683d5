"""Figures for evaluation reports (matplotlib, Agg): every figure is written as PNG, SVG and PDF,
each with the CSV of the numbers it draws, and carries its caption (source, group, N per round,
scale, "Ved ikke" rule, suppression notes) in the image itself.

Inputs are plain data prepared by the query layer; nothing here reads a database.
"""
from __future__ import annotations

import csv
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# Text stays text in SVG and PDF: searchable, editable by the evaluator, readable by screen readers.
matplotlib.rcParams["svg.fonttype"] = "none"
matplotlib.rcParams["pdf.fonttype"] = 42
from matplotlib.ticker import FuncFormatter  # noqa: E402

from .formatting import decimal, percent, shorten  # noqa: E402
from .suppression import TOO_FEW  # noqa: E402

FORMATS = ("png", "svg", "pdf")
GROUP_COLOURS = ["#1f5f8b", "#c8553d", "#2a9d8f", "#8e6c8a", "#d4a017", "#4d4d4d", "#6a994e", "#e07a9f", "#5e60ce", "#8c5e3c"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "h", "<"]
# Sequential blues for ordered categories (lowest first), grey for "Ved ikke".
CATEGORY_COLOURS = ["#b2182b", "#ef8a62", "#fddbc7", "#d1e5f0", "#67a9cf", "#2166ac", "#053061"]
MISSING_COLOUR = "#9e9e9e"
LIGHT_COLOURS = {"green": "#d8f0d8", "yellow": "#fff3c4", "red": "#f8d7d3"}


def _comma(digits: int = 1):
    return FuncFormatter(lambda value, _pos: decimal(value, digits))


def _percent_axis():
    return FuncFormatter(lambda value, _pos: percent(value, 0))


def _wrap(text: str, width: int = 110) -> list[str]:
    lines = []
    for paragraph in text.split("\n"):
        lines.extend(textwrap.wrap(paragraph, width) or [""])
    return lines


def _figure(width: float, plot_height: float, title: str, caption: str, top_extra: float = 0.0):
    """A figure with room for a wrapped title above and the caption below the axes."""
    title_lines = _wrap(title, int(width * 11))
    caption_lines = _wrap(caption, int(width * 15))
    top_in = 0.3 + 0.24 * len(title_lines) + top_extra
    bottom_in = 0.75 + 0.17 * len(caption_lines)
    height = plot_height + top_in + bottom_in
    fig = plt.figure(figsize=(width, height))
    fig.text(0.02, 1 - 0.12 / height, "\n".join(title_lines), ha="left", va="top", fontsize=11, fontweight="bold")
    fig.text(0.02, 0.1 / height, "\n".join(caption_lines), ha="left", va="bottom", fontsize=7.5, color="#333333")
    return fig, (bottom_in / height, 1 - top_in / height)


def save(fig, base: str | Path, columns: list[str], rows: list[dict]) -> list[Path]:
    """Write base.png/.svg/.pdf and base.csv (the numbers drawn); returns the paths."""
    base = Path(base)
    base.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in FORMATS:
        path = base.with_suffix(f".{fmt}")
        fig.savefig(path, dpi=150 if fmt == "png" else None, metadata={"Creator": "surveyapp"} if fmt != "png" else None)
        paths.append(path)
    plt.close(fig)
    csv_path = base.with_suffix(".csv")
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    paths.append(csv_path)
    return paths


def n_caption(n_by_round: dict[str, dict[str, int | None]]) -> str:
    """'N: marts 2013: ledere 38, medarbejdere 141; september 2013: …'"""
    parts = []
    for round_label, groups in n_by_round.items():
        values = set(groups.values())
        if len(groups) > 2 and len(values) == 1:
            parts.append(f"{round_label}: {next(iter(values)) if None not in values else '–'}")
            continue
        inner = ", ".join(f"{g} {n if n is not None else '–'}" if g else f"{n if n is not None else '–'}" for g, n in groups.items())
        parts.append(f"{round_label}: {inner}")
    return "N: " + "; ".join(parts)


# ---------------------------------------------------------------- trend of means with CI bands


def trend_means(series: list[dict], rounds: list[str], base: str | Path, title: str, caption: str,
                scale: tuple[float, float] | None = None, ylabel: str = "Gennemsnit") -> list[Path]:
    """series: [{"label": group, "starts": round label or None, "points": [{"round", "mean", "ci_low",
    "ci_high", "n", "suppressed"}]}]; rounds: every round label on the x axis, in order."""
    fig, (bottom, top) = _figure(8, 3.6, title, caption)
    ax = fig.add_axes([0.09, bottom, 0.62, top - bottom])
    x_of = {r: i for i, r in enumerate(rounds)}
    csv_rows = []
    too_few = []
    for k, s in enumerate(series):
        colour = GROUP_COLOURS[k % len(GROUP_COLOURS)]
        pts = [p for p in s["points"] if p["round"] in x_of]
        shown = [p for p in pts if not p.get("suppressed") and p.get("mean") is not None]
        xs = [x_of[p["round"]] for p in shown]
        if shown:
            ax.plot(xs, [p["mean"] for p in shown], marker=MARKERS[k % len(MARKERS)], color=colour, label=s["label"], linewidth=2)
            lows = [p["ci_low"] if p.get("ci_low") is not None else p["mean"] for p in shown]
            highs = [p["ci_high"] if p.get("ci_high") is not None else p["mean"] for p in shown]
            ax.fill_between(xs, lows, highs, color=colour, alpha=0.15, linewidth=0)
            # Whiskers as well, so the interval shows where a series has a single point.
            ax.errorbar(xs, [p["mean"] for p in shown], yerr=[[p["mean"] - lo for p, lo in zip(shown, lows)],
                                                             [hi - p["mean"] for p, hi in zip(shown, highs)]],
                        fmt="none", ecolor=colour, alpha=0.6, capsize=3, linewidth=1)
            for p, x in zip(shown, xs if len(series) <= 3 else []):
                ax.annotate(decimal(p["mean"], 2), (x, p["mean"]), textcoords="offset points", xytext=(6, 5 - 12 * (k % 2)),
                            fontsize=7.5, color=colour)
        for p in pts:
            if p.get("suppressed") or p.get("mean") is None:
                too_few.append(f"{s['label']} {p['round']}")
            csv_rows.append({"series": s["label"], "round": p["round"], "mean": p.get("mean"), "ci_low": p.get("ci_low"),
                             "ci_high": p.get("ci_high"), "n": p.get("n"), "suppressed": bool(p.get("suppressed")),
                             "series_starts": s.get("starts")})
        if s.get("starts") and s["starts"] != rounds[0] and s["starts"] in x_of:
            ax.axvline(x_of[s["starts"]] - 0.5, color="#777777", linestyle=":", linewidth=1)
            ax.text(x_of[s["starts"]] - 0.47, 1.02, f"serien starter {s['starts']}", transform=ax.get_xaxis_transform(),
                    fontsize=7, color="#555555", va="bottom")
    ax.set_xticks(range(len(rounds)), [_tick(r) for r in rounds], fontsize=8.5)
    ax.set_xlim(-0.4, len(rounds) - 0.6)
    if scale:
        ax.set_ylim(scale[0] - 0.1, scale[1] + 0.1)
        ax.set_yticks([v for v in range(int(scale[0]), int(scale[1]) + 1)])
    ax.yaxis.set_major_formatter(_comma(1))
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", color="#e5e5e5")
    ax.spines[["top", "right"]].set_visible(False)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False, fontsize=8,
                  title="Bånd: 95 %-konfidensinterval", title_fontsize=7)
    if too_few:
        ax.text(1.02, 0.05, "For få svar (ikke vist):\n" + "\n".join(too_few), transform=ax.transAxes, fontsize=7,
                color="#8a1c1c", va="bottom")
    return save(fig, base, ["series", "round", "mean", "ci_low", "ci_high", "n", "suppressed", "series_starts"], csv_rows)


# ---------------------------------------------------------------- 100 % stacked category shares


def stacked_shares(bars: list[dict], options: list[tuple[int, str]], missing: list[tuple[int, str]], base: str | Path,
                   title: str, caption: str) -> list[Path]:
    """The Likert picture: one horizontal 100 % bar per round (and group) of the substantive
    categories (shares of the substantive answers), with "Ved ikke" apart on its own axis as a
    share of everyone who answered the item. bars: [{"label", "n", "n_valid", "shares" (of N),
    "shares_valid", "suppressed"}]; options in scale order (lowest code first is not required)."""
    ordered = sorted(options, key=lambda o: o[0])  # lowest substantive code left
    height = 0.55 * len(bars) + 0.9
    fig, (bottom, top) = _figure(9, height, title, caption, top_extra=0.4)
    ax = fig.add_axes([0.26, bottom, 0.52, top - bottom])
    ax_m = fig.add_axes([0.85, bottom, 0.11, top - bottom], sharey=ax) if missing else None
    palette = _palette(len(ordered))
    csv_rows = []
    y_labels = []
    for y, bar in enumerate(bars):
        label = "\n".join(shorten(line, 34) for line in str(bar["label"]).split("\n"))
        n_text = f"(N = {bar.get('n') if bar.get('n') is not None else '–'})"
        y_labels.append(label + (" " if "\n" in label else "\n") + n_text)
        row = {"bar": bar["label"], "n": bar.get("n"), "n_valid": bar.get("n_valid"), "suppressed": bool(bar.get("suppressed"))}
        if bar.get("suppressed") or not bar.get("shares_valid"):
            ax.barh(y, 100, color="#f2f2f2", edgecolor="#cccccc", hatch="//")
            ax.text(50, y, TOO_FEW, ha="center", va="center", fontsize=8, color="#8a1c1c")
            csv_rows.append(row)
            continue
        left = 0.0
        for (code, label), colour in zip(ordered, palette):
            value = bar["shares_valid"].get(str(code), 0.0) or 0.0
            row[f"share_valid_{code}"] = value
            ax.barh(y, value, left=left, color=colour, edgecolor="white", linewidth=0.5)
            if value >= 6:
                ax.text(left + value / 2, y, f"{decimal(value, 0)}", ha="center", va="center", fontsize=7.5,
                        color="white" if _dark(colour) else "black")
            left += value
        if ax_m is not None:
            m_value = sum((bar.get("shares") or {}).get(str(code), 0.0) or 0.0 for code, _ in missing)
            row["share_missing"] = m_value
            ax_m.barh(y, m_value, color=MISSING_COLOUR)
            ax_m.text(m_value + 1, y, f"{decimal(m_value, 0)}", va="center", fontsize=7.5)
        csv_rows.append(row)
    ax.set_yticks(range(len(bars)), y_labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.xaxis.set_major_formatter(_percent_axis())
    ax.set_xlabel("Andel af de substantielle svar")
    ax.spines[["top", "right"]].set_visible(False)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in palette]
    labels = [label for _, label in ordered]
    if ax_m is not None:
        handles.append(plt.Rectangle((0, 0), 1, 1, color=MISSING_COLOUR))
        labels.append(" / ".join(label for _, label in missing) + " (af alle svar)")
        ax_m.set_xlim(0, 40)
        ax_m.xaxis.set_major_formatter(_percent_axis())
        ax_m.tick_params(axis="y", left=False, labelleft=False)
        ax_m.spines[["top", "right"]].set_visible(False)
    ax.legend(handles, labels, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=min(len(labels), 3), frameon=False, fontsize=7.5)
    columns = ["bar", "n", "n_valid", "suppressed"] + [f"share_valid_{c}" for c, _ in ordered] + (["share_missing"] if missing else [])
    return save(fig, base, columns, csv_rows)


def _palette(k: int) -> list[str]:
    if k <= 1:
        return [CATEGORY_COLOURS[-2]]
    if k == 2:
        return [CATEGORY_COLOURS[1], CATEGORY_COLOURS[5]]
    if k == 3:
        return [CATEGORY_COLOURS[1], CATEGORY_COLOURS[3], CATEGORY_COLOURS[5]]
    if k == 4:
        return [CATEGORY_COLOURS[0], CATEGORY_COLOURS[1], CATEGORY_COLOURS[4], CATEGORY_COLOURS[5]]
    if k == 5:
        return [CATEGORY_COLOURS[0], CATEGORY_COLOURS[1], CATEGORY_COLOURS[3], CATEGORY_COLOURS[4], CATEGORY_COLOURS[5]]
    return [CATEGORY_COLOURS[int(i * (len(CATEGORY_COLOURS) - 1) / (k - 1))] for i in range(k)]


def _dark(colour: str) -> bool:
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.299 * r + 0.587 * g + 0.114 * b < 140


# ---------------------------------------------------------------- index trends per phase


def index_trends(series: list[dict], rounds: list[str], base: str | Path, title: str, caption: str,
                 scale: tuple[float, float] = (1, 5), thresholds: tuple[float, float] | None = None) -> list[Path]:
    """series: [{"label": index title, "points": [{"round", "score", "n", "suppressed"}]}]; the
    traffic-light bands (green >= thresholds[0], yellow >= thresholds[1]) are drawn behind."""
    fig, (bottom, top) = _figure(8, 3.6, title, caption)
    ax = fig.add_axes([0.09, bottom, 0.6, top - bottom])
    if thresholds:
        green, yellow = thresholds
        ax.axhspan(green, scale[1] + 0.1, color=LIGHT_COLOURS["green"], zorder=0)
        ax.axhspan(yellow, green, color=LIGHT_COLOURS["yellow"], zorder=0)
        ax.axhspan(scale[0] - 0.1, yellow, color=LIGHT_COLOURS["red"], zorder=0)
    x_of = {r: i for i, r in enumerate(rounds)}
    csv_rows = []
    for k, s in enumerate(series):
        colour = GROUP_COLOURS[k % len(GROUP_COLOURS)]
        shown = [p for p in s["points"] if p["round"] in x_of and p.get("score") is not None and not p.get("suppressed")]
        if shown:
            ax.plot([x_of[p["round"]] for p in shown], [p["score"] for p in shown], marker=MARKERS[k % len(MARKERS)],
                    color=colour, linewidth=2, label=s["label"])
            for p in (shown if len(series) <= 3 else []):
                ax.annotate(decimal(p["score"], 1), (x_of[p["round"]], p["score"]), textcoords="offset points",
                            xytext=(6, 4 + 9 * (k % 3) - 9), fontsize=7.5, color=colour)
        for p in s["points"]:
            csv_rows.append({"index": s["label"], "round": p["round"], "score": p.get("score"), "n": p.get("n"),
                             "suppressed": bool(p.get("suppressed"))})
    ax.set_xticks(range(len(rounds)), [_tick(r) for r in rounds], fontsize=8.5)
    ax.set_xlim(-0.4, len(rounds) - 0.6)
    ax.set_ylim(scale[0] - 0.1, scale[1] + 0.1)
    ax.yaxis.set_major_formatter(_comma(1))
    ax.set_ylabel("Indeksscore")
    ax.spines[["top", "right"]].set_visible(False)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False, fontsize=8)
    return save(fig, base, ["index", "round", "score", "n", "suppressed"], csv_rows)


# ---------------------------------------------------------------- diverging bars


def diverging(bars: list[dict], options: list[tuple[int, str]], base: str | Path, title: str, caption: str) -> list[Path]:
    """Diverging stacked bars: the lower half of the scale to the left of 0, the upper half to the
    right (a middle category of an odd scale is split across 0). Shares of the substantive answers.
    bars: [{"label", "n", "shares_valid", "suppressed"}]."""
    ordered = sorted(options, key=lambda o: o[0])
    k = len(ordered)
    palette = _palette(k)
    height = 0.52 * len(bars) + 0.8
    fig, (bottom, top) = _figure(9.5, height, title, caption, top_extra=0.25)
    ax = fig.add_axes([0.37, bottom, 0.58, top - bottom])
    csv_rows = []
    labels = []
    for y, bar in enumerate(bars):
        lines = textwrap.wrap(str(bar["label"]), 40)
        text = "\n".join(lines[:2]) + ("…" if len(lines) > 2 else "")
        labels.append(text + f" (N = {bar.get('n') if bar.get('n') is not None else '–'})")
        row = {"bar": bar["label"], "n": bar.get("n"), "suppressed": bool(bar.get("suppressed"))}
        if bar.get("suppressed") or not bar.get("shares_valid"):
            ax.text(0, y, TOO_FEW, ha="center", va="center", fontsize=8, color="#8a1c1c")
            csv_rows.append(row)
            continue
        values = [bar["shares_valid"].get(str(code), 0.0) or 0.0 for code, _ in ordered]
        for (code, _), v in zip(ordered, values):
            row[f"share_valid_{code}"] = v
        half = k // 2
        neg = values[:half]
        mid = values[half] if k % 2 else 0.0
        pos = values[half + (k % 2):]
        left = -(sum(neg) + mid / 2)
        for v, colour in zip(neg + ([mid] if k % 2 else []) + pos, palette):
            ax.barh(y, v, left=left, color=colour, edgecolor="white", linewidth=0.5)
            if v >= 7:
                ax.text(left + v / 2, y, decimal(v, 0), ha="center", va="center", fontsize=7,
                        color="white" if _dark(colour) else "black")
            left += v
        csv_rows.append(row)
    ax.axvline(0, color="#333333", linewidth=0.8)
    ax.set_yticks(range(len(bars)), labels, fontsize=7.5)
    ax.invert_yaxis()
    ax.set_xlim(-100, 100)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: percent(abs(v), 0)))
    ax.spines[["top", "right"]].set_visible(False)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in palette]
    ax.legend(handles, [label for _, label in ordered], loc="lower left", bbox_to_anchor=(0, 1.0), ncol=min(k, 5),
              frameon=False, fontsize=7.5)
    return save(fig, base, ["bar", "n", "suppressed"] + [f"share_valid_{c}" for c, _ in ordered], csv_rows)


def _tick(label: str) -> str:
    """Round labels on an x axis: 'Måling 1 (marts 2019)' on two lines."""
    return label.replace(" (", "\n(")


# ---------------------------------------------------------------- response rates per unit x group


def response_rates(rows: list[dict], base: str | Path, title: str, caption: str) -> list[Path]:
    """Grouped horizontal bars: one bar per unit and group, labelled "57,5 % (23/40)".
    rows: [{"unit", "group", "rate", "responded", "invited"}] (no totals)."""
    units = sorted({r["unit"] for r in rows})
    groups = sorted({r["group"] for r in rows})
    per = {(r["unit"], r["group"]): r for r in rows}
    bar_h = 0.8 / max(1, len(groups))
    height = 0.38 * len(units) * max(1, len(groups)) * 0.6 + 0.9
    fig, (bottom, top) = _figure(8.5, height, title, caption)
    ax = fig.add_axes([0.16, bottom, 0.6, top - bottom])
    csv_rows = []
    for gi, group in enumerate(groups):
        colour = GROUP_COLOURS[gi % len(GROUP_COLOURS)]
        for ui, unit in enumerate(units):
            r = per.get((unit, group))
            if r is None:
                continue
            y = ui + (gi - (len(groups) - 1) / 2) * bar_h
            rate = r.get("rate") or 0.0
            ax.barh(y, rate, height=bar_h * 0.9, color=colour, label=group if ui == 0 else None)
            ax.text(rate + 1, y, f"{decimal(r.get('rate'), 1)} % ({r.get('responded')}/{r.get('invited')})", va="center",
                    fontsize=7)
            csv_rows.append({"unit": unit, "group": group, "invited": r.get("invited"), "responded": r.get("responded"),
                             "rate": r.get("rate")})
    ax.set_yticks(range(len(units)), units, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 125)
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.xaxis.set_major_formatter(_percent_axis())
    ax.set_xlabel("Svarprocent")
    ax.spines[["top", "right"]].set_visible(False)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False, fontsize=8)
    return save(fig, base, ["unit", "group", "invited", "responded", "rate"], csv_rows)
