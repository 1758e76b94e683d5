"""Fidelity and implementation monitoring: pure functions over plain data.

Index scores and traffic lights come from `analysis.indices` (the same functions every report
uses); this module arranges them into a unit's profile, the units x indices overview, the
self-evaluation matrix, and suggests traffic lights for activity milestones and goal indicators.
It also draws the figures (matplotlib, no database, no Flask).

Plain-data conventions:
- an index is a dict {"id", "title", "items", "min_share", "thresholds": (green, yellow) | None,
  "targets": {round name: target} | None};
- a unit's answers in a round are {item_id: value}, with "Ved ikke"/unanswered as None and
  reverse keying already applied (the query layer does both);
- rounds are given in chronological order as {"id", "name"}.
"""
from __future__ import annotations

import io

from analysis.formatting import decimal, rounded, shorten, signed
from analysis.indices import POOLED_NOTE, cronbach_alpha, mean_of_unit_means, respondent_index, traffic_light

# The unit is set against the mean of the OTHER units only when at least this many other units
# have a score: with fewer, the "mean of the others" would all but name another municipality.
MIN_OTHER_UNITS = 3
# How many of the lowest-scoring items a profile lists ("where to act").
LOWEST_ITEMS = 5
# A count/percentage milestone at or above this share of its target (but below it) is yellow.
MILESTONE_YELLOW_SHARE = 0.8

LIGHT_LABELS = {"green": "Grøn", "yellow": "Gul", "red": "Rød", None: "Ingen", "none": "Ingen"}
STATUS_LABELS = {"ja": "Ja", "nej": "Nej", "paa_vej": "På vej", "na": "N/A"}
STATE_LABELS = {"active": "Aktiv", "dropped": "Udgået", "replaced": "Erstattet"}
# The pale traffic-light fills of the trend bands, the PDF table and the XLSX status notes.
PALE_COLOURS = {"green": "#d8f0de", "yellow": "#fff2c2", "red": "#f9d6db"}


# ---------------------------------------------------------------- index scores


def unit_index(values: dict, index: dict) -> dict:
    """One unit's score on one index in one round, with its traffic light.

    answered = items with a substantive answer (not None); the score needs at least
    min_share of the index's items answered.
    """
    items = list(index["items"])
    answered = sum(1 for i in items if values.get(i) is not None)
    score = respondent_index(values, items, index.get("min_share") or 0.0)
    thresholds = index.get("thresholds")
    light = traffic_light(score, *thresholds) if thresholds else None
    return {"score": score, "light": light, "answered": answered, "n_items": len(items)}


def round_scores(values_by_unit: dict[str, dict], indices: list[dict]) -> dict[str, dict[str, dict]]:
    """{index_id: {unit: unit_index(...)}} for one round."""
    return {index["id"]: {unit: unit_index(values, index) for unit, values in values_by_unit.items()} for index in indices}


def overview(values_by_unit: dict[str, dict], indices: list[dict], round_name: str | None = None) -> dict:
    """The units x indices matrix for one round, plus the mean of unit means per index.

    rows: [{"unit", "cells": {index_id: {"score", "light", "answered", "n_items"}}}]
    means: {index_id: {"score", "n_units", "alpha", "light", "target"}}
    """
    scores = round_scores(values_by_unit, indices)
    rows = [{"unit": unit, "cells": {index["id"]: scores[index["id"]][unit] for index in indices}}
            for unit in sorted(values_by_unit)]
    means = {}
    for index in indices:
        mean, n_units = mean_of_unit_means({u: c["score"] for u, c in scores[index["id"]].items()})
        thresholds = index.get("thresholds")
        # Alpha over the units' item answers (complete cases only; None below 3 units or 2 items).
        alpha = cronbach_alpha([[values.get(i) for i in index["items"]] for values in values_by_unit.values()])
        means[index["id"]] = {"score": mean, "n_units": n_units, "alpha": alpha,
                              "light": traffic_light(mean, *thresholds) if thresholds else None,
                              "target": (index.get("targets") or {}).get(round_name) if round_name else None}
    return {"round": round_name, "indices": [_index_head(i) for i in indices], "rows": rows, "means": means}


