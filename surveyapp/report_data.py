"""Query layer for the evaluator reports: reads rows from the database and hands `analysis/`
plain data. Aggregation that SQL does well (counts per round x group x unit x item x code) is
done in SQL; every statistic is computed in `analysis/` from those counts.

Rules used here and stated in every caption/codebook (analysis.md):
- item N counts everyone who answered the item, "Ved ikke" and partial responses included;
- response rates and panel counts use complete + valid partial (analysis.rates.classify with the
  round's partial threshold);
- "Ved ikke" (an item's non-substantive codes) is never scored; it stays in the share
  denominator unless the report says otherwise;
- reverse-keyed items are reversed (Questionnaire.reverse_value) before any mean or index;
- cells below the project's minimum n are suppressed unless the questionnaire is not personal.
"""
from __future__ import annotations

import json
from collections import defaultdict
from itertools import combinations

from analysis import indices as index_math
from analysis.comparisons import crosstab, group_comparison
from analysis.formatting import caption, decimal, percent, round_label, rounded, shorten
from analysis.items import ItemSpec, item_statistics, trend_changes
from analysis.paired import paired_comparison, panel_counts
from analysis.rates import BREAK_OFF, COMPLETE, VALID_PARTIAL, classify
from analysis.suppression import TOO_FEW, spread, suppress

from .errors import NotFound, SurveyError
from .questionnaire import Questionnaire
from .questionnaire_store import get_version
from .results import rate_rows, response_rows, select_rounds
from .rounds import get_project, round_questionnaires


# ---------------------------------------------------------------- scope and metadata


class Scope:
    """The rounds of one report (in time order), their project, questionnaires and rules."""

    def __init__(self, db, round_refs: list | None = None, project: str | None = None, units: list[str] | None = None):
        rounds = select_rounds(db, round_refs, project)
        if not rounds:
            raise NotFound("no rounds found" + (f" in project '{project}'" if project else ""))
        projects = {r["project_id"] for r in rounds}
        if len(projects) > 1:
            raise SurveyError(f"the rounds belong to several projects ({', '.join(sorted(projects))}); use --project")
        self.db = db
        self.rounds = sorted(rounds, key=lambda r: (r.get("opens") or r.get("created_at") or "", r["id"]))
        self.project = get_project(db, rounds[0]["project_id"])
        self.min_n = int(self.project.get("min_n") or 5)
        self.units = units
        self.questionnaires: dict[int, dict[str, tuple[int, Questionnaire, bool]]] = {}
        for r in self.rounds:
            entries = {}
            for group, entry in round_questionnaires(db, r["id"]).items():
                q = get_version(db, entry["version_id"])
                entries[group] = (entry["version_id"], q, bool(q.personal))
            self.questionnaires[r["id"]] = entries
        self.index_of = {r["id"]: i for i, r in enumerate(self.rounds)}
        self._specs: dict[tuple, ItemSpec | None] = {}

    @property
    def round_ids(self) -> list[int]:
        return [r["id"] for r in self.rounds]

    def round(self, round_id: int) -> dict:
        return self.rounds[self.index_of[round_id]]

    def questionnaire(self, round_id: int, group: str) -> tuple[int, Questionnaire, bool] | None:
        entries = self.questionnaires[round_id]
        return entries.get(group) or entries.get("")

    def groups(self, round_id: int) -> list[str]:
        return sorted(self.questionnaires[round_id])

    def entries(self):
        """(round, group, questionnaire) for every group of every round, rounds in time order."""
        for r in self.rounds:
            for group in self.groups(r["id"]):
                yield r, group, self.questionnaires[r["id"]][group][1]

    def spec(self, round_id: int, group: str, item_id: str) -> ItemSpec | None:
        """The item as `group` was asked it in the round (None when not asked); made once per scope."""
        key = (round_id, group, item_id)
        if key not in self._specs:
            entry = self.questionnaire(round_id, group)
            try:
                self._specs[key] = item_spec(entry[1], entry[1].item(item_id)) if entry is not None else None
            except KeyError:
                self._specs[key] = None
        return self._specs[key]

    def rules(self) -> dict:
        """The rules a report or export used, for its caption and codebook."""
        return {
            "project": self.project["id"],
            "rounds": [{"round": r["name"], "round_id": r["id"], "opens": r.get("opens"), "closes": r.get("closes"),
                        "partial_threshold": r["partial_threshold"], "anonymous": bool(r["anonymous"])} for r in self.rounds],
            "minimum_n": self.min_n,
            "item_n": "everyone who answered the item, 'Ved ikke' and partial responses included",
            "responded": "complete + valid partial (answered >= the round's partial threshold of applicable items)",
            "ved_ikke": "non-substantive codes (e.g. 9 = Ved ikke) are never scored; shares keep them in the denominator "
                        "(shares_valid leave them out)",
            "reverse_keying": "reverse-keyed items are reversed (min+max-code) before means and indices",
            "suppression": f"cells with fewer than {self.min_n} answers show no shares or means ('{TOO_FEW}'); a second cell "
                           "is hidden where the first could be recovered from a total; questionnaires with personal: false "
                           "are never suppressed",
            "index": "per unit (or respondent) the mean of the answered items, then the mean of the unit means",
        }


def item_spec(q: Questionnaire, item) -> ItemSpec:
    labels = {o.code: o.label for o in q.options(item) + q.missing_options(item)}
    substantive = tuple(q.substantive_codes(item))
    # Reverse keying exactly as the questionnaire defines it (Questionnaire.reverse_value): reversed = sum - code.
    reverse_sum = q.reverse_value(item, 0) if item.reverse and substantive else None
    return ItemSpec(id=item.id, version=item.version, type=item.type, substantive=substantive,
                    missing=tuple(q.missing_codes(item)), reverse=item.reverse, labels=labels, text=item.text,
                    construct=item.construct_id, reverse_sum=reverse_sum)


def _in(ids) -> str:
    return ",".join("?" * len(ids))


def _dimension_sql(by: tuple[str, ...]) -> tuple[list[str], list, bool]:
    """SQL expressions for each breakdown dimension: group, unit or a respondent attribute."""
    exprs, params, needs_invitation = [], [], False
    for d in by:
        if d == "group":
            exprs.append("r.group_name")
        elif d == "unit":
            exprs.append("r.unit")
        else:
            exprs.append("COALESCE(CAST(json_extract(i.attributes, ?) AS TEXT), '')")  # '' = not recorded (None means total)
            params.append(f'$."{d}"')
            needs_invitation = True
    return exprs, params, needs_invitation


# ---------------------------------------------------------------- item statistics


def answer_counts(db, round_ids: list[int], by: tuple[str, ...] = (), units: list[str] | None = None,
                  items: list[str] | None = None, responded_only: bool = False,
                  multiple_items: list[str] | None = None) -> list[tuple]:
    """(round_id, group, *by-values, item_id, item_version, code, count) aggregated in SQL.

    The group is always part of the key (it decides the questionnaire and so the item's scale).
    For the multiple-choice items named in `multiple_items` (stored as JSON lists), each chosen
    option counts once per respondent, and a row with code None counts the respondents."""
    if responded_only:
        ids = counting_response_ids(db, round_ids, units)
        db.execute("CREATE TEMP TABLE IF NOT EXISTS _counting (id INTEGER PRIMARY KEY)")
        db.execute("DELETE FROM _counting")
        db.conn.executemany("INSERT INTO _counting (id) VALUES (?)", [(i,) for i in ids])
    dims = tuple(d for d in by if d != "group")
    if set(dims) <= {"unit"}:
        rows = _cell_counts(db, round_ids, dims, units, items, responded_only)
    else:
        rows = _answer_counts(db, round_ids, by, units, items, responded_only, "num")
    if multiple_items:
        wanted = [i for i in multiple_items if not items or i in items]
        if wanted:
            rows += _answer_counts(db, round_ids, by, units, wanted, responded_only, "options")
            rows += _answer_counts(db, round_ids, by, units, wanted, responded_only, "respondents")
    return rows


