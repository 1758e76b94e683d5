"""Response rates against counts worked out by hand (analysis.md): invited, ineligible, started,
complete, valid partial (threshold share of the applicable items, "Ved ikke" counted, hidden items
not), responded, rate, RR1, RR2, per cell and for every roll-up."""
from __future__ import annotations

import json
from collections import namedtuple

import pytest

from surveyapp import questionnaire_store, respondents, responses, rounds, tokens
from surveyapp.results import rate_rows, response_rows

# The small questionnaire (survey_yaml.SMALL_YAML): q1-q4 for everyone, q5 only after q1 = 1,
# q6 only for the group "lead". So the applicable items are:
#   staff, q1 != 1: q1-q4 = 4      staff, q1 = 1: q1-q5 = 5
#   lead,  q1 != 1: q1-q4, q6 = 5  lead,  q1 = 1: q1-q6 = 6
P = namedtuple("P", "key unit group ineligible action answers answered applicable")
PEOPLE = [
    #  key  unit group  inelig. action      answers                                  answered/applicable (by hand)
    P("a1", "A", "staff", False, "submit", {"q1": "4", "q2": "3", "q3": "3", "q4": "2"}, 4, 4),
    P("a2", "A", "staff", False, "save", {"q1": "2", "q2": "9"}, 2, 4),          # exactly 0.5, "Ved ikke" counts
    P("a3", "A", "staff", False, "save", {"q1": "1", "q2": "3"}, 2, 5),          # 0.4: q5 is shown by q1 = 1
    P("a4", "A", "staff", False, None, {}, 0, 0),                                # never opened
    P("a5", "A", "staff", True, None, {}, 0, 0),                                 # ineligible (left the job)
    P("a6", "A", "staff", False, "open", {}, 0, 4),                              # opened, saved nothing
    P("a7", "A", "lead", False, "save", {"q1": "1", "q2": "4", "q3": "4", "q5": "2"}, 4, 6),  # 0.667
    P("a8", "A", "lead", False, "save", {"q1": "3"}, 1, 5),                      # 0.2
    P("b1", "B", "staff", False, "submit", {"q1": "9", "q2": "9", "q3": "1", "q4": "9"}, 4, 4),
    P("b2", "B", "staff", False, "save", {"q1": "2", "q2": "3", "q3": "4"}, 3, 4),  # 0.75
    P("b3", "B", "staff", False, None, {}, 0, 0),
    P("b4", "B", "lead", False, "submit", {"q1": "2"}, 1, 5),                    # submitted: complete whatever it holds
]


def expected_rows(threshold: float, by: tuple[str, ...]) -> dict[tuple, dict]:
    """The rows worked out from the table above, independently of analysis/rates.py."""
    def fate(p):
        if p.action == "submit":
            return "complete"
        if p.action == "save":
            return "valid" if p.answered / p.applicable >= threshold else "break_off"
        return "none"

    cells: dict[tuple, dict] = {}
    for p in PEOPLE:
        values = {"group": p.group, "unit": p.unit}
        keys = set()
        for mask in range(2 ** len(by)):  # every subset of the breakdown dimensions
            keys.add(tuple(values[d] if mask >> i & 1 else None for i, d in enumerate(by)))
        for key in keys:
            c = cells.setdefault(key, {"invited": 0, "ineligible": 0, "started": 0, "complete": 0, "valid_partial": 0})
            c["invited"] += 1
            c["ineligible"] += p.ineligible
            c["started"] += p.action in ("submit", "save")
            c["complete"] += fate(p) == "complete"
            c["valid_partial"] += fate(p) == "valid"
    for c in cells.values():
        c["responded"] = c["complete"] + c["valid_partial"]
        c["rate"] = round(100 * c["responded"] / c["invited"], 2)
        eligible = c["invited"] - c["ineligible"]
        c["rr1"] = round(100 * c["complete"] / eligible, 2)
        c["rr2"] = round(100 * c["responded"] / eligible, 2)
    return cells