def overview_rows(matrix: dict) -> list[dict]:
    """The overview as flat rows (CSV/JSON): one per unit x index, then the mean rows (unit empty)."""
    rows = []
    for row in matrix["rows"]:
        for index in matrix["indices"]:
            cell = row["cells"][index["id"]]
            rows.append({"round": matrix["round"], "unit": row["unit"], "index": index["id"], "score": rounded(cell["score"]),
                         "light": cell["light"], "answered_items": cell["answered"], "n_items": cell["n_items"],
                         "n_units": None, "alpha": None})
    for index in matrix["indices"]:
        mean = matrix["means"][index["id"]]
        rows.append({"round": matrix["round"], "unit": None, "index": index["id"], "score": rounded(mean["score"]),
                     "light": mean["light"], "answered_items": None, "n_items": len(index["items"]),
                     "n_units": mean["n_units"], "alpha": rounded(mean["alpha"])})
    return rows


def comparison(unit: str, unit_scores: dict[str, float | None], min_other: int = MIN_OTHER_UNITS) -> dict:
    """The unit against the mean of the OTHER units' scores (mean of unit means).

    Suppressed (no mean, no difference) when fewer than `min_other` other units have a score.
    """
    own = unit_scores.get(unit)
    others = {u: s for u, s in unit_scores.items() if u != unit and s is not None}
    n_other = len(others)
    if n_other < min_other:
        return {"others_mean": None, "others_n": n_other, "diff": None, "suppressed": True,
                "note": f"Sammenligning vises ikke: kun {n_other} {'anden enhed' if n_other == 1 else 'andre enheder'} "
                        f"har svaret (mindst {min_other} kræves)."}
    mean, n = mean_of_unit_means(others)
    return {"others_mean": mean, "others_n": n, "diff": None if own is None else own - mean, "suppressed": False,
            "note": f"Gennemsnit af {n} andre enheder (hver enhed vejer ens)."}


def lowest_items(values: dict, items: list[str], labels: dict[str, str] | None = None, n: int = LOWEST_ITEMS,
                 previous: dict | None = None, item_index: dict[str, str] | None = None) -> list[dict]:
    """The n lowest-scoring answered items (ties in the given item order), with the previous value."""
    answered = [(values[i], position, i) for position, i in enumerate(items) if values.get(i) is not None]
    answered.sort(key=lambda t: (t[0], t[1]))
    rows = []
    for value, _, item in answered[:n]:
        before = (previous or {}).get(item)
        rows.append({"item": item, "text": (labels or {}).get(item, item), "index": (item_index or {}).get(item),
                     "value": value, "previous": before, "change": None if before is None else value - before})
    return rows


def profile(unit: str, rounds: list[dict], values: dict[int, dict[str, dict]], indices: list[dict],
            item_labels: dict[str, str] | None = None, ladders: list[dict] | None = None,
            checklists: list[dict] | None = None, min_other: int = MIN_OTHER_UNITS, n_lowest: int = LOWEST_ITEMS) -> dict:
    """A unit's fidelity profile across rounds.

    rounds: [{"id", "name"}] in order; values: {round_id: {unit: {item: value}}};
    ladders/checklists: [{"id", "text", "options": {code: label}}].
    Each index gets one row per round: score, light, change since the unit's previous round with
    a score (unrounded, in scale points; `change_from` names that round, so a skipped round shows),
    target, and the comparison with the other units (suppressed below `min_other`).
    """
    item_labels = item_labels or {}
    index_rows = []
    for index in indices:
        rows, previous = [], None  # (round name, score) of the latest earlier round with a score
        for round_ in rounds:
            by_unit = values.get(round_["id"], {})
            cells = {u: unit_index(v, index) for u, v in by_unit.items()}
            scores = {u: c["score"] for u, c in cells.items()}
            mine = cells.get(unit) or {"score": None, "light": None, "answered": 0, "n_items": len(index["items"])}
            target = (index.get("targets") or {}).get(round_["name"])
            change = None if (previous is None or mine["score"] is None) else mine["score"] - previous[1]
            rows.append({"round": round_["name"], "round_id": round_["id"], "answered_round": unit in by_unit, **mine,
                         "change": change, "change_from": previous[0] if change is not None else None, "target": target,
                         "target_met": None if (target is None or mine["score"] is None) else mine["score"] >= target - 1e-12,
                         "comparison": comparison(unit, scores, min_other) if unit in by_unit else None})
            if mine["score"] is not None:
                previous = (round_["name"], mine["score"])
        index_rows.append({**_index_head(index), "rounds": rows})
    answered_rounds = [r for r in rounds if unit in values.get(r["id"], {})]
    latest = answered_rounds[-1] if answered_rounds else None
    before = answered_rounds[-2] if len(answered_rounds) > 1 else None
    index_items = [i for index in indices for i in index["items"]]
    item_index = {i: index["id"] for index in indices for i in index["items"]}
    lowest = lowest_items(values[latest["id"]][unit], index_items, item_labels, n_lowest,
                          values[before["id"]][unit] if before else None, item_index) if latest else []
    ladder_rows = []
    for ladder in ladders or []:
        positions = []
        for round_ in rounds:
            code = values.get(round_["id"], {}).get(unit, {}).get(ladder["id"])
            positions.append({"round": round_["name"], "code": code,
                              "label": ladder["options"].get(code) if code is not None else None})
        ladder_rows.append({"item": ladder["id"], "text": ladder["text"], "steps": len(ladder["options"]),
                            "positions": positions})
    checklist_rows = []
    for checklist in checklists or []:
        per_round = []
        for round_ in rounds:
            codes = values.get(round_["id"], {}).get(unit, {}).get(checklist["id"])
            per_round.append({"round": round_["name"], "codes": codes or [],
                              "labels": [checklist["options"].get(c, str(c)) for c in (codes or [])],
                              "answered": codes is not None})
        checklist_rows.append({"item": checklist["id"], "text": checklist["text"], "rounds": per_round})
    notes = []
    for position, round_ in enumerate(rounds):
        suppressed = [ix["rounds"][position]["comparison"] for ix in index_rows
                      if (ix["rounds"][position]["comparison"] or {}).get("suppressed")]
        if suppressed:
            notes.append(f"{round_['name']}: {suppressed[0]['note']}")
    return {"unit": unit, "rounds": [r["name"] for r in rounds], "indices": index_rows, "comparison_notes": notes,
            "latest_round": latest["name"] if latest else None, "previous_round": before["name"] if before else None,
            "lowest": lowest, "ladders": ladder_rows, "checklists": checklist_rows,
            "min_other_units": min_other}