def _answer_counts(db, round_ids, by, units, items, responded_only, kind: str) -> list[tuple]:
    dims = tuple(d for d in by if d != "group")
    exprs, params, needs_invitation = _dimension_sql(dims)
    code = {"num": "a.value_num", "options": "CAST(j.value AS REAL)", "respondents": "NULL"}[kind]
    select = ", ".join(["r.round_id", "r.group_name"] + exprs + ["a.item_id", "a.item_version", code])
    sql = (f"SELECT {select}, COUNT(*) FROM answers a JOIN responses r ON r.id = a.response_id "
           + ("LEFT JOIN invitations i ON i.id = r.invitation_id " if needs_invitation else "")
           + (", json_each(a.value_text) j " if kind == "options" else "")
           + f"WHERE r.round_id IN ({_in(round_ids)}) AND "
           + ("a.value_num IS NOT NULL" if kind == "num" else "a.value_text LIKE '[%' AND json_valid(a.value_text)")
           + (" AND a.value_text <> '[]'" if kind == "respondents" else ""))
    args = params + list(round_ids)
    if units is not None:
        sql += f" AND r.unit IN ({_in(units)})"
        args += list(units)
    if items:
        sql += f" AND a.item_id IN ({_in(items)})"
        args += list(items)
    if responded_only:
        sql += " AND r.id IN (SELECT id FROM _counting)"
    width = 2 + len(exprs) + 3
    sql += " GROUP BY " + ", ".join(str(i) for i in range(1, width + 1))
    return db.execute(sql, args).fetchall()


def _cell_counts(db, round_ids, dims: tuple[str, ...], units, items, responded_only: bool) -> list[tuple]:
    """The numeric answer counts, one query per round x group (x unit) cell: SQLite seeks each of
    the cell's responses in the answers primary key instead of joining every answer to its
    response, and sorts one cell at a time (faster than the plain GROUP BY over the join)."""
    columns = ["round_id", "group_name"] + (["unit"] if "unit" in dims else [])
    sql = f"SELECT DISTINCT {', '.join(columns)} FROM responses WHERE round_id IN ({_in(round_ids)})"
    args: list = list(round_ids)
    if units is not None:
        sql += f" AND unit IN ({_in(units)})"
        args += list(units)
    cells = db.execute(sql, args).fetchall()
    where = " AND ".join(f"{c} = ?" for c in columns) + (" AND id IN (SELECT id FROM _counting)" if responded_only else "")
    query = (f"SELECT a.item_id, a.item_version, a.value_num, COUNT(*) FROM answers a "
             f"WHERE a.response_id IN (SELECT id FROM responses WHERE {where}) AND a.value_num IS NOT NULL")
    if items:
        query += f" AND a.item_id IN ({_in(items)})"
    query += " GROUP BY 1, 2, 3"
    out = []
    for cell in cells:
        cell = tuple(cell)
        for item_id, version, code, count in db.execute(query, [*cell, *(items or [])]):
            out.append((*cell, item_id, version, code, count))
    return out


def counting_response_ids(db, round_ids: list[int], units: list[str] | None = None) -> set[int]:
    """Responses that count as responded: complete + valid partial (analysis.rates.classify)."""
    thresholds = {r["id"]: r["partial_threshold"] for r in db.query(f"SELECT id, partial_threshold FROM rounds WHERE id IN ({_in(round_ids)})", round_ids)}
    return {r["id"] for r in response_rows(db, list(round_ids), units)
            if classify(r["status"], r["answered"], r["applicable"], thresholds[r["round_id"]]) != BREAK_OFF}


def _rollups(by: tuple[str, ...]) -> list[tuple[str, ...]]:
    return [s for size in range(len(by), -1, -1) for s in combinations(by, size)]


def item_rows(db, round_refs: list | None = None, by: tuple[str, ...] = (), project: str | None = None,
              units: list[str] | None = None, items: list[str] | None = None, responded_only: bool = False,
              scope: Scope | None = None, decimals: int | None = 2) -> list[dict]:
    """`report items`: per item x round x breakdown cell (and every roll-up, with the rolled-up
    dimension None): n, n_valid, mean, sd, ci_low, ci_high, shares, shares_valid, top1, top2,
    suppressed. Suppressed cells keep n and lose everything else."""
    scope = scope or Scope(db, round_refs, project, units)
    by = tuple(dict.fromkeys(by))
    for d in by:
        if not d or not d.replace("_", "").isalnum():
            raise SurveyError(f"cannot break down by '{d}'")
    raw = answer_counts(db, scope.round_ids, by, units, items, responded_only, multiple_items(scope))
    return _item_table(scope, by, raw, decimals)


def _item_cells(scope: Scope, by: tuple[str, ...], raw: list[tuple]):
    """Per (round, item, version) of the answer counts (answer_counts with the same breakdown `by`):
    (round_id, item_id, version, specs by group, personal, {cell: {code: count}} at every roll-up
    level, {hidden cell: reason}). A cell is (group, *the other dimensions), None where rolled up."""
    dims = tuple(d for d in by if d != "group")
    # (round, item, version) -> {(group, *dims): {code: count}}
    tables: dict[tuple, dict[tuple, dict]] = defaultdict(lambda: defaultdict(dict))
    for row in raw:
        round_id, group = row[0], row[1]
        dim_values = tuple(row[2:2 + len(dims)])
        item_id, version, code, count = row[2 + len(dims):]
        tables[(round_id, item_id, version)][(group, *dim_values)][code] = count
    full_by = ("group", *dims)
    for (round_id, item_id, version), cells in tables.items():
        specs = {g: scope.spec(round_id, g, item_id) for g in {k[0] for k in cells}}
        specs = {g: s for g, s in specs.items() if s is not None and s.version == version}
        if not specs:
            continue
        personal = any(scope.questionnaire(round_id, g)[2] for g in specs)
        scales = {(s.substantive, s.missing, s.type, s.reverse, s.text) for s in specs.values()}
        # Cells at every roll-up level; the group roll-up only where the groups' items share wording and scale
        # (parallel items with their own wording are compared through their construct instead).
        aggregated: dict[tuple, dict] = {}
        for subset in _rollups(by):
            if "group" not in subset and len(scales) > 1:
                continue
            for key, counts in cells.items():
                if key[0] not in specs:
                    continue
                named = dict(zip(full_by, key))
                cell = tuple(named[d] if d in subset else None for d in full_by)
                target = aggregated.setdefault(cell, {})
                for code, count in counts.items():
                    target[code] = target.get(code, 0) + count
        multiple = next(iter(specs.values())).type == "multiple"
        hidden = suppress({k: (v.get(None) or 0) if multiple else sum(v.values()) for k, v in aggregated.items()},
                          scope.min_n, personal)
        yield round_id, item_id, version, specs, personal, aggregated, hidden


