"""The thin query layer between the database and `analysis/`: it reads rows and hands the
analysis functions plain data. Nothing here computes a statistic."""
from __future__ import annotations

from collections import defaultdict

from analysis.rates import response_rates
from .questionnaire import decode_answer
from .questionnaire_store import get_version
from .responses import parse_not_asked
from .rounds import get_round, list_rounds


def select_rounds(db, refs: list | None = None, project: str | None = None) -> list[dict]:
    """The named rounds (id or name), or every round of the project when none are named."""
    if refs:
        return [get_round(db, ref, project) for ref in refs]
    return list_rounds(db, project)


def invitation_rows(db, round_ids: list[int], units: list[str] | None = None) -> list[dict]:
    sql = (f"SELECT round_id, group_name AS 'group', unit, eligible, completed, started FROM invitations "
           f"WHERE removed_at IS NULL AND round_id IN ({','.join('?' * len(round_ids))})")
    params = list(round_ids)
    if units is not None:
        sql += f" AND unit IN ({','.join('?' * len(units))})"
        params += units
    return [dict(r) for r in db.query(sql, params)]


def response_rows(db, round_ids: list[int], units: list[str] | None = None) -> list[dict]:
    """One dict per response with `answered` and `applicable` counts of question items
    (show_if and group rules applied to the stored answers).

    Answers to the items everyone is asked are counted in SQL; only the answers the rules need
    (conditional items, the items their show_if reads, items some invitation does not ask) are
    read into Python."""
    if not round_ids:
        return []
    # A response of someone taken off the list leaves the counts with them (the denominator
    # already excludes removed invitations); anonymous responses have no invitation to check.
    # The cell is the invitation's current group and unit (a respondent moved to another unit
    # is counted there, like the denominator); anonymous responses carry their own copy.
    joins = "FROM responses r LEFT JOIN invitations i ON i.id = r.invitation_id "
    where = f"WHERE i.removed_at IS NULL AND r.round_id IN ({','.join('?' * len(round_ids))})"
    params = list(round_ids)
    if units is not None:
        where += f" AND COALESCE(i.unit, r.unit) IN ({','.join('?' * len(units))})"
        params += units
    responses = [dict(r) for r in db.query(
        "SELECT r.id, r.round_id, COALESCE(i.group_name, r.group_name) AS 'group', COALESCE(i.unit, r.unit) AS unit, "
        "r.status, r.questionnaire_version_id, i.not_asked AS not_asked, r.submitted_at, r.last_saved_at " + joins + where, params)]
    for response in responses:
        # Items the invitation does not ask (e.g. routed away by age) are not applicable.
        response["not_asked"] = parse_not_asked(response["not_asked"])
    versions = {version_id: _Rules(get_version(db, version_id))
                for version_id in {r["questionnaire_version_id"] for r in responses}}
    with_answers = joins + "JOIN answers a ON a.response_id = r.id " + where
    plain_counts: dict[int, int] = {}
    for version_id, rules in versions.items():
        if rules.plain:
            # "+a.item_id": read each response's answers in one range of the primary key and
            # filter them, rather than probing the key once per item (about twice as fast).
            plain_counts.update(db.execute(
                f"SELECT r.id, COUNT(*) {with_answers} AND r.questionnaire_version_id = ? "
                f"AND +a.item_id IN ({','.join('?' * len(rules.plain))}) GROUP BY r.id",
                [*params, version_id, *sorted(rules.plain)]).fetchall())
    watched = set().union(*(rules.watched for rules in versions.values()), *(r["not_asked"] for r in responses))
    stored: dict[int, dict] = defaultdict(dict)  # response id -> {watched item id: (value_num, value_text)}
    if watched:
        for response_id, item_id, value_num, value_text in db.execute(
                f"SELECT a.response_id, a.item_id, a.value_num, a.value_text {with_answers} "
                f"AND a.item_id IN ({','.join('?' * len(watched))})", params + sorted(watched)):
            stored[response_id][item_id] = (value_num, value_text)
    for response in responses:
        rules = versions[response["questionnaire_version_id"]]
        given = stored.get(response["id"], {})  # a stored answer is never blank
        not_asked = response.pop("not_asked")
        answered = plain_counts.get(response["id"], 0)
        applicable = len(rules.plain)
        for item_id in not_asked & rules.plain:
            applicable -= 1
            answered -= item_id in given
        if rules.conditional:
            # Decoded by item type (a free-text answer that starts with "[" stays text).
            values = {item_id: decode_answer(rules.items[item_id], *given[item_id]) for item_id in rules.sources if item_id in given}
            for item in rules.conditional:
                if rules.q.is_shown(item, values, response["group"], not_asked):
                    applicable += 1
                    answered += item.id in given
        response["applicable"] = applicable
        response["answered"] = answered
    return responses


class _Rules:
    """A questionnaire version's question items split by whether a rule can hide them."""

    def __init__(self, q):
        self.q = q
        self.items = {i.id: i for i in q.question_items()}
        # Items every respondent is asked, and those a group rule or show_if may hide.
        self.plain = frozenset(i.id for i in self.items.values() if i.show_if is None and not i.groups)
        self.conditional = [i for i in self.items.values() if i.id not in self.plain]
        self.sources = {i.show_if.item for i in self.conditional if i.show_if is not None}
        self.watched = {i.id for i in self.conditional} | self.sources


def rate_rows(db, round_refs: list | None = None, by: tuple[str, ...] = (), project: str | None = None,
              units: list[str] | None = None) -> list[dict]:
    """Response-rate rows for the CLI, the console dashboard and the evaluator reports alike."""
    rounds = select_rounds(db, round_refs, project)
    ids = [r["id"] for r in rounds]
    if not ids:
        return []
    return response_rates(rounds, invitation_rows(db, ids, units), response_rows(db, ids, units), by)
