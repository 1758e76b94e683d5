"""Progress measurements for citizens: scores, work-list states, counts per unit and paired
M1-M2 comparisons. Pure functions over plain data (no Flask, no database, no surveyapp).

A *person record* (built by `surveyapp.cases.person_records`) is a dict:

    {"person": "F01-1", "unit": "Aarhus", "case": "F01", "role": "barn",
     "intake": "2014-01-15", "closed_on": None,
     "slots": {"baseline": {"target": "2014-01-15", "window_start": "2014-01-01",
                            "window_end": "2014-02-14", "instruments": ["trivsel-unge"]}, ...},
     "measurements": [{"slot": "M1", "questionnaire": "who5", "reference_date": "2014-07-20",
                       "complete": True, "scores": {"who5": 64.0}}, ...]}

Rules (the captions repeat them):
- A person *has* a measurement when a complete response for that slot refers to a date on or
  before the cut-off. People whose intake is after the cut-off are not in the sample.
- Each person is counted once, in the highest set: "both M1 and M2" before "only M1" before
  "background only". People with M2 but no M1 and people with no measurement are shown apart,
  so the sets add up to the sample.
- The split date divides the sample by intake date: before the split date / on or after it.
- Denominators: "sample" = everyone in the sample (same N for every set); "asked" = those who
  were asked for the set's defining measurement (its window had opened by the cut-off, and the
  person was not closed before that), so background only / baseline, only M1 / M1,
  both / M2.
"""
from __future__ import annotations

import datetime as dt
import math

from .formatting import decimal
from .paired import paired_comparison
from .suppression import TOO_FEW
from .suppression import suppress as complementary

SET_ORDER = ("m1_and_m2", "m1_only", "background_only", "m2_without_m1", "none")
SET_LABELS = {
    "m1_and_m2": "Både M1 og M2",
    "m1_only": "Kun M1",
    "background_only": "Kun baggrundsmåling",
    "m2_without_m1": "M2 uden M1",
    "none": "Ingen måling",
}
DENOMINATORS = {
    "sample": "alle i stikprøven",
    "asked": "dem, der blev bedt om målingen (målevinduet var åbnet inden skæringsdatoen)",
}


def _date(value) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _da_date(value) -> str:
    """1.4.2023 (analysis.formatting.month_year would drop the day the rules need)."""
    d = _date(value)
    return f"{d.day}.{d.month}.{d.year}" if d else ""


# ---------------------------------------------------------------- scores


def compute_score(answers: dict, spec: dict, items: dict) -> float | None:
    """One person's score from their answers.

    `spec`: {"items": [...], "method": "sum"|"mean", "multiplier", "offset", "min_answered"}
    (the questionnaire's Score). `items`: item id -> {"codes": substantive codes,
    "reverse": bool, "reverse_sum": min+max used for reversing}. Non-substantive codes
    ("Vil ikke svare") and unanswered items are left out. A reverse-keyed code c becomes
    reverse_sum - c; then `offset` is added. A sum with some items missing (but at least
    `min_answered`) is prorated: mean of the answered items x number of items. None when too
    few items are answered (all are needed unless min_answered says otherwise).
    """
    values = []
    for item_id in spec["items"]:
        value = answers.get(item_id)
        info = items[item_id]
        if value is None or isinstance(value, (list, str)):
            continue
        if info.get("codes") is not None and value not in info["codes"]:
            continue
        if info.get("reverse"):
            value = info["reverse_sum"] - value
        values.append(float(value) + float(spec.get("offset") or 0.0))
    needed = spec.get("min_answered") or len(spec["items"])
    if not values or len(values) < needed:
        return None
    if spec.get("method", "sum") == "mean":
        raw = sum(values) / len(values)
    elif len(values) == len(spec["items"]):
        raw = sum(values)
    else:
        raw = sum(values) / len(values) * len(spec["items"])
    return raw * float(spec.get("multiplier") or 1.0)


# ---------------------------------------------------------------- counts


def _as_of(cutoff, today) -> dt.date:
    return _date(cutoff) or _date(today) or dt.date.today()