def _item_table(scope: Scope, by: tuple[str, ...], raw: list[tuple], decimals: int | None) -> list[dict]:
    """item_rows from the answer counts (answer_counts with the same breakdown `by`)."""
    dims = tuple(d for d in by if d != "group")
    full_by = ("group", *dims)
    out = []
    for round_id, item_id, version, specs, personal, aggregated, hidden in _item_cells(scope, by, raw):
        round_ = scope.round(round_id)
        for cell, counts in aggregated.items():
            spec = specs.get(cell[0]) or next(iter(specs.values()))
            stats_row = item_statistics(counts, spec)
            named = dict(zip(full_by, cell))
            row = {"round": round_["name"], "round_id": round_id, "round_index": scope.index_of[round_id]}
            if "group" in by:
                row["group"] = named["group"]
            for d in dims:
                row[d] = named[d]
            row.update({"item": item_id, "item_version": version, "text": spec.text, "type": spec.type,
                        "construct": spec.construct, "reverse": spec.reverse, "personal": personal})
            row.update(stats_row)
            reason = hidden.get(cell)
            row["suppressed"] = reason is not None
            if reason:
                for k in ("mean", "sd", "ci_low", "ci_high", "shares", "shares_valid", "top1", "top2", "top1_valid", "top2_valid"):
                    row[k] = None
                row["n_valid"] = None
                row["note"] = TOO_FEW
            if decimals is not None:
                _round_row(row, decimals)
            out.append(row)
    order = {r["id"]: i for i, r in enumerate(scope.rounds)}
    item_order = _item_order(scope)
    out.sort(key=lambda r: (item_order.get(r["item"], 9999), r["item"], r["item_version"], order[r["round_id"]],
                            *[(r.get(d) is None, str(r.get(d) or "")) for d in by]))
    return out


def multiple_items(scope: Scope) -> list[str]:
    """Multiple-choice (checklist) items of the scope's questionnaires."""
    return sorted({item.id for _, _, q in scope.entries() for item in q.items() if item.type == "multiple"})


def _item_order(scope: Scope) -> dict[str, int]:
    order: dict[str, int] = {}
    for _, _, q in scope.entries():
        for item in q.items():
            order.setdefault(item.id, len(order))
    return order


def _round_row(row: dict, digits: int) -> None:
    for k in ("mean", "sd", "ci_low", "ci_high"):
        if row.get(k) is not None:
            row[k] = round(row[k], 4)
    for k in ("top1", "top2", "top1_valid", "top2_valid"):
        if row.get(k) is not None:
            row[k] = round(row[k], digits)
    for k in ("shares", "shares_valid"):
        if row.get(k):
            row[k] = {code: round(v, digits) for code, v in row[k].items()}


def hidden_cells(scope: Scope, by: tuple[str, ...], raw: list[tuple]) -> set[tuple]:
    """(round_id, group or None, item, version) of the cells the item table suppresses, from the
    answer counts the caller has read (answer_counts with the same `by`)."""
    return {(round_id, cell[0], item_id, version)
            for round_id, item_id, version, _, _, _, hidden in _item_cells(scope, by, raw) for cell in hidden}


def item_changes(db, round_refs: list | None = None, by_group: bool = True, project: str | None = None,
                 units: list[str] | None = None, share: str = "top2", scope: Scope | None = None,
                 items: list[str] | None = None) -> list[dict]:
    """Changes between consecutive rounds of each item version (never across versions), per
    group: diff_share in procentpoint and diff_mean in scale points from unrounded counts,
    with chi-square and Mann-Whitney p-values. Suppressed cells are not compared."""
    scope = scope or Scope(db, round_refs, project, units)
    by = ("group",) if by_group else ()
    raw = answer_counts(db, scope.round_ids, by, units, items)
    hidden = hidden_cells(scope, by, raw)
    series: dict[tuple, dict[int, dict]] = defaultdict(dict)
    groups_seen: dict[tuple, set] = defaultdict(set)
    for round_id, group, item_id, version, code, count in raw:
        key = (group if by_group else None, item_id, version)
        counts = series[key].setdefault(round_id, {})
        counts[code] = counts.get(code, 0) + count
        groups_seen[key].add((round_id, group))
    out = []
    for (group, item_id, version), by_round in series.items():
        points = sorted(by_round.items(), key=lambda p: scope.index_of[p[0]])
        first = points[0][0]
        specs = {scope.spec(rid, g, item_id) for rid, g in groups_seen[(group, item_id, version)]}
        specs = {(s.substantive, s.missing, s.type, s.reverse, s.text) if s else None for s in specs}
        if len(specs) != 1:
            continue        # groups word or scale the item differently: no pooled series
        spec = scope.spec(first, group if group is not None else scope.groups(first)[0], item_id) \
            or _any_spec(scope, first, item_id)
        if spec is None or spec.type not in ("scale", "number", "single"):
            continue
        personal = any(scope.questionnaire(rid, g)[2] for rid, g in groups_seen[(group, item_id, version)])
        # A cell hidden in the item table (too few answers, or hidden to protect another cell) is
        # not compared either: its mean would come back as mean_a/mean_b.
        usable = [(scope.round(rid)["name"], counts) for rid, counts in points
                  if not (personal and sum(counts.values()) < scope.min_n) and (rid, group, item_id, version) not in hidden]
        for change in trend_changes(usable, spec, share):
            out.append({"group": group, "series_starts": scope.round(first)["name"], **change})
    return out


# ---------------------------------------------------------------- respondent-level values


def respondent_values(db, scope: Scope, items: list[str] | None = None, responded_only: bool = False) -> list[dict]:
    """One dict per response: response_id, round_id, group, unit, key (None in anonymous rounds),
    status and `values` {item: code with "Ved ikke" as None and reverse keying applied}.
    `raw` holds the stored codes/texts as answered. items: only these (None = every item; [] =
    none, the responses alone)."""
    ids = scope.round_ids
    sql = (f"SELECT r.id, r.round_id, r.group_name, r.unit, r.status, r.submitted_at, p.key, i.attributes "
           f"FROM responses r LEFT JOIN invitations i ON i.id = r.invitation_id LEFT JOIN people p ON p.id = i.person_id "
           f"WHERE r.round_id IN ({_in(ids)})")
    args = list(ids)
    if scope.units is not None:
        sql += f" AND r.unit IN ({_in(scope.units)})"
        args += list(scope.units)
    responses = {}
    for row in db.execute(sql + " ORDER BY r.round_id, r.id", args):
        anonymous = bool(scope.round(row[1])["anonymous"])
        responses[row[0]] = {"response_id": row[0], "round_id": row[1], "round": scope.round(row[1])["name"], "group": row[2],
                             "unit": row[3], "status": row[4], "submitted_at": row[5], "key": None if anonymous else row[6],
                             "attributes": {} if anonymous else json.loads(row[7] or "{}"), "values": {}, "raw": {},
                             "versions": {}}
    if responded_only:
        keep = counting_response_ids(db, ids, scope.units)
        responses = {k: v for k, v in responses.items() if k in keep}
    sql = (f"SELECT a.response_id, a.item_id, a.value_num, a.value_text, a.item_version FROM answers a "
           f"JOIN responses r ON r.id = a.response_id WHERE r.round_id IN ({_in(ids)})")
    args = list(ids)
    if items is not None:
        sql += f" AND a.item_id IN ({_in(items)})"
        args += list(items)
    for response_id, item_id, num, text, version in db.execute(sql, args):
        response = responses.get(response_id)
        if response is None:
            continue
        response["raw"][item_id] = num if num is not None else text
        response["versions"][item_id] = version
        spec = scope.spec(response["round_id"], response["group"], item_id)
        if num is None or spec is None or not spec.has_mean:
            continue
        if num in spec.missing:        # numbers compare by value: 9.0 in (9,)
            response["values"][item_id] = None
        else:
            response["values"][item_id] = spec.reversed_code(float(num))
    return list(responses.values())


