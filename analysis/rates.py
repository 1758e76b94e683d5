"""Response rates, exactly as analysis.md defines them.

Input is plain data: the round's respondent list (one dict per invitation) and its responses
(one dict per response with how many applicable items were answered). The one definition of
"responded" used by every page, export and report lives here.
"""
from __future__ import annotations

from itertools import combinations

COMPLETE, VALID_PARTIAL, BREAK_OFF = "complete", "valid_partial", "break_off"

# The columns of a response-rate row, in the order tables and CSV files show them.
RATE_COLUMNS = ["round", "group", "unit", "invited", "ineligible", "started", "complete", "valid_partial", "responded",
                "rate", "rr1", "rr2", "threshold"]


def classify(status: str, answered: int, applicable: int, threshold: float) -> str:
    """complete (submitted), valid_partial (not submitted, answered >= threshold share of the
    applicable question items; "Ved ikke" counts as an answer) or break_off."""
    if status == "complete":
        return COMPLETE
    if applicable > 0 and answered / applicable >= threshold - 1e-12:
        return VALID_PARTIAL
    return BREAK_OFF


def percent(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else round(100.0 * numerator / denominator, 2)


def _cell_counts(invitations: list[dict], responses: list[dict], threshold: float) -> dict:
    invited = len(invitations)
    ineligible = sum(1 for i in invitations if not i.get("eligible", True))
    started = complete = valid_partial = 0
    for r in responses:
        if r.get("answered", 0) > 0 or r["status"] == "complete":
            started += 1
        kind = classify(r["status"], r.get("answered", 0), r.get("applicable", 0), threshold)
        complete += kind == COMPLETE
        valid_partial += kind == VALID_PARTIAL
    responded = complete + valid_partial
    eligible = invited - ineligible
    return {
        "invited": invited, "ineligible": ineligible, "started": started, "complete": complete,
        "valid_partial": valid_partial, "responded": responded,
        "rate": percent(responded, invited),
        "rr1": percent(complete, eligible), "rr2": percent(responded, eligible),
    }


def response_rates(rounds: list[dict], invitations: list[dict], responses: list[dict], by: tuple[str, ...] = ()) -> list[dict]:
    """One row per round x breakdown cell, plus every roll-up (a rolled-up dimension is None).

    rounds: [{"id", "name", "partial_threshold"}]
    invitations: [{"round_id", "group", "unit", "eligible"}]
    responses: [{"round_id", "group", "unit", "status", "answered", "applicable"}]
    by: dimensions among ("group", "unit"); rows come for every subset of them.
    """
    for dimension in by:
        if dimension not in ("group", "unit"):
            raise ValueError(f"cannot break down response rates by '{dimension}'")
    rows = []
    for round_ in rounds:
        round_invitations = [i for i in invitations if i["round_id"] == round_["id"]]
        round_responses = [r for r in responses if r["round_id"] == round_["id"]]
        subsets = [s for size in range(len(by), -1, -1) for s in combinations(by, size)]
        for subset in subsets:
            # One pass per subset: each invitation and response goes to its cell.
            members: dict[tuple, tuple[list, list]] = {}
            for index, rows_ in ((0, round_invitations), (1, round_responses)):
                for x in rows_:
                    members.setdefault(tuple(x[d] for d in subset), ([], []))[index].append(x)
            for cell in sorted(members):
                key = dict(zip(subset, cell))
                cell_invitations, cell_responses = members[cell]
                counts = _cell_counts(cell_invitations, cell_responses, round_["partial_threshold"])
                # The threshold goes with the numbers, so every table can say which rule it used.
                rows.append({"round": round_["name"], "round_id": round_["id"],
                             "group": key.get("group"), "unit": key.get("unit"), **counts,
                             "threshold": round_["partial_threshold"]})
    return rows


def daily_rate(responses: list[dict], invited: int, start: str, end: str, threshold: float) -> list[dict]:
    """The response rate over time: one row per day from `start` to `end` (ISO dates, inclusive)
    with the responses that became countable that day (`new`), the cumulative `responded` and
    `rate` = responded / invited in percent (None when nobody is invited).

    responses: [{"status", "answered", "applicable", "submitted_at", "last_saved_at"}]; a complete
    response counts from the day it was submitted, a valid partial from the day it was last saved
    (the day it reached its final state). Responses dated before `start` count on the first day,
    after `end` on the last. Break-offs never count: "responded" is the same as in response_rates.
    """
    import datetime as dt

    first, last = dt.date.fromisoformat(start[:10]), dt.date.fromisoformat(end[:10])
    if last < first:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    new: dict = {}
    for r in responses:
        kind = classify(r["status"], r.get("answered", 0), r.get("applicable", 0), threshold)
        if kind == BREAK_OFF:
            continue
        stamp = r.get("submitted_at") if kind == COMPLETE else None
        stamp = stamp or r.get("last_saved_at") or r.get("submitted_at")
        if not stamp:
            continue
        day = min(max(dt.date.fromisoformat(str(stamp)[:10]), first), last)
        new[day] = new.get(day, 0) + 1
    rows, total, day = [], 0, first
    while day <= last:
        total += new.get(day, 0)
        rows.append({"date": day.isoformat(), "new": new.get(day, 0), "responded": total, "rate": percent(total, invited)})
        day += dt.timedelta(days=1)
    return rows