def included(person: dict, cutoff=None) -> bool:
    c = _date(cutoff)
    return c is None or _date(person["intake"]) <= c


def slots_done(person: dict, cutoff=None) -> dict[str, str]:
    """slot -> earliest reference date of a complete measurement on or before the cut-off."""
    c = _date(cutoff)
    done: dict[str, str] = {}
    for m in person.get("measurements", []):
        if not m.get("complete") or not m.get("reference_date"):
            continue
        if c is not None and _date(m["reference_date"]) > c:
            continue
        if m["slot"] not in done or m["reference_date"] < done[m["slot"]]:
            done[m["slot"]] = m["reference_date"]
    return done


def asked(person: dict, slot: str, as_of) -> bool:
    """Whether the person was asked for the slot by `as_of`: its window had opened, and the
    person was not closed before it opened."""
    info = person.get("slots", {}).get(slot)
    if not info:
        return False
    start = _date(info["window_start"])
    closed = _date(person.get("closed_on"))
    return start <= _date(as_of) and (closed is None or closed >= start)


def classify(done: set[str] | dict, background: str = "baseline", first: str = "M1", second: str = "M2") -> str:
    """The highest set a person belongs to (each person is in exactly one)."""
    if first in done and second in done:
        return "m1_and_m2"
    if first in done:
        return "m1_only"
    if second in done:
        return "m2_without_m1"
    if background in done:
        return "background_only"
    return "none"


DEFINING_SLOT = {"background_only": "background", "m1_only": "first", "m1_and_m2": "second", "m2_without_m1": "second"}


def counts(people: list[dict], cutoff=None, split=None, denominator: str = "sample", today=None,
           background: str = "baseline", first: str = "M1", second: str = "M2") -> dict:
    """Counts per unit (and period when `split` is given) of people in each set, with shares
    over the chosen denominator. Returns {"rows", "caption", "rules"}; the last row per period
    is the total over all units ("I alt")."""
    if denominator not in DENOMINATORS:
        raise ValueError(f"denominator must be one of {', '.join(DENOMINATORS)}")
    as_of = _as_of(cutoff, today)
    split_date = _date(split)
    slot_names = {"background": background, "first": first, "second": second}
    groups: dict[tuple, list[dict]] = {}
    for person in people:
        if not included(person, cutoff):
            continue
        period = ""
        if split_date is not None:
            period = "før" if _date(person["intake"]) < split_date else "fra"
        groups.setdefault((period, person["unit"]), []).append(person)
        groups.setdefault((period, "I alt"), []).append(person)
    periods = sorted({p for p, _ in groups}, key=lambda p: {"før": 0, "fra": 1}.get(p, 0))
    rows = []
    for period in periods:
        units = sorted(u for p, u in groups if p == period and u != "I alt") + ["I alt"]
        for unit in units:
            members = groups[(period, unit)]
            row = {"unit": unit, "n_sample": len(members)}
            if split_date is not None:
                row["period"] = f"{'før' if period == 'før' else 'fra og med'} {_da_date(split_date)}"
            for name in SET_ORDER:
                row[name] = 0
            for person in members:
                row[classify(slots_done(person, cutoff), background, first, second)] += 1
            for key, slot in slot_names.items():
                row[f"n_asked_{slot}"] = sum(asked(p, slot, as_of) for p in members)
            for name in SET_ORDER:
                if denominator == "sample" or name == "none":
                    base = row["n_sample"]
                else:
                    base = row[f"n_asked_{slot_names[DEFINING_SLOT[name]]}"]
                row[f"{name}_denominator"] = base
                row[f"{name}_share"] = None if not base else 100.0 * row[name] / base
            rows.append(row)
    return {"rows": rows, "caption": counts_caption(cutoff, split, denominator, as_of, background, first, second),
            "rules": {"cutoff": _date(cutoff).isoformat() if cutoff else None,
                      "split": split_date.isoformat() if split_date else None,
                      "denominator": denominator, "as_of": as_of.isoformat()}}