# ---------------------------------------------------------------- indices


def index_definitions(scope: Scope) -> dict[str, dict]:
    """Indices declared in the scope's questionnaires: id -> {title, items, min_share, thresholds}."""
    found: dict[str, dict] = {}
    for _, _, q in scope.entries():
        for index in q.indices:
            found.setdefault(index.id, {"id": index.id, "title": index.title, "items": list(index.items),
                                        "min_share": index.min_share, "questionnaire": q.id,
                                        "thresholds": (index.thresholds.green, index.thresholds.yellow) if index.thresholds else None,
                                        "targets": index.targets or {}})
    return found


def index_rows(db, round_refs: list | None = None, by_unit: bool = False, project: str | None = None,
               units: list[str] | None = None, indices: list[str] | None = None, scope: Scope | None = None) -> list[dict]:
    """`report indices`: per index x round (x unit): score, n, alpha (and the pooled alternative).

    The round score is the mean of the unit means (each unit weighs the same; n = units); a unit's
    score is the mean of its respondents' indices; a respondent's index is the mean of the answered
    items. Unit rows are suppressed below the minimum n of respondents for personal questionnaires."""
    scope = scope or Scope(db, round_refs, project, units)
    definitions = index_definitions(scope)
    if indices:
        unknown = set(indices) - set(definitions)
        if unknown:
            raise NotFound(f"no index {', '.join(sorted(unknown))} in these rounds (indices: {', '.join(sorted(definitions)) or 'none'})")
        definitions = {k: v for k, v in definitions.items() if k in indices}
    if not definitions:
        return []
    all_items = sorted({i for d in definitions.values() for i in d["items"]})
    responses = respondent_values(db, scope, all_items)
    out = []
    for index_id, definition in definitions.items():
        for r in scope.rounds:
            personal = any(scope.questionnaires[r["id"]][g][2] for g in scope.groups(r["id"]))
            rows = [{"unit": x["unit"], **x["values"]} for x in responses if x["round_id"] == r["id"]
                    and any(i in x["values"] or i in x["raw"] for i in definition["items"])]
            if not rows:
                continue
            table = index_math.index_table(rows, definition["items"], "unit", definition["min_share"], definition["thresholds"])
            target = definition["targets"].get(r["name"])
            out.append({"index": index_id, "title": definition["title"], "round": r["name"], "round_id": r["id"], "unit": None,
                        "score": rounded(table["score"]), "n": table["n"], "n_respondents": table["n_respondents"],
                        "alpha": rounded(table["alpha"]), "pooled": rounded(table["pooled"]), "light": table["light"], "target": target,
                        "method": "mean of unit means", "suppressed": False})
            if by_unit:
                cells = {(u["unit"],): u["n"] for u in table["units"]}
                cells[(None,)] = sum(cells.values())
                hidden = suppress(cells, scope.min_n, personal)
                for unit in table["units"]:
                    unit_rows = [x for x in rows if x["unit"] == unit["unit"]]
                    alpha = index_math.cronbach_alpha([[x.get(i) for i in definition["items"]] for x in unit_rows])
                    hide = (unit["unit"],) in hidden
                    out.append({"index": index_id, "title": definition["title"], "round": r["name"], "round_id": r["id"],
                                "unit": unit["unit"], "score": None if hide else rounded(unit["score"]), "n": unit["n"],
                                "n_respondents": unit["n"], "alpha": None if hide else rounded(alpha), "pooled": None,
                                "light": None if hide else unit["light"], "target": target, "method": "mean of respondent indices",
                                "suppressed": hide, **({"note": TOO_FEW} if hide else {})})
    return out




# ---------------------------------------------------------------- paired comparisons


def paired_rows(db, round_a, round_b, project: str | None = None, items: list[str] | None = None,
                units: list[str] | None = None) -> dict:
    """`report paired`: per item the panel comparison; plus the panel counts (each person once).
    items: only these (None = every item; [] = none, the panel counts alone)."""
    scope = Scope(db, [round_a, round_b], project, units)
    ra, rb = (select_rounds(db, [round_a], project)[0], select_rounds(db, [round_b], project)[0])
    if ra["id"] == rb["id"]:
        raise SurveyError("a paired comparison needs two different rounds")
    for r in (ra, rb):
        if r["anonymous"]:
            raise SurveyError(f"round '{r['name']}' is anonymous: it keeps no panel key, so no paired comparison is possible")
    responses = respondent_values(db, scope, items)
    by_round: dict[int, dict[str, dict]] = {ra["id"]: {}, rb["id"]: {}}
    for x in responses:
        if x["key"] is not None:
            by_round[x["round_id"]][x["key"]] = x
    personal = any(p for r in (ra, rb) for _, _, p in scope.questionnaires[r["id"]].values())
    candidates = []
    for item_id in _item_order(scope):
        if items is not None and item_id not in items:
            continue
        spec_a = _any_spec(scope, ra["id"], item_id)
        spec_b = _any_spec(scope, rb["id"], item_id)
        if spec_a is None or spec_b is None or not spec_a.has_mean:
            continue
        if spec_a.version != spec_b.version:
            continue  # a reworded item is not compared with its old wording
        candidates.append(item_id)
    rows = []
    for item_id in candidates:
        a = {k: x["values"].get(item_id) for k, x in by_round[ra["id"]].items()}
        b = {k: x["values"].get(item_id) for k, x in by_round[rb["id"]].items()}
        result = paired_comparison(a, b)
        hide = personal and 0 < result["n_pairs"] < scope.min_n
        row = {"item": item_id, "round_a": ra["name"], "round_b": rb["name"], **{k: rounded(v, 6) if isinstance(v, float) else v
                                                                                   for k, v in result.items()}}
        if hide:
            row.update(mean_a=None, mean_b=None, diff=None, sd_diff=None, p_ttest=None, p_wilcoxon=None, note=TOO_FEW)
        row["suppressed"] = hide
        rows.append(row)
    counting = counting_response_ids(db, [ra["id"], rb["id"]], units)
    answered = {ra["name"]: {k for k, x in by_round[ra["id"]].items() if x["response_id"] in counting},
                rb["name"]: {k for k, x in by_round[rb["id"]].items() if x["response_id"] in counting}}
    counts = panel_counts(answered)
    return {"round_a": ra["name"], "round_b": rb["name"], "items": rows,
            "panel": {"only_a": counts["only_a"], "only_b": counts["only_b"], "both": counts["both"], "people": counts["people"],
                      "rule": "each person once, in the highest set they belong to; responded = complete + valid partial"}}