def ladder_distribution(values_by_unit: dict[str, dict], item: str, options: dict[int, str]) -> dict:
    """Shares (percent of units answering) per ladder step in one round: the 100 % stacked bar."""
    codes = [v.get(item) for v in values_by_unit.values() if v.get(item) is not None]
    n = len(codes)
    return {"n": n, "shares": {code: (100.0 * codes.count(code) / n if n else None) for code in options}}


def checklist_counts(values_by_unit: dict[str, dict], item: str, options: dict[int, str]) -> dict:
    """How many units ticked each option of a checklist (multi-select) in one round."""
    answered = [v.get(item) for v in values_by_unit.values() if v.get(item) is not None]
    return {"n": len(answered), "counts": {code: sum(1 for codes in answered if code in codes) for code in options}}


def self_evaluation_matrix(answers_by_unit: dict[str, dict], questions: list[dict]) -> dict:
    """Units x questions: each cell the code, its label and the free-text reason.

    questions: [{"id", "text", "reason_item" | None, "options": {code: label}, "missing": {code: label}}];
    answers_by_unit has raw codes (a "Ved ikke" code stays visible as its label, it is not a score).
    """
    rows = []
    for unit in sorted(answers_by_unit):
        answers = answers_by_unit[unit]
        cells = {}
        for q in questions:
            code = answers.get(q["id"])
            label = q["options"].get(code) or q.get("missing", {}).get(code) if code is not None else None
            cells[q["id"]] = {"code": code, "label": label, "substantive": code in q["options"],
                              "reason": answers.get(q["reason_item"]) if q.get("reason_item") else None}
        rows.append({"unit": unit, "cells": cells})
    return {"questions": [{"id": q["id"], "text": q["text"]} for q in questions], "rows": rows}


# ---------------------------------------------------------------- activities and indicators