def counts_caption(cutoff, split, denominator, as_of, background="baseline", first="M1", second="M2") -> str:
    parts = ["Personer fordelt efter de målinger, de har: hver person tælles én gang, i det højeste sæt "
             f"(både {first} og {second} > kun {first} > kun baggrundsmåling)."]
    if cutoff:
        parts.append(f"Skæringsdato {_da_date(cutoff)}: personer med indskrivning efter denne dato er ikke med, "
                     "og målinger med en referencedato efter den tæller ikke.")
    else:
        parts.append(f"Ingen skæringsdato: alle målinger til og med {_da_date(as_of)}.")
    if split:
        parts.append(f"Opdelt efter indskrivningsdato: før {_da_date(split)} og fra og med {_da_date(split)}.")
    if denominator == "sample":
        parts.append("Procenter er beregnet af alle i stikprøven (N).")
    else:
        parts.append(f"Procenter er beregnet af dem, der blev bedt om målingen: kun baggrundsmåling af dem, der skulle have "
                     f"{background}; kun {first} af dem, der skulle have {first}; både {first} og {second} af dem, der skulle have "
                     f"{second} (målevinduet åbnet senest på skæringsdatoen).")
    return " ".join(parts)


# ---------------------------------------------------------------- small numbers


def suppress(rows: list[dict], n_key: str, hidden_keys, min_n: int) -> list[dict]:
    """Mark rows with fewer than `min_n` as "suppressed" and blank their `hidden_keys`; n itself
    always stays visible. Which further unit rows must be hidden so a small one cannot be
    recovered from the total ("I alt", the last row) is analysis.suppression.suppress's
    complementary rule (a unit with n = 0 hides nothing, so it does not protect the small one)."""
    def key(row):
        return (None if row["unit"] == "I alt" else row["unit"],)

    hidden = complementary({key(r): r[n_key] for r in rows}, min_n)
    for row in rows:
        row["suppressed"] = row[n_key] < min_n or key(row) in hidden
        if hidden.get(key(row)) == "secondary":
            row["note_reason"] = "skjult, så den lille celle ikke kan regnes ud fra totalen"
        if row["suppressed"]:
            for name in hidden_keys:
                row[name] = None
            row["note"] = TOO_FEW
    return rows


# ---------------------------------------------------------------- paired comparisons


def paired_test(a: dict[str, float], b: dict[str, float]) -> dict:
    """`analysis.paired.paired_comparison` (person -> score at each slot) under this table's
    column names, plus the t and Wilcoxon W statistics the JSON output carries."""
    from scipy import stats

    result = paired_comparison(a, b)
    n, sd = result["n_pairs"], result["sd_diff"]
    # ttest_rel's statistic; none when the differences do not vary (paired_comparison gives p 1.0 or 0.0 then).
    t = result["diff"] / (sd / math.sqrt(n)) if sd else None
    diffs = [b[k] - a[k] for k in a.keys() & b.keys()]
    w = None
    if result["p_wilcoxon"] is not None and any(diffs):
        w = float(stats.wilcoxon(diffs).statistic)
    return {"n_pairs": n, "mean_a": result["mean_a"], "mean_b": result["mean_b"], "mean_diff": result["diff"],
            "sd_diff": sd, "t": t, "p_t": result["p_ttest"], "wilcoxon_w": w, "p_wilcoxon": result["p_wilcoxon"]}