def _any_spec(scope: Scope, round_id: int, item_id: str) -> ItemSpec | None:
    for group in scope.groups(round_id):
        spec = scope.spec(round_id, group, item_id)
        if spec is not None:
            return spec
    return None


# ---------------------------------------------------------------- group comparisons and cross-tabs


def construct_rows(db, round_refs: list | None = None, group_a: str = "ledere", group_b: str = "medarbejdere",
                   project: str | None = None, units: list[str] | None = None, share: str = "top2") -> list[dict]:
    """Managers vs staff (any two groups) on parallel items linked by `construct`, per round.
    diff = group_b - group_a. Cells below the minimum n are not compared."""
    scope = Scope(db, round_refs, project, units)
    raw = answer_counts(db, scope.round_ids, ("group",), units)
    hidden = hidden_cells(scope, ("group",), raw)
    counts: dict[tuple, dict] = defaultdict(dict)
    for round_id, group, item_id, version, code, count in raw:
        counts[(round_id, group, item_id, version)][code] = count
    out = []
    for r in scope.rounds:
        qa, qb = scope.questionnaire(r["id"], group_a), scope.questionnaire(r["id"], group_b)
        if qa is None or qb is None:
            continue
        by_construct_b = {i.construct_id: i for i in qb[1].items() if i.construct_id}
        for item in qa[1].items():
            other = by_construct_b.get(item.construct_id) if item.construct_id else None
            if other is None or item.type != "scale":
                continue
            spec_a, spec_b = item_spec(qa[1], item), item_spec(qb[1], other)
            ca = counts.get((r["id"], group_a, item.id, item.version), {})
            cb = counts.get((r["id"], group_b, other.id, other.version), {})
            personal = qa[2] or qb[2]
            too_few = personal and (sum(ca.values()) < scope.min_n or sum(cb.values()) < scope.min_n
                                    or (r["id"], group_a, item.id, item.version) in hidden
                                    or (r["id"], group_b, other.id, other.version) in hidden)
            row = {"round": r["name"], "round_id": r["id"], "construct": item.construct_id}
            if too_few or not ca or not cb:
                row.update(group_a=group_a, group_b=group_b, item_a=item.id, item_b=other.id, n_a=sum(ca.values()),
                           n_b=sum(cb.values()), suppressed=True, note=TOO_FEW)
            else:
                row.update(group_comparison({group_a: (spec_a, ca), group_b: (spec_b, cb)}, group_a, group_b, share), suppressed=False)
            out.append(row)
    return out


def crosstab_data(db, round_ref, row_item: str, col_item: str, group: str | None = None, project: str | None = None,
                  units: list[str] | None = None) -> dict:
    scope = Scope(db, [round_ref], project, units)
    r = scope.rounds[0]
    groups = [group] if group else scope.groups(r["id"])
    spec_r = spec_c = None
    pairs = []
    personal = False
    responses = respondent_values(db, scope, [row_item, col_item])
    for g in groups:
        entry = scope.questionnaire(r["id"], g)
        if entry is None:
            raise NotFound(f"round '{r['name']}' has no group '{g}'")
        sr, sc = scope.spec(r["id"], g, row_item), scope.spec(r["id"], g, col_item)
        if sr is None or sc is None:
            continue
        spec_r, spec_c = spec_r or sr, spec_c or sc
        personal = personal or entry[2]
        for x in responses:
            answered_as = x["group"] if x["group"] in scope.questionnaires[r["id"]] else ""
            if x["round_id"] == r["id"] and answered_as == g and row_item in x["raw"] and col_item in x["raw"]:
                pairs.append((x["raw"][row_item], x["raw"][col_item]))
    if spec_r is None:
        raise NotFound(f"items '{row_item}' and '{col_item}' are not both in round '{r['name']}'")
    for item_id, spec in ((row_item, spec_r), (col_item, spec_c)):
        if spec.type not in ("scale", "single", "number"):
            raise SurveyError(f"a cross-tabulation needs scale, single-choice or number items; '{item_id}' is a {spec.type} item")
    result = crosstab(pairs, spec_r, spec_c, scope.min_n, personal)
    result.update(round=r["name"], group=group, row_item=row_item, col_item=col_item,
                  row_labels=spec_r.labels, col_labels=spec_c.labels)
    return result


# ---------------------------------------------------------------- unit spread


def unit_spread(db, round_ref, item_id: str, group: str | None = None, share: str = "top2", project: str | None = None) -> dict:
    """Anonymous spread of an item's share across units ("varierer mellem 34 og 66 procent")."""
    scope = Scope(db, [round_ref], project)
    rows = item_rows(db, by=_spread_by(group), items=[item_id], scope=scope, decimals=None)
    return _spread_of(rows, scope.round_ids[0], group, share, scope.min_n)


def unit_spreads(db, scope: Scope, item_id: str, groups: list[str], share: str = "top2") -> list[dict]:
    """unit_spread for every round of the scope and each of `groups` ('' = the groups pooled) that
    asks the item: [{"round", "group", **spread}], reading the item table once per breakdown."""
    tables: dict[tuple, list[dict]] = {}
    out = []
    for r in scope.rounds:
        for g in groups:
            if scope.spec(r["id"], g, item_id) is None:
                continue
            by = _spread_by(g)
            if by not in tables:
                tables[by] = item_rows(db, by=by, items=[item_id], scope=scope, decimals=None)
            out.append({"round": r["name"], "group": g, **_spread_of(tables[by], r["id"], g or None, share, scope.min_n)})
    return out


def _spread_by(group: str | None) -> tuple[str, ...]:
    return ("group", "unit") if group else ("unit",)


def _spread_of(rows: list[dict], round_id: int, group: str | None, share: str, min_n: int) -> dict:
    values = {}
    personal = True
    for row in rows:
        if row["round_id"] != round_id or row["unit"] is None or (group and row.get("group") != group):
            continue
        personal = row["personal"]
        # Suppressed cells (too few answers, or hidden to protect another cell) stay out of the spread.
        if not row["suppressed"] and row.get(share) is not None:
            values[row["unit"]] = (row[share], row["n"])
    return spread(values, min_n, personal)


# ---------------------------------------------------------------- exports


