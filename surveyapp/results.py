"""The thin query layer between the database and `analysis/`: it reads rows and hands the
analysis functions plain data. Nothing here computes a statistic."""
from __future__ import annotations

import json
from collections import defaultdict

from analysis.rates import response_rates
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
    sql = (f"SELECT id, round_id, group_name AS 'group', unit, status, questionnaire_version_id, submitted_at, last_saved_at "
           f"FROM responses WHERE round_id IN ({','.join('?' * len(round_ids))})")
    params = list(round_ids)
    if units is not None:
        sql += f" AND unit IN ({','.join('?' * len(units))})"
        params += units
    responses = [dict(r) for r in db.query(sql, params)]
    answers: dict[int, dict] = defaultdict(dict)
    for row in db.query(
        f"SELECT a.response_id, a.item_id, a.value_num, a.value_text FROM answers a JOIN responses r ON r.id = a.response_id "
        f"WHERE r.round_id IN ({','.join('?' * len(round_ids))})", round_ids):
        value = row["value_num"] if row["value_num"] is not None else row["value_text"]
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str) and value.startswith("["):
            value = json.loads(value)
        answers[row["response_id"]][row["item_id"]] = value
    for response in responses:
        q = get_version(db, response["questionnaire_version_id"])
        given = answers.get(response["id"], {})
        applicable = q.applicable_items(given, response["group"])
        response["applicable"] = len(applicable)
        response["answered"] = sum(1 for item in applicable if given.get(item.id) not in (None, "", []))
    return responses


def rate_rows(db, round_refs: list | None = None, by: tuple[str, ...] = (), project: str | None = None,
              units: list[str] | None = None) -> list[dict]:
    """Response-rate rows for the CLI, the console dashboard and the evaluator reports alike."""
    rounds = select_rounds(db, round_refs, project)
    ids = [r["id"] for r in rounds]
    if not ids:
        return []
    return response_rates(rounds, invitation_rows(db, ids, units), response_rows(db, ids, units), by)