def paired(people: list[dict], score_id: str, questionnaire: str, first: str = "M1", second: str = "M2",
           cutoff=None, denominator: str = "sample", by_unit: bool = False, min_n: int = 5, today=None,
           cutoffs: list[dict] | None = None) -> dict:
    """Compare `first` with `second` for one score, on the people who have it at both.

    A pair needs a complete measurement with the same questionnaire at both slots (someone who
    turned 18 between M1 and M2 answered different instruments and is not a pair), both on or
    before the cut-off. Rows with fewer than `min_n` pairs show no means or tests
    ("for få svar"); n is always shown. Denominator: "sample" = people in the sample routed
    to this questionnaire at `second` or with a score at either slot; "asked" = people asked
    `second` with this questionnaire by the cut-off.
    """
    if denominator not in DENOMINATORS:
        raise ValueError(f"denominator must be one of {', '.join(DENOMINATORS)}")
    as_of = _as_of(cutoff, today)
    c = _date(cutoff)
    groups: dict[str, list[dict]] = {"I alt": []}
    for person in people:
        if not included(person, cutoff):
            continue
        groups["I alt"].append(person)
        if by_unit:
            groups.setdefault(person["unit"], []).append(person)
    rows = []
    pairs_out = []
    for unit in sorted(groups, key=lambda u: (u == "I alt", u)):
        members = groups[unit]
        a, b = {}, {}
        n_sample = n_asked = 0
        for person in members:
            values = {}
            for m in person.get("measurements", []):
                if m["questionnaire"] != questionnaire or not m.get("complete") or not m.get("reference_date"):
                    continue
                if c is not None and _date(m["reference_date"]) > c:
                    continue
                value = (m.get("scores") or {}).get(score_id)
                if value is not None and m["slot"] in (first, second):
                    values[m["slot"]] = value
            routed = questionnaire in (person.get("slots", {}).get(second, {}).get("instruments") or [])
            if routed or values:
                n_sample += 1
            if routed and asked(person, second, as_of):
                n_asked += 1
            if first in values and second in values:
                a[person["person"]], b[person["person"]] = values[first], values[second]
                if unit == "I alt":
                    pairs_out.append({"person": person["person"], "unit": person["unit"], first: values[first], second: values[second]})
        test = paired_test(a, b)
        base = n_sample if denominator == "sample" else n_asked
        row = {"unit": unit, "score": score_id, "questionnaire": questionnaire, "n_sample": n_sample, "n_asked": n_asked,
               "denominator": base, "pair_share": None if not base else 100.0 * len(a) / base, **test}
        rows.append(row)
    suppress(rows, "n_pairs", ("mean_a", "mean_b", "mean_diff", "sd_diff", "t", "p_t", "wilcoxon_w", "p_wilcoxon"), min_n)
    total = rows[-1]
    caption = (f"{score_id}: {first} sammenlignet med {second} for de samme personer (parret): kun personer med en "
               f"fuldført {questionnaire}-måling både ved {first} og {second}. n par = {total['n_pairs']} af "
               f"{total['denominator']} ({DENOMINATORS[denominator]}). Forskel = {second} − {first} i skalapoint; "
               f"parret t-test og Wilcoxons fortegnsrangtest. Celler med under {min_n} par vises uden gennemsnit (for få svar).")
    if cutoff:
        caption += f" Skæringsdato {_da_date(cutoff)}."
    if cutoffs:
        caption += " Grænseværdier: " + "; ".join(f"{decimal(x['value'], 0)} = {x['label']}" for x in cutoffs) + "."
    return {"rows": rows, "pairs": pairs_out if not total["suppressed"] else [], "caption": caption,
            "rules": {"first": first, "second": second, "cutoff": c.isoformat() if c else None,
                      "denominator": denominator, "min_n": min_n}}