def export_data(db, round_refs: list | None = None, project: str | None = None, units: list[str] | None = None,
                secret: str | None = None, identify: bool = False) -> dict:
    """Respondent-level answers and their codebook for `surveyapp export`, with the privacy rules
    of microdata applied (analysis.md "Small numbers and anonymity"):

    rows: one per response (round, group, unit, the respondent id — absent for anonymous rounds —,
    status, responded class, submitted_at, attributes, one column per item with the stored code or
    text). The id is `respondent_id`, a keyed hash of the panel key under `secret` (stable across
    rounds and exports), or the panel key itself in column `key` when `identify` is true. Names and
    emails are never read. In personal questionnaires, rows of a round x group x unit cell with fewer
    than the project's minimum n counted responses (complete + valid partial) get their unit,
    free-text answers and attributes blanked (analysis.export.protect_small_cells).
    codebook: per variable its label, type, value labels and missing codes, plus the rules."""
    from analysis import export as writer

    scope = Scope(db, round_refs, project, units)
    responses = respondent_values(db, scope)
    thresholds = {r["id"]: r["partial_threshold"] for r in scope.rounds}
    # applicable/answered counts for the responded class, over every unit of the rounds (response_rows
    # selects by the invitation's current unit, which may differ from the unit a response was given in).
    classes = {}
    for x in response_rows(db, scope.round_ids, None):
        classes[x["id"]] = classify(x["status"], x["answered"], x["applicable"], thresholds[x["round_id"]])
    # Counted responses per round x group x unit cell (the unit the response was given in). The
    # responses read above hold every response of each cell the export has rows for, whichever
    # units it selects, so a cell's size does not depend on the selection.
    cell_counts: dict[tuple, int] = defaultdict(int)
    for x in responses:
        if classes.get(x["response_id"]) in (COMPLETE, VALID_PARTIAL):
            cell_counts[(x["round"], x["group"], x["unit"])] += 1
    # One column per item *version*: a reworded item never shares a column with its old wording.
    # The first version keeps the item id as its name; later ones are called id_v2, id_v3, ...
    versions_of: dict[str, set] = defaultdict(set)
    for _, _, q in scope.entries():
        for item in q.question_items():
            versions_of[item.id].add(item.version)
    column_of = {(item_id, v): item_id if v == min(vs) else f"{item_id}_v{v}" for item_id, vs in versions_of.items() for v in vs}
    variables: dict[str, dict] = {}
    for _, _, q in scope.entries():
        for item in q.question_items():
            spec = item_spec(q, item)
            name = column_of[(item.id, item.version)]
            var = variables.setdefault(name, {"name": name, "item": item.id, "label": item.text, "type": item.type,
                                              "value_labels": {}, "missing": [], "versions": set(), "reverse": item.reverse,
                                              "questionnaires": set()})
            var["value_labels"].update(spec.labels)
            var["missing"] = sorted(set(var["missing"]) | set(spec.missing))
            var["versions"].add(item.version)
            var["questionnaires"].add(q.id)
    for var in variables.values():
        var["versions"] = sorted(var["versions"])
        var["questionnaires"] = sorted(var["questionnaires"])
    # A checklist (multiple choice) becomes one 0/1 variable per option, as SPSS users expect:
    # 1 = chosen, 0 = answered the item without choosing it, empty = did not answer the item.
    dichotomies: dict[str, list[tuple[int, str]]] = {}
    for name in [n for n, v in variables.items() if v["type"] == "multiple"]:
        var = variables.pop(name)
        dichotomies[name] = []
        for code, label in sorted(var["value_labels"].items()):
            sub = f"{name}_{code}"
            dichotomies[name].append((code, sub))
            variables[sub] = {**var, "name": sub, "type": "single", "label": f"{var['label']}: {label}",
                              "value_labels": {0: "Ikke valgt", 1: "Valgt"}, "missing": []}
    anonymous_any = any(r["anonymous"] for r in scope.rounds)
    attribute_names = sorted({a for x in responses for a in x["attributes"]})
    id_column = None if anonymous_any else (writer.KEY if identify else writer.PSEUDONYM)
    if id_column == writer.PSEUDONYM and not secret:
        raise SurveyError("a pseudonymous export needs the instance secret key")
    pseudonyms: dict = {}
    rows = []
    for x in responses:
        row = {"round": x["round"], "round_id": x["round_id"], "group": x["group"], "unit": x["unit"]}
        if id_column == writer.KEY:
            row[writer.KEY] = x["key"]
        elif id_column == writer.PSEUDONYM:
            if x["key"] not in pseudonyms:
                pseudonyms[x["key"]] = writer.pseudonym(secret, scope.project["id"], x["key"]) if x["key"] is not None else None
            row[writer.PSEUDONYM] = pseudonyms[x["key"]]
        row["status"] = x["status"]
        row["responded"] = classes.get(x["response_id"])
        row["submitted_at"] = (x["submitted_at"] or "")[:10] or None
        for a in attribute_names:
            row[a] = x["attributes"].get(a)
        for var in variables:
            row[var] = None
        for item_id, value in x["raw"].items():
            name = column_of.get((item_id, x["versions"].get(item_id, 1)))
            if name is None:
                continue
            if name in dichotomies:
                chosen = json.loads(value) if isinstance(value, str) and value.startswith("[") else []
                for code, sub in dichotomies[name]:
                    row[sub] = 1 if code in chosen else 0
                continue
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            row[name] = value
        rows.append(row)
    personal_of = {}
    for r in rows:
        entry = scope.questionnaire(r["round_id"], r["group"])
        personal_of[(r["round"], r["group"])] = entry[2] if entry is not None else True
    free_text = [name for name, var in variables.items() if var["type"] == "text"]
    blanked = writer.protect_small_cells(rows, cell_counts, scope.min_n, personal_of, free_text, attribute_names, id_column)
    rules = scope.rules()
    rules["respondent_id"] = ("none: anonymous rounds keep no link to people" if id_column is None else
                              "key: the real panel key (people.key), exported with --identify" if id_column == writer.KEY else
                              f"respondent_id: pseudonym, HMAC-SHA256 of the panel key under the instance secret key, first "
                              f"{writer.PSEUDONYM_LENGTH} hex characters; the same person has the same id in every round and export "
                              "of this instance. Names and emails are never exported")
    rules["microdata_small_cells"] = (
        f"personal questionnaires: rows of a round x group x unit cell with fewer than {scope.min_n} counted responses "
        "(complete + valid partial) have the unit, free-text answers and respondent attributes blanked; where that would leave "
        "one blanked unit in a round x group, the next-smallest unit of it is blanked too; a person with a blanked row has "
        "all their rows blanked. Questionnaires with personal: false are exempt")
    rules["microdata_rows_blanked"] = blanked["rows"]
    return {"rows": rows, "variables": variables, "attributes": attribute_names, "rules": rules,
            "anonymous": anonymous_any, "rounds": [r["name"] for r in scope.rounds], "id_column": id_column,
            "blanked_rows": blanked["rows"], "blanked_cells": blanked["cells"]}


# ---------------------------------------------------------------- response rates per unit x group


def rate_cells(db, round_refs: list | None = None, project: str | None = None, units: list[str] | None = None) -> list[dict]:
    return rate_rows(db, round_refs, ("group", "unit"), project, units)


# ---------------------------------------------------------------- figures


def _label(round_: dict) -> str:
    return round_label(round_["name"], round_.get("opens"))


def _scale_text(spec: ItemSpec) -> str:
    subst = sorted(spec.substantive)
    labels = [f"{c} = {spec.labels.get(c, c)}" for c in subst]
    text = ", ".join(labels) if len(labels) <= 5 else f"{labels[0]} … {labels[-1]}"
    if spec.missing:
        text += "; " + ", ".join(f"{c} = {spec.labels.get(c, c)}" for c in spec.missing) + " (tæller ikke med i gennemsnit)"
    if spec.reverse:
        text += "; vendt skala (reverse-keyed) før gennemsnit"
    return text


def _source(scope: Scope, item_id: str | None = None) -> str:
    qids = sorted({q.id for _, _, q in scope.entries() if item_id is None or any(i.id == item_id for i in q.items())})
    return f"{', '.join(qids)}; runder: {', '.join(r['name'] for r in scope.rounds)}"


NOT_PERSONAL = "Besvaret på vegne af en enhed (personal: false): vises uanset antal svar."
N_RULE = "N = alle, der har besvaret spørgsmålet (inkl. \"Ved ikke\" og delvise besvarelser)"