@pytest.fixture
def rated_round(db, secret, small_yaml):
    questionnaire_store.load(db, small_yaml)
    round_id = rounds.create_round(db, "R", {"": "small"}, "p", partial_threshold=0.5)
    round_ = rounds.get_round(db, round_id)
    ids = {}
    for p in PEOPLE:
        ids[p.key] = respondents.add_invitation(db, round_, {"key": p.key, "group": p.group, "unit": p.unit}, secret)
        if p.ineligible:
            db.execute("UPDATE invitations SET eligible = 0, ineligible_reason = 'fratrådt' WHERE id = ?", (ids[p.key],))
    rounds.open_round(db, round_id)
    for p in PEOPLE:
        if p.action is None:
            continue
        token = tokens.make_token(secret, ids[p.key])
        invitation = tokens.find_invitation(db, secret, token)
        response = responses.start_response(db, secret, token, invitation)
        if p.action in ("save", "submit"):
            responses.save_page(db, response, 0, dict(p.answers))
        if p.action == "submit":
            responses.submit(db, response)
    return round_id


def _by_key(rows, by):
    return {tuple(r[d] for d in by): r for r in rows}


@pytest.mark.parametrize("by", [(), ("group",), ("unit",), ("group", "unit")], ids=str)
def test_rates_per_cell_and_roll_up(db, rated_round, by):
    rows = rate_rows(db, ["R"], by)
    expected = expected_rows(0.5, by)
    got = _by_key(rows, by)
    assert set(got) == set(expected)
    for key, counts in expected.items():
        row = got[key]
        assert row["round"] == "R"
        assert {k: row[k] for k in counts} == counts, key
    # The grand total is the same whatever the breakdown, and leaves group and unit empty.
    total = got[(None,) * len(by)]
    assert total["group"] is None and total["unit"] is None


def test_hand_worked_totals(db, rated_round):
    (total,) = rate_rows(db, ["R"], ())
    # 12 invited, a5 ineligible; started a1 a2 a3 a7 a8 b1 b2 b4; complete a1 b1 b4;
    # valid partial a2 (2/4), a7 (4/6), b2 (3/4); not a3 (2/5) or a8 (1/5).
    assert {k: total[k] for k in ("invited", "ineligible", "started", "complete", "valid_partial", "responded")} == \
        {"invited": 12, "ineligible": 1, "started": 8, "complete": 3, "valid_partial": 3, "responded": 6}
    assert total["rate"] == 50.0
    assert total["threshold"] == 0.5  # the rule used goes with the numbers
    assert total["rr1"] == pytest.approx(100 * 3 / 11, abs=0.005)
    assert total["rr2"] == pytest.approx(100 * 6 / 11, abs=0.005)


def _counts_by_key(db, round_id, units=None):
    keys = dict(db.execute("SELECT i.id, p.key FROM invitations i JOIN people p ON p.id = i.person_id").fetchall())
    return {keys[db.execute("SELECT invitation_id FROM responses WHERE id = ?", (r["id"],)).fetchone()[0]]:
            (r["answered"], r["applicable"]) for r in response_rows(db, [round_id], units)}


def test_answered_and_applicable_per_response(db, rated_round):
    # Every response opened, against the table above (worked out by hand there).
    assert _counts_by_key(db, rated_round) == {p.key: (p.answered, p.applicable) for p in PEOPLE if p.action}
    assert _counts_by_key(db, rated_round, ["B"]) == {p.key: (p.answered, p.applicable) for p in PEOPLE
                                                      if p.action and p.unit == "B"}
    # Items an invitation does not ask leave both counts, even with an answer stored for them:
    # a2 (q1 = 2, q2 = 9) is not asked q2: q1, q3, q4 applicable, q1 answered = (1, 3).
    # a3 (q1 = 1, q2 = 3) is not asked q1, so q5 (shown by q1 = 1) is not asked either:
    # q2, q3, q4 applicable, q2 answered = (1, 3).
    # a7 (lead: q1 = 1, q2, q3, q5) is not asked q6: q1-q5 applicable, 4 answered = (4, 5).
    for key, items in (("a2", ["q2"]), ("a3", ["q1"]), ("a7", ["q6"])):
        invitation_id = db.execute("SELECT i.id FROM invitations i JOIN people p ON p.id = i.person_id WHERE p.key = ?",
                                   (key,)).fetchone()[0]
        responses.set_not_asked(db, invitation_id, items)
    counts = _counts_by_key(db, rated_round)
    assert (counts["a2"], counts["a3"], counts["a7"]) == ((1, 3), (1, 3), (4, 5))
    assert counts["b2"] == (3, 4)  # others unchanged