def suggest_milestone_light(measure: str, status: str | None, value: float | None, target: float | None,
                            due: bool) -> tuple[str | None, str]:
    """Suggested traffic light of a milestone in a round, and the rule that gave it.

    Not yet due -> None ("ikke forfalden"). Status milestones: Ja -> green, På vej -> yellow,
    Nej -> red, N/A -> None. Count/percentage milestones: value >= target -> green,
    value >= MILESTONE_YELLOW_SHARE x target -> yellow, else red. Nothing registered -> None.
    """
    if not due:
        return None, "ikke forfalden"
    if measure == "status" or (status and value is None):
        if status is None:
            return None, "ingen status registreret"
        return {"ja": ("green", "Ja"), "paa_vej": ("yellow", "På vej"), "nej": ("red", "Nej"),
                "na": (None, "N/A")}[status]
    if value is None:
        return None, "ingen værdi registreret"
    if target is None or target == 0:
        return None, "intet mål"
    if value >= target - 1e-12:
        return "green", f"{decimal(value, 0)} af mål {decimal(target, 0)}: nået"
    if value >= MILESTONE_YELLOW_SHARE * target - 1e-12:
        return "yellow", f"{decimal(value, 0)} af mål {decimal(target, 0)}: mindst {round(MILESTONE_YELLOW_SHARE * 100)} %"
    return "red", f"{decimal(value, 0)} af mål {decimal(target, 0)}: under {round(MILESTONE_YELLOW_SHARE * 100)} %"


def suggest_indicator_light(value: float | None, baseline: float | None, target: float | None,
                            direction: str = "higher") -> tuple[str | None, str]:
    """Suggested light of a goal indicator's value: green = target reached, yellow = better than
    the baseline but not at target, red = at or worse than the baseline; None without a value."""
    if value is None:
        return None, "ingen værdi"
    if target is None:
        return None, "intet mål"
    sign = 1 if direction == "higher" else -1
    if sign * (value - target) >= -1e-12:
        return "green", "målet er nået"
    if baseline is not None and sign * (value - baseline) > 1e-12:
        return "yellow", "bedre end udgangspunktet, men målet er ikke nået"
    if baseline is None:
        return "yellow", "målet er ikke nået (intet udgangspunkt)"
    return "red", "ikke bedre end udgangspunktet"


def effective_light(suggested: str | None, override: str | None) -> str | None:
    """The light shown: an override (with its recorded reason) wins; 'none' overrides to no colour."""
    if override is None:
        return suggested
    return None if override == "none" else override


def worst_light(lights: list[str | None]) -> str | None:
    order = {"red": 0, "yellow": 1, "green": 2}
    present = [l for l in lights if l in order]
    return min(present, key=order.get) if present else None


# ---------------------------------------------------------------- rules printed with every output


def index_rules(indices: list[dict], min_other: int = MIN_OTHER_UNITS, scale_text: str | None = None) -> list[str]:
    """The thresholds and rules in force, as sentences for captions, pages, CSV footers and PDFs."""
    rules = []
    if scale_text:
        rules.append(scale_text)
    rules.append('Indeks = gennemsnit af de besvarede udsagn; "Ved ikke" og ubesvarede udsagn tæller ikke med '
                 '(hverken som 0 eller i nævneren).')
    shares = sorted({i.get("min_share") or 0.0 for i in indices})
    if any(shares):
        rules.append("Et indeks beregnes kun, når mindst " + " / ".join(f"{round(s * 100)} %" for s in shares)
                     + " af dets udsagn er besvaret.")
    groups: dict = {}
    for index in indices:
        groups.setdefault(index.get("thresholds"), []).append(index["title"])
    for thresholds, titles in groups.items():
        if thresholds is None:
            rules.append(f"Ingen trafiklys for: {', '.join(titles)}.")
            continue
        green, yellow = thresholds
        rules.append(f"Trafiklys ({', '.join(titles)}): grøn ≥ {decimal(green)}, gul ≥ {decimal(yellow)}, "
                     f"rød under {decimal(yellow)}.")
    for index in indices:
        for round_name, target in (index.get("targets") or {}).items():
            rules.append(f"Mål for {index['title']} i {round_name}: {decimal(target)}.")
    rules.append(POOLED_NOTE + ".")
    rules.append("Cronbachs alfa: over enheder, der har besvaret alle indeksets udsagn (mindst 3 enheder).")
    rules.append(f"Sammenligning med de øvrige enheder vises kun, når mindst {min_other} andre enheder har svaret.")
    rules.append("Ændringer er i skalapoint og beregnet af uafrundede værdier.")
    return rules


def status_rules() -> list[str]:
    share = round(MILESTONE_YELLOW_SHARE * 100)
    return [
        "Trafiklys: grøn = gennemført som planlagt, gul = risiko for ikke at blive gennemført som planlagt, "
        "rød = ikke gennemført som planlagt, ingen farve = endnu ikke forfalden.",
        "Forslag for statusmilepæle: Ja = grøn, På vej = gul, Nej = rød, N/A = ingen farve.",
        f"Forslag for antal/procent: nået mål = grøn, mindst {share} % af målet = gul, under {share} % = rød.",
        "Forslag for målindikatorer: mål nået = grøn, bedre end udgangspunktet = gul, "
        "ikke bedre end udgangspunktet = rød (retning: højere eller lavere er bedre).",
        "Et forslag kan tilsidesættes med en registreret begrundelse; tilsidesættelsen vises i tabellen.",
        "Udgåede og erstattede aktiviteter og indikatorer vises fortsat, med begrundelse.",
    ]