def build_figures(db, out_dir, round_refs: list | None = None, project: str | None = None, units: list[str] | None = None,
                  items: list[str] | None = None, kinds: tuple[str, ...] = ("trend", "shares", "diverging", "index", "rates"),
                  groups: list[str] | None = None) -> list[dict]:
    """Every figure for the chosen rounds, as PNG/SVG/PDF + CSV under out_dir; returns
    [{"figure", "kind", "files": [...]}]."""
    from pathlib import Path

    from analysis import figures

    out = Path(out_dir)
    scope = Scope(db, round_refs, project, units)
    label_of = {r["id"]: _label(r) for r in scope.rounds}
    made: list[dict] = []
    rows = item_rows(db, by=("group",), units=units, items=items, scope=scope, decimals=None)
    rows = [r for r in rows if r.get("group") is not None and (not groups or r["group"] in groups)]
    suppression_rule = (f"Færre end {scope.min_n} svar: ikke vist (\"for få svar\"); en ekstra celle skjules, hvor tallet ellers "
                        "kunne regnes ud fra en total.")
    series_keys: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        series_keys[(row["item"], row["item_version"])].append(row)
    versions_of: dict[str, set] = defaultdict(set)
    for item_id, version in series_keys:
        versions_of[item_id].add(version)
    for (item_id, version), points in series_keys.items():
        first = points[0]
        if first["type"] != "scale":
            continue
        spec = _any_spec(scope, first["round_id"], item_id)
        if spec is None:
            continue
        name, suffix = figure_stem(item_id, version, versions_of[item_id])
        title = shorten(f"{spec.text}{suffix}", 160)
        group_names = sorted({p["group"] for p in points})
        n_by_round = {label_of[r["id"]]: {g: next((p["n"] for p in points if p["round_id"] == r["id"] and p["group"] == g), None)
                                          for g in group_names}
                      for r in scope.rounds if any(p["round_id"] == r["id"] for p in points)}
        starts = label_of[min((p["round_id"] for p in points), key=lambda rid: scope.index_of[rid])]
        hidden = [f"{p['group']} {label_of[p['round_id']]}" for p in points if p["suppressed"]]
        supp = (suppression_rule + (f" Skjult: {', '.join(hidden)}." if hidden else "")) if first["personal"] else NOT_PERSONAL
        item_rounds = [label_of[r["id"]] for r in scope.rounds
                       if any(i.id == item_id for _, q, _ in scope.questionnaires[r["id"]].values() for i in q.items())]
        start_note = f"Serien starter {starts} (spørgsmålet i denne formulering findes ikke i tidligere runder)." \
            if starts != item_rounds[0] else None
        others = sorted(versions_of[item_id] - {version})
        if others:
            other_note = (f"Spørgsmålet findes også i version {', '.join(map(str, others))} med en anden formulering; "
                          "versionerne sammenkædes aldrig og vises i hver sin figur.")
            start_note = f"{start_note} {other_note}" if start_note else other_note
        if "trend" in kinds:
            series = [{"label": g or "alle", "starts": starts, "points": [
                {"round": label_of[p["round_id"]], "mean": p["mean"], "ci_low": p["ci_low"], "ci_high": p["ci_high"],
                 "n": p["n"], "suppressed": p["suppressed"]} for p in points if p["group"] == g]} for g in group_names]
            cap = caption(_source(scope, item_id), ", ".join(g or "alle" for g in group_names), figures.n_caption(n_by_round) + f" ({N_RULE})",
                          _scale_text(spec), "Gennemsnit af de substantielle svar; \"Ved ikke\" indgår ikke. Bånd: 95 %-konfidensinterval (t).",
                          supp, start_note)
            files = figures.trend_means(series, item_rounds, out / f"trend_{name}", title, cap,
                                        (min(spec.substantive), max(spec.substantive)))
            made.append({"figure": f"trend_{name}", "kind": "trend", "item": item_id, "files": [str(f) for f in files]})
        if "shares" in kinds:
            bars = [{"label": f"{label_of[p['round_id']]}\n{p['group'] or 'alle'}", "n": p["n"], "n_valid": p["n_valid"],
                     "shares": p["shares"], "shares_valid": p["shares_valid"], "suppressed": p["suppressed"]}
                    for p in sorted(points, key=lambda p: (p["group"], scope.index_of[p["round_id"]]))]
            cap = caption(_source(scope, item_id), ", ".join(g or "alle" for g in group_names), figures.n_caption(n_by_round) + f" ({N_RULE})",
                          _scale_text(spec), "Søjlerne viser procent af de substantielle svar (hele procent); \"Ved ikke\" vises for sig "
                          "som procent af alle, der har besvaret spørgsmålet.", supp, start_note)
            options = [(c, spec.labels.get(c, str(c))) for c in spec.substantive]
            missing = [(c, spec.labels.get(c, str(c))) for c in spec.missing]
            files = figures.stacked_shares(bars, options, missing, out / f"shares_{name}", title, cap)
            made.append({"figure": f"shares_{name}", "kind": "shares", "item": item_id, "files": [str(f) for f in files]})
    if "diverging" in kinds:
        for r in scope.rounds:
            for g in scope.groups(r["id"]):
                if groups and g not in groups:
                    continue
                cell = [p for p in rows if p["round_id"] == r["id"] and p["group"] == g and p["type"] == "scale"]
                if not cell:
                    continue
                spec = scope.spec(r["id"], g, cell[0]["item"])
                same = [p for p in cell if scope.spec(r["id"], g, p["item"]).substantive == spec.substantive]
                bars = [{"label": p["text"], "n": p["n"], "shares_valid": p["shares_valid"], "suppressed": p["suppressed"]} for p in same]
                ns = [p["n"] for p in same]
                hidden = [p["item"] for p in same if p["suppressed"]]
                q_id = scope.questionnaire(r["id"], g)[1].id
                cap = caption(f"{q_id}; runde: {r['name']}", g or "alle", f"N: {label_of[r['id']]}: {min(ns)}-{max(ns)} pr. spørgsmål ({N_RULE})",
                              _scale_text(spec), "Procent af de substantielle svar; \"Ved ikke\" er udeladt af nævneren.",
                              (suppression_rule + (f" Skjult: {', '.join(hidden)}." if hidden else "")) if same[0]["personal"] else NOT_PERSONAL)
                base = out / f"diverging_{_slug(r['name'])}_{_slug(g or 'alle')}"
                files = figures.diverging(bars, [(c, spec.labels.get(c, str(c))) for c in spec.substantive], base,
                                          f"{label_of[r['id']]}: {g or 'alle'}", cap)
                made.append({"figure": base.name, "kind": "diverging", "files": [str(f) for f in files]})
    if "index" in kinds:
        definitions = index_definitions(scope)
        if definitions:
            irows = index_rows(db, by_unit=False, units=units, scope=scope)
            series = [{"label": d["title"], "points": [{"round": label_of[x["round_id"]], "score": x["score"], "n": x["n"],
                                                        "suppressed": x["suppressed"]} for x in irows if x["index"] == d["id"]]}
                      for d in definitions.values()]
            n_by_round = {label_of[r["id"]]: {d["title"]: next((x["n"] for x in irows if x["index"] == d["id"] and x["round_id"] == r["id"]), None)
                                              for d in definitions.values()} for r in scope.rounds}
            thresholds = next((d["thresholds"] for d in definitions.values() if d["thresholds"]), None)
            specs = [scope.spec(r["id"], g, i) for r, g, _ in scope.entries() for d in definitions.values() for i in d["items"]]
            codes = [c for spec in specs if spec is not None for c in spec.substantive]
            index_scale = (min(codes), max(codes)) if codes else (1, 5)
            index_source = ", ".join(sorted({d["questionnaire"] for d in definitions.values()}))
            index_rounds = [label_of[r["id"]] for r in scope.rounds if any(x["round_id"] == r["id"] for x in irows)]
            n_by_round = {k: v for k, v in n_by_round.items() if k in index_rounds}
            cap = caption(f"{index_source}; runder: {', '.join(index_rounds)}", None, figures.n_caption(n_by_round) + " (n = enheder)",
                          f"{index_scale[0]}-{index_scale[1]} (gennemsnit af spørgsmålenes svarkoder)", "Indeks: pr. enhed gennemsnittet af de besvarede spørgsmål (\"Ved ikke\" udeladt, ikke talt som 0), "
                          "derefter gennemsnittet af enhedernes gennemsnit (hver enhed vejer ens).",
                          NOT_PERSONAL if not any(q[2] for r in scope.rounds for q in scope.questionnaires[r["id"]].values())
                          else suppression_rule,
                          f"Farver: grøn ≥ {decimal(thresholds[0], 1)}, gul ≥ {decimal(thresholds[1], 1)}, ellers rød." if thresholds else None)
            files = figures.index_trends(series, index_rounds, out / "index_trends", "Indeks pr. fase", cap, index_scale, thresholds)
            made.append({"figure": "index_trends", "kind": "index", "files": [str(f) for f in files]})
    if "rates" in kinds:
        rates = rate_cells(db, [r["id"] for r in scope.rounds], units=units)
        for r in scope.rounds:
            cells = [x for x in rates if x["round_id"] == r["id"] and x["group"] is not None and x["unit"] is not None]
            if not cells:
                continue
            total = next((x for x in rates if x["round_id"] == r["id"] and x["group"] is None and x["unit"] is None), None)
            cap = caption(_source(scope), "alle grupper",
                          f"Inviterede i alt: {total['invited']}; besvaret: {total['responded']} ({percent(total['rate'])})" if total else "",
                          "svarprocent", f"Besvaret = fuldførte + gyldige delvise (mindst {percent(100 * r['partial_threshold'], 0)} af de relevante "
                          "spørgsmål besvaret); nævner: alle inviterede.", "Svarprocenter er ikke følsomme og vises for alle enheder.")
            base = out / f"rates_{_slug(r['name'])}"
            files = figures.response_rates(cells, base, f"Svarprocent pr. enhed og gruppe, {label_of[r['id']]}", cap)
            made.append({"figure": base.name, "kind": "rates", "files": [str(f) for f in files]})
    return made


