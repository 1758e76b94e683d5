"""The thin query layer between the database and `analysis/`: it reads rows and hands the
analysis functions plain data. Nothing here computes a statistic."""
from __future__ import annotations

import json
from collections import defaultdict

from analysis.rates import response_rates
from .questionnaire import decode_answer
from .questionnaire_store import get_version
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
    (show_if and group rules applied to the stored answers)."""
    if not round_ids:
        return []
    # A response of someone taken off the list leaves the counts with them (the denominator
    # already excludes removed invitations); anonymous responses have no invitation to check.
    # The cell is the invitation's current group and unit (a respondent moved to another unit
    # is counted there, like the denominator); anonymous responses carry their own copy.
    sql = (f"SELECT r.id, r.round_id, COALESCE(i.group_name, r.group_name) AS 'group', COALESCE(i.unit, r.unit) AS unit, "
           f"r.status, r.questionnaire_version_id, i.not_asked AS not_asked, "
           f"r.submitted_at, r.last_saved_at FROM responses r LEFT JOIN invitations i ON i.id = r.invitation_id "
           f"WHERE i.removed_at IS NULL AND r.round_id IN ({','.join('?' * len(round_ids))})")
    params = list(round_ids)
    if units is not None:
        sql += f" AND COALESCE(i.unit, r.unit) IN ({','.join('?' * len(units))})"
        params += units
    responses = [dict(r) for r in db.query(sql, params)]
    answers: dict[int, dict] = defaultdict(dict)
    for row in db.query(
        f"SELECT a.response_id, a.item_id, a.value_num, a.value_text FROM answers a JOIN responses r ON r.id = a.response_id "
        f"WHERE r.round_id IN ({','.join('?' * len(round_ids))})", round_ids):
        answers[row["response_id"]][row["item_id"]] = (row["value_num"], row["value_text"])
    versions: dict[int, tuple] = {}
    for response in responses:
        entry = versions.get(response["questionnaire_version_id"])
        if entry is None:
            q = get_version(db, response["questionnaire_version_id"])
            items = {i.id: i for i in q.question_items()}
            # Items every respondent is asked, and those a group rule or show_if may hide.
            plain = {i.id for i in items.values() if i.show_if is None and not i.groups}
            conditional = [i for i in items.values() if i.id not in plain]
            sources = {i.show_if.item for i in conditional if i.show_if is not None}
            entry = versions[response["questionnaire_version_id"]] = (q, items, plain, conditional, sources)
        q, items, plain, conditional, sources = entry
        stored = answers.get(response["id"], {})  # a stored answer is never blank
        # Items the invitation does not ask (e.g. routed away by age) are not applicable.
        not_asked = frozenset(json.loads(response.pop("not_asked") or "[]"))
        asked = plain - not_asked if not_asked else plain
        answered = sum(1 for item_id in stored if item_id in asked)
        applicable = len(asked)
        if conditional:
            # Decoded by item type (a free-text answer that starts with "[" stays text).
            given = {item_id: decode_answer(items[item_id], *stored[item_id]) for item_id in sources if item_id in stored}
            for item in conditional:
                if q.is_shown(item, given, response["group"], not_asked):
                    applicable += 1
                    answered += item.id in stored
        response["applicable"] = applicable
        response["answered"] = answered
    return responses


def rate_rows(db, round_refs: list | None = None, by: tuple[str, ...] = (), project: str | None = None,
              units: list[str] | None = None) -> list[dict]:
    """Response-rate rows for the CLI, the console dashboard and the evaluator reports alike."""
    rounds = select_rounds(db, round_refs, project)
    ids = [r["id"] for r in rounds]
    if not ids:
        return []
    return response_rates(rounds, invitation_rows(db, ids, units), response_rows(db, ids, units), by)