# ---------------------------------------------------------------- figures


def trend_figure(rounds: list[str], series: dict[str, dict[str, list[float | None]]], indices: list[dict],
                 caption: str | None = None):
    """Index trends for all units in one figure: one panel per index, one line per unit.

    series: {index_id: {unit: [score per round, None where missing]}}. Returns a matplotlib Figure.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    n = max(1, len(indices))
    cols = min(3, n)
    rows = (n + cols - 1) // cols
    fig = Figure(figsize=(4.2 * cols, 3.2 * rows + 1.2), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[3.2 * rows, 1.2])
    axes = top.subplots(rows, cols, squeeze=False)
    units = sorted({u for per_unit in series.values() for u in per_unit})
    markers = "osD^vP*X"
    for position, index in enumerate(indices):
        ax = axes[position // cols][position % cols]
        thresholds = index.get("thresholds")
        if thresholds:
            green, yellow = thresholds
            ax.axhspan(green, 5.2, color=PALE_COLOURS["green"], zorder=0)
            ax.axhspan(yellow, green, color=PALE_COLOURS["yellow"], zorder=0)
            ax.axhspan(0.8, yellow, color=PALE_COLOURS["red"], zorder=0)
        for k, unit in enumerate(units):
            ys = series.get(index["id"], {}).get(unit, [None] * len(rounds))
            # A round without a score breaks the line (NaN): no continuity is drawn across a gap.
            ax.plot(range(len(rounds)), [float("nan") if y is None else y for y in ys],
                    marker=markers[k % len(markers)], label=unit, linewidth=1.6)
        ax.set_title(index["title"], fontsize=10)
        ax.set_xticks(range(len(rounds)), rounds, fontsize=8)
        ax.set_ylim(0.8, 5.2)
        ax.set_xlim(-0.3, len(rounds) - 0.7)
        ax.set_ylabel("Indeks (1–5)", fontsize=8)
        ax.grid(axis="y", color="#999", linewidth=0.4)
    for position in range(len(indices), rows * cols):
        axes[position // cols][position % cols].axis("off")
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        bottom.legend(handles, labels, loc="upper center", ncols=min(6, len(labels)), fontsize=9, frameon=False)
    top.suptitle("Fidelitetsindeks pr. enhed og runde", fontsize=12)
    if caption:
        bottom.text(0.5, 0.45, _wrap(caption, int(40 * cols)), ha="center", va="top", fontsize=7.5)
    return fig


def trend_caption(rounds: list[str], series: dict[str, dict[str, list[float | None]]], indices: list[dict],
                  source: str = "") -> str:
    """Caption data for the trend figure: source, units with a score per round, scale rule, thresholds."""
    counts = []
    for k, name in enumerate(rounds):
        n = len({u for per_unit in series.values() for u, ys in per_unit.items() if ys[k] is not None})
        counts.append(f"{name}: {n}")
    thresholds = sorted({i["thresholds"] for i in indices if i.get("thresholds")})
    lights = "; ".join(f"grøn ≥ {decimal(g)}, gul ≥ {decimal(y)}, rød under" for g, y in thresholds)
    return (f"{source + '. ' if source else ''}Enheder med indeks pr. runde – {', '.join(counts)}. "
            f"Indeks = gennemsnit af besvarede udsagn (1–5); \"Ved ikke\" tæller ikke med. Trafiklys: {lights}.")


def figure_bytes(fig, fmt: str = "png") -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=110 if fmt == "png" else None)
    return buffer.getvalue()


def profile_pdf(data: dict, title: str, rules: list[str], subtitle: str = "") -> bytes:
    """A one-page A4 PDF of a unit's profile (matplotlib PdfPages)."""
    from matplotlib.backends.backend_pdf import PdfPages

    fig = profile_figure(data, title, rules, subtitle)
    buffer = io.BytesIO()
    with PdfPages(buffer) as pdf:
        pdf.savefig(fig)
    return buffer.getvalue()