def figure_stem(item_id: str, version: int, versions) -> tuple[str, str]:
    """The name of an item's trend/shares figures after their kind ('q3_v2', or 'q1' when the item
    has one version, its first) and the suffix of their title (' (version 2)' or '')."""
    if len(versions) > 1 or version > 1:
        return f"{item_id}_v{version}", f" (version {version})"
    return item_id, ""


def _slug(text: str) -> str:
    import re
    import unicodedata

    ascii_text = unicodedata.normalize("NFKD", text.replace("æ", "ae").replace("ø", "oe").replace("å", "aa")
                                       .replace("Æ", "Ae").replace("Ø", "Oe").replace("Å", "Aa")).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]+", "_", ascii_text).strip("_").lower() or "x"


# ---------------------------------------------------------------- export orchestration

ITEM_COLUMNS_HELP = {
    "n": "N: alle, der har besvaret spørgsmålet (inkl. 'Ved ikke' og delvise besvarelser)",
    "n_valid": "Substantielle svar bag gennemsnittet",
    "mean": "Gennemsnit af substantielle svar (vendt skala for reverse-keyed)", "sd": "Standardafvigelse",
    "ci_low": "95 %-konfidensinterval, nedre (t)", "ci_high": "95 %-konfidensinterval, øvre (t)",
    "top1": "Andel i den øverste kategori, procent af N", "top2": "Andel i de to øverste kategorier, procent af N",
    "suppressed": "Skjult pga. for få svar (eller for at skjulte tal ikke kan regnes ud fra en total)",
}


def export(db, out, fmt: str, round_refs: list | None = None, project: str | None = None, units: list[str] | None = None,
           layout: str = "responses", level: str = "answers", by: tuple[str, ...] = ("group",), secret: str | None = None,
           identify: bool = False) -> dict:
    """`surveyapp export`: answers (responses/long/wide layout) or aggregated, suppressed item
    tables (level 'items'), with the codebook and the rules. Answer-level exports carry a
    pseudonymous respondent id made with `secret` (the real panel key only with `identify`) and
    blank small cells (see export_data). Returns what was written."""
    from analysis import export as writer

    if level == "items":
        scope = Scope(db, round_refs, project, units)
        rows = item_rows(db, by=by, units=units, scope=scope)
        codes = sorted({c for r in rows for c in (r.get("shares") or {})}, key=lambda c: float(c))
        flat = []
        for r in rows:
            row = {k: r.get(k) for k in ("round", "round_id", *by, "item", "item_version", "text", "n", "n_valid", "mean", "sd",
                                          "ci_low", "ci_high", "top1", "top2", "suppressed")}
            for c in codes:
                row[f"share_{c}"] = (r.get("shares") or {}).get(c)
            row["note"] = r.get("note")
            flat.append(row)
        variables = {k: {"name": k, "label": v, "type": "number", "value_labels": {}, "missing": []} for k, v in ITEM_COLUMNS_HELP.items()}
        for c in codes:
            variables[f"share_{c}"] = {"name": f"share_{c}", "label": f"Procent af N med svarkode {c}", "type": "number",
                                       "value_labels": {}, "missing": []}
        columns = list(flat[0]) if flat else ["round", "item"]
        files = writer.write(out, fmt, flat, variables, scope.rules(), columns, sheet="items")
        return {"level": "items", "rows": len(flat), "files": [str(f) for f in files]}
    data = export_data(db, round_refs, project, units, secret, identify)
    rows, variables = data["rows"], data["variables"]
    if layout == "long":
        rows = writer.long_rows(rows, variables)
        columns = [c for c in writer.FIXED if any(c in r for r in rows[:1])] + ["item", "value", "label", "missing_code"]
    elif layout == "wide":
        if data["anonymous"]:
            raise SurveyError("a wide export across rounds needs the panel key, and an anonymous round keeps none")
        rows, variables = writer.wide_rows(rows, variables, data["rounds"], data["id_column"])
        columns = [data["id_column"]] + list(variables)
    elif layout == "responses":
        columns = None
    else:
        raise SurveyError(f"unknown layout '{layout}' (responses, long or wide)")
    files = writer.write(out, fmt, rows, variables, data["rules"], columns)
    return {"level": "answers", "layout": layout, "rows": len(rows), "files": [str(f) for f in files],
            "anonymous": data["anonymous"], "id_column": data["id_column"], "blanked_rows": data["blanked_rows"]}