def test_threshold_is_the_rounds_own(db, rated_round):
    rounds.update_round(db, "R", partial_threshold=0.6)
    (total,) = rate_rows(db, ["R"], ())
    # At 0.6, a2 (exactly 0.5) falls out; a7 (0.667) and b2 (0.75) stay.
    assert (total["valid_partial"], total["responded"]) == (2, 5)
    assert total == {**total, **expected_rows(0.6, ())[()]}
    rounds.update_round(db, "R", partial_threshold=0.8)
    (total,) = rate_rows(db, ["R"], ())
    assert total["valid_partial"] == 0


def test_cli_response_rates_json_is_one_document(cli, db, rated_round):
    result = cli("report", "response-rates", "--round", "R", "--by", "group,unit", "--format", "json")
    rows = json.loads(result.stdout)  # fails on anything but exactly one JSON document
    assert isinstance(rows, list) and result.stderr == ""
    assert set(rows[0]) >= {"round", "group", "unit", "invited", "started", "complete", "valid_partial", "responded", "rate"}
    assert "round_id" not in rows[0]
    expected = expected_rows(0.5, ("group", "unit"))
    assert {(r["group"], r["unit"]): r["rate"] for r in rows} == {k: v["rate"] for k, v in expected.items()}
    # Omitting --round means every round; an unknown breakdown is one line on stderr.
    assert len(json.loads(cli("report", "response-rates", "--format", "json").stdout)) == 1
    bad = cli("report", "response-rates", "--by", "kommune", ok=False)
    assert bad.exit_code == 1 and len(bad.stderr.splitlines()) == 1 and "kommune" in bad.stderr
    csv_out = cli("report", "response-rates", "--round", "R", "--format", "csv").stdout.splitlines()
    assert csv_out[0].startswith("round,group,unit,invited") and len(csv_out) == 2


def test_removed_respondents_leave_numerator_and_denominator(db, rated_round):
    # a1 (complete) is taken off the list: neither invited nor complete any more.
    db.execute("UPDATE invitations SET removed_at = '2013-03-10' WHERE person_id = (SELECT id FROM people WHERE key = 'a1')")
    (total,) = rate_rows(db, ["R"], ())
    assert (total["invited"], total["complete"], total["responded"]) == (11, 2, 5)


def test_per_item_n_differs_from_valid_respondents(cli, db, secret, small_yaml, tmp_path):
    """analysis.md: 648 invited, 321 valid (rate 49,5 %), yet 327 answered the background item,
    because 6 partials below the threshold answered it too."""
    questionnaire_store.load(db, small_yaml)
    rounds.create_round(db, "Stor", {"": "small"}, "p", partial_threshold=0.5)
    lines = ["key,group,unit"] + [f"K{n:03d},staff,{'AB'[n % 2]}" for n in range(648)]
    respondents.import_respondents(db, "Stor", data="\n".join(lines).encode(), filename="list.csv", secret=secret)
    answers = ["key,status,q1,q2,q3,q4"]
    answers += [f"K{n:03d},complete,4,3,2,1" for n in range(300)]
    answers += [f"K{n:03d},partial,3,9,," for n in range(300, 321)]      # 2 of 4: valid
    answers += [f"K{n:03d},partial,2,,," for n in range(321, 327)]       # 1 of 4: not valid
    responses.import_responses(db, "Stor", data="\n".join(answers).encode(), filename="answers.csv")
    (total,) = rate_rows(db, ["Stor"], ())
    assert (total["invited"], total["responded"], total["started"]) == (648, 321, 327)
    assert total["rate"] == round(100 * 321 / 648, 2) == 49.54
    # Per-item N comes from the item report.
    items = cli("report", "items", "--round", "Stor", "--format", "json", ok=False)
    assert items.exit_code == 0, items.stderr
    rows = [r for r in json.loads(items.stdout) if r.get("item") == "q1" and r.get("group") is None]
    assert rows and rows[0]["n"] == 327
    q2 = [r for r in json.loads(items.stdout) if r.get("item") == "q2" and r.get("group") is None][0]
    # 321 answered q2, 21 of them "Ved ikke": n counts them, n_valid does not.
    assert (q2["n"], q2["n_valid"]) == (321, 300)