def profile_figure(data: dict, title: str, rules: list[str], subtitle: str = ""):
    """The one A4 page of a unit's profile: the index table with traffic lights, a trend chart,
    the lowest items, ladder positions and the rules in force."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.27, 11.69))
    fig.text(0.06, 0.965, title, fontsize=15, weight="bold", va="top")
    if subtitle:
        fig.text(0.06, 0.94, subtitle, fontsize=9, va="top", color="#333")
    rounds = data["rounds"]
    # Table of indices x rounds, cells coloured by traffic light.
    table_ax = fig.add_axes((0.06, 0.72, 0.88, 0.2))
    table_ax.axis("off")
    header = ["Indeks"] + rounds + ["Ændring", "Øvrige"]
    cells, colours = [], []
    for index in data["indices"]:
        scored = [r for r in index["rounds"] if r["score"] is not None]
        last = scored[-1] if scored else {}
        comp = next((r["comparison"] for r in reversed(index["rounds"]) if r["comparison"]), None)
        others = "–" if not comp or comp["suppressed"] else decimal(comp["others_mean"])
        row = [index["title"]] + [decimal(r["score"]) for r in index["rounds"]] + [signed(last.get("change")), others]
        cells.append(row)
        colours.append(["white"] + [PALE_COLOURS.get(r["light"], "#eeeeee") for r in index["rounds"]] + ["white", "white"])
    if cells:
        height = min(1.0, 0.11 * (len(cells) + 1))
        table = table_ax.table(cellText=cells, colLabels=header, cellColours=colours, bbox=[0, 1 - height, 1, height],
                               colWidths=[0.34] + [0.13] * len(rounds) + [0.1, 0.1])
        table.auto_set_font_size(False)
        table.set_fontsize(8)
    # Trend chart.
    comp_round = next((r["round"] for index in data["indices"][:1] for r in reversed(index["rounds"]) if r["comparison"]), None)
    fig.text(0.06, 0.712, _wrap(f"Ændring: seneste runde minus enhedens forrige runde med indeks (skalapoint). Øvrige: gennemsnit af "
                                f"de andre enheder i {comp_round or '–'}; vises kun, når mindst {data['min_other_units']} andre "
                                f"enheder har svaret. " + " ".join(data.get("comparison_notes", [])), 150), fontsize=6.5, va="top")
    chart = fig.add_axes((0.1, 0.47, 0.62, 0.19))
    for index in data["indices"]:
        ys = [r["score"] for r in index["rounds"]]
        chart.plot(range(len(ys)), [float("nan") if y is None else y for y in ys], marker="o", label=index["title"], linewidth=1.4)
    chart.set_xticks(range(len(rounds)), rounds, fontsize=8)
    chart.set_ylim(0.8, 5.2)
    chart.set_xlim(-0.3, max(len(rounds) - 0.7, 0.3))
    chart.tick_params(labelsize=8)
    chart.set_title("Indeks over tid", fontsize=9)
    chart.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    y = 0.38
    fig.text(0.06, y, f"Laveste udsagn ({data['latest_round'] or '–'})", fontsize=10, weight="bold")
    for row in data["lowest"]:
        y -= 0.018
        fig.text(0.07, y, f"{decimal(row['value'], 0)}  {_clip(row['text'], 95)}", fontsize=7.5)
    for ladder in data["ladders"]:
        y -= 0.028
        fig.text(0.06, y, _clip(ladder["text"], 100), fontsize=9, weight="bold")
        for p in ladder["positions"]:
            y -= 0.016
            step = f"trin {p['code']} af {ladder['steps']}: {p['label']}" if p["code"] is not None else "ikke besvaret"
            fig.text(0.07, y, f"{p['round']}: {_clip(step, 100)}", fontsize=7.5)
    y -= 0.03
    fig.text(0.06, y, "Regler", fontsize=9, weight="bold")
    for rule in rules:
        for line in _wrap(rule, 140).split("\n"):
            y -= 0.013
            if y < 0.015:
                break
            fig.text(0.07, y, line, fontsize=6.5)
    return fig


# ---------------------------------------------------------------- helpers


def _index_head(index: dict) -> dict:
    return {"id": index["id"], "title": index["title"], "items": list(index["items"]),
            "thresholds": index.get("thresholds"), "min_share": index.get("min_share") or 0.0,
            "targets": index.get("targets") or {}}




def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(str(text), width))


def _clip(text, n: int) -> str:
    return shorten(str(text or ""), n)