def paired_figure(result: dict, path, title: str, cutoffs: list[dict] | None = None, first: str = "M1", second: str = "M2"):
    """Each pair as a line from first to second, the means in bold, cut-off lines dashed.
    Writes a PNG and the CSV of the numbers it draws beside it (no person keys); returns the
    two paths. A suppressed total (n pairs under min n) draws no values at all."""
    import csv
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    total = result["rows"][-1]
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=110)
    if total["suppressed"]:
        ax.text(0.5, 0.5, f"for få svar (n par = {total['n_pairs']})", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
        cutoffs = []   # nothing to compare against
    else:
        for pair in result["pairs"]:
            ax.plot([0, 1], [pair[first], pair[second]], color="#9aa7b4", linewidth=1, marker="o", markersize=3)
        ax.plot([0, 1], [total["mean_a"], total["mean_b"]], color="#0b4f8a", linewidth=3, marker="o",
                label=f"Gennemsnit ({decimal(total['mean_a'])} → {decimal(total['mean_b'])})")
    for cut in cutoffs or []:
        ax.axhline(cut["value"], color="#b00020", linestyle="--", linewidth=1)
        ax.text(1.02, cut["value"], cut["label"], color="#b00020", va="center", fontsize=8, transform=ax.get_yaxis_transform())
    ax.set_xticks([0, 1], [first, second])
    ax.set_xlim(-0.2, 1.2)
    ax.set_ylabel("Score (hver grå linje er én person)")
    ax.set_title(f"{title} (n par = {total['n_pairs']})")
    if not total["suppressed"]:
        fig.legend(loc="lower center", fontsize=8, frameon=False)
        fig.subplots_adjust(bottom=0.16)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(path)
    plt.close(fig)
    csv_path = path.with_suffix(".csv")
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        # No person keys in an export: a running number per pair is enough to redraw the figure.
        writer.writerow(["pair", first, second])
        for number, pair in enumerate(result["pairs"], start=1):
            writer.writerow([number, pair[first], pair[second]])
    return path, csv_path


# ---------------------------------------------------------------- single items with routing


def item_table(people: list[dict], questionnaire: str, item: str, options: list[dict], slot: str,
               cutoff=None, denominator: str = "asked", min_n: int = 5) -> dict:
    """Answers to one choice item at one measurement, per unit, as counts and shares.

    Only complete measurements with `questionnaire` at `slot` (on or before the cut-off) count.
    "asked" = those measured whom the schedule asks the item (e.g. over 13 on the measurement
    date); "sample" = everyone measured with the questionnaire at the slot, asked or not.
    `options`: [{"code", "label"}] in display order. Measurements carry "answers" and "hidden".
    """
    if denominator not in DENOMINATORS:
        raise ValueError(f"denominator must be one of {', '.join(DENOMINATORS)}")
    c = _date(cutoff)
    groups: dict[str, dict] = {}
    for person in people:
        if not included(person, cutoff):
            continue
        for m in person.get("measurements", []):
            if m["questionnaire"] != questionnaire or m["slot"] != slot or not m.get("complete") or not m.get("reference_date"):
                continue
            if c is not None and _date(m["reference_date"]) > c:
                continue
            for unit in (person["unit"], "I alt"):
                g = groups.setdefault(unit, {"n_sample": 0, "n_asked": 0, "n_answered": 0, "codes": {}})
                g["n_sample"] += 1
                if item in (m.get("hidden") or []):
                    continue
                g["n_asked"] += 1
                value = (m.get("answers") or {}).get(item)
                if value is not None:
                    g["n_answered"] += 1
                    g["codes"][value] = g["codes"].get(value, 0) + 1
            break
    rows = []
    for unit in sorted(groups, key=lambda u: (u == "I alt", u)):
        g = groups[unit]
        base = g["n_asked"] if denominator == "asked" else g["n_sample"]
        row = {"unit": unit, "n_sample": g["n_sample"], "n_asked": g["n_asked"], "n_answered": g["n_answered"],
               "not_answered": g["n_asked"] - g["n_answered"], "denominator": base}
        for option in options:
            n = g["codes"].get(option["code"], 0)
            row[f"n_{option['code']}"] = n
            row[f"share_{option['code']}"] = None if not base else 100.0 * n / base
        rows.append(row)
    suppress(rows, "n_answered", [f"{kind}_{o['code']}" for o in options for kind in ("n", "share")] + ["not_answered"], min_n)
    total = rows[-1] if rows else {"n_sample": 0, "n_asked": 0, "denominator": 0}
    caption = (f"{item} ({questionnaire}) ved {slot}: fuldførte målinger. Procenter af "
               f"{'dem, der blev stillet spørgsmålet' if denominator == 'asked' else 'alle målte med skemaet (også dem, der ikke blev spurgt)'}"
               f": N = {total['denominator']} (spurgt {total['n_asked']} af {total['n_sample']} målte).")
    caption += f" Enheder med under {min_n} svar vises uden fordeling (for få svar)."
    if cutoff:
        caption += f" Skæringsdato {_da_date(cutoff)}."
    return {"rows": rows, "caption": caption, "rules": {"denominator": denominator, "slot": slot, "min_n": min_n,
                                                        "cutoff": c.isoformat() if c else None}}