def test_anonymous_round_keeps_no_link_but_marks_completion(db, secret, small_yaml):
    questionnaire_store.load(db, small_yaml)
    round_id = rounds.create_round(db, "Anonym", {"": "small"}, "p", anonymous=True)
    round_ = rounds.get_round(db, round_id)
    invitation_id = respondents.add_invitation(db, round_, {"key": "x1", "group": "staff", "unit": "A"}, secret)
    other_id = respondents.add_invitation(db, round_, {"key": "x2", "group": "staff", "unit": "A"}, secret)
    rounds.open_round(db, round_id)
    token = tokens.make_token(secret, invitation_id)
    invitation = tokens.find_invitation(db, secret, token)
    response = responses.start_response(db, secret, token, invitation)
    responses.save_page(db, response, 0, {"q1": "4", "q2": "3"})
    # Resuming with the same link finds the same response.
    assert responses.start_response(db, secret, token, invitation)["id"] == response["id"]
    responses.submit(db, response, invitation_id=invitation["id"])
    row = dict(db.execute("SELECT * FROM responses").fetchone())
    assert row["invitation_id"] is None
    assert row["anonymous_key"] == tokens.anonymous_key(secret, token) and token not in json.dumps(row)
    assert (row["group_name"], row["unit"], row["status"]) == ("staff", "A", "complete")
    assert len(row["submitted_at"]) == 10  # a date, no time of day
    flags = {r[0]: (r[1]) for r in db.execute("SELECT id, completed FROM invitations").fetchall()}
    assert flags == {invitation_id: 1, other_id: 0}
    (total,) = rate_rows(db, ["Anonym"], ())
    assert (total["invited"], total["complete"], total["rate"]) == (2, 1, 50.0)


def test_a_respondent_moved_to_another_unit_is_counted_there(db, rated_round):
    # a1 (complete, unit A) moves to unit B after answering: numerator and denominator follow.
    db.execute("UPDATE invitations SET unit = 'B' WHERE person_id = (SELECT id FROM people WHERE key = 'a1')")
    got = _by_key(rate_rows(db, ["R"], ("unit",)), ("unit",))
    assert (got[("A",)]["invited"], got[("A",)]["complete"]) == (7, 0)
    assert (got[("B",)]["invited"], got[("B",)]["complete"]) == (5, 3)
    only_b = rate_rows(db, ["R"], ("unit",), units=["B"])
    assert {r["unit"] for r in only_b} == {"B", None} and only_b[0]["complete"] == 3


def test_anonymous_response_ids_do_not_keep_the_order_of_starting(db, secret, small_yaml):
    questionnaire_store.load(db, small_yaml)
    round_id = rounds.create_round(db, "Anonym", {"": "small"}, "p", anonymous=True)
    round_ = rounds.get_round(db, round_id)
    rounds.open_round(db, round_id)
    started = []
    for n in range(20):
        invitation_id = respondents.add_invitation(db, round_, {"key": f"x{n}", "group": "staff", "unit": "A"}, secret)
        token = tokens.make_token(secret, invitation_id)
        started.append(responses.start_response(db, secret, token, tokens.find_invitation(db, secret, token))["id"])
    assert len(set(started)) == 20 and all(0 < i < 2**52 for i in started)
    assert started != sorted(started)  # 1 in 20! that random ids come out in order
