"""The live dashboard against counts worked out in the test from a known scenario."""
from __future__ import annotations

import csv
import io
import re
from collections import Counter

import pytest

from surveyapp import respondents, responses, tokens

from console_helpers import SECRET, build_round, invitation_id, round_id_of

# unit, group, what the person did; the questionnaire has 4 items, the round's threshold is 0.5.
SCENARIO = (
    [("Horsens", "ledere", o) for o in ("complete", "complete", "half", "none")]
    + [("Horsens", "medarbejdere", o) for o in ("complete", "quarter", "none", "none", "none")]
    + [("Kolding", "ledere", o) for o in ("complete", "complete")]
    + [("Kolding", "medarbejdere", o) for o in ("none", "none", "none", "ineligible")]
)
# Days (in March 2015) the responses were submitted or last saved.
DAYS = {"complete": ["2015-03-02", "2015-03-04", "2015-03-04", "2015-03-09", "2015-03-10"], "half": ["2015-03-05"],
        "quarter": ["2015-03-03"]}


def expected_counts(rows) -> dict:
    """Counted here by the rules in analysis.md, not by the code under test."""
    invited = len(rows)
    ineligible = sum(o == "ineligible" for *_, o in rows)
    complete = sum(o == "complete" for *_, o in rows)
    valid_partial = sum(o == "half" for *_, o in rows)            # 2 of 4 answered >= 0.5
    started = sum(o in ("complete", "half", "quarter") for *_, o in rows)  # saved at least one answer
    responded = complete + valid_partial
    return {"invited": invited, "ineligible": ineligible, "started": started, "complete": complete,
            "valid_partial": valid_partial, "responded": responded, "rate": round(100 * responded / invited, 2)}


def expected_table(rows) -> dict:
    table = {}
    for unit in {u for u, _, _ in rows} | {None}:
        for group in {g for _, g, _ in rows} | {None}:
            subset = [r for r in rows if (unit is None or r[0] == unit) and (group is None or r[1] == group)]
            if subset:
                table[(unit, group)] = expected_counts(subset)
    return table


@pytest.fixture
def dashboard_round(cdb):
    people, outcome_of = [], {}
    for n, (unit, group, outcome) in enumerate(SCENARIO):
        key = f"d-{n:02d}"
        people.append((key, f"{key}@example.dk", f"Person {n}", group, unit))
        outcome_of[key] = outcome
    round_id = build_round(cdb, SECRET, name="Dashboard", people=people)
    days = {k: list(v) for k, v in DAYS.items()}
    for key, outcome in outcome_of.items():
        inv = invitation_id(cdb, round_id, key)
        if outcome == "ineligible":
            respondents.mark_ineligible(cdb, inv, "fratrådt", actor="test")
            continue
        if outcome == "none":
            continue
        token = tokens.make_token(SECRET, inv)
        response = responses.start_response(cdb, SECRET, token, tokens.find_invitation(cdb, SECRET, token))
        if outcome == "quarter":
            responses.save_page(cdb, response, 0, {"q1": "3"})
        elif outcome == "half":
            responses.save_page(cdb, response, 0, {"q1": "3", "q2": "9"})  # "Ved ikke" counts as an answer
        else:
            responses.save_page(cdb, response, 0, {"q1": "4", "q2": "2"})
            responses.save_page(cdb, response, 1, {"q3": "1", "q4": "3"})
            responses.submit(cdb, response)
        stamp = f"{days[outcome].pop(0)}T10:00:00+00:00"
        cdb.execute("UPDATE responses SET last_saved_at = ?, submitted_at = CASE WHEN status = 'complete' THEN ? END "
                    "WHERE id = ?", (stamp, stamp, response["id"]))
    return round_id


def csv_rows(client, round_id: int) -> dict:
    text = client.get(f"/console/rounds/{round_id}/rates.csv").get_data(as_text=True)
    rows = {}
    for row in csv.DictReader(io.StringIO(text)):
        key = (row["unit"] or None, row["group"] or None)
        rows[key] = {k: (float(row[k]) if k == "rate" else int(row[k])) for k in
                     ("invited", "ineligible", "started", "complete", "valid_partial", "responded", "rate")}
    return rows


def test_numbers_rollups_and_csv_match_the_counts(cdb, as_user, dashboard_round):
    expected = expected_table(SCENARIO)
    assert expected[(None, None)] == {"invited": 15, "ineligible": 1, "started": 7, "complete": 5, "valid_partial": 1,
                                      "responded": 6, "rate": 40.0}  # the scenario worked by hand
    for role in ("boss", "reader"):
        assert csv_rows(as_user(role), dashboard_round) == expected


def test_dashboard_page_shows_totals_and_highlights_lagging_cells(cdb, as_user, dashboard_round):
    html = as_user("boss").get(f"/console/rounds/{dashboard_round}").get_data(as_text=True)
    total = expected_counts(SCENARIO)
    for kpi, value in (("invited", total["invited"]), ("started", total["started"]), ("complete", total["complete"]),
                       ("partial", total["valid_partial"])):
        assert f'id="kpi-{kpi}">{value}<' in html
    assert 'id="kpi-rate">40,0 %<' in html
    assert "mere end 10 procentpoint under rundens samlede svarprocent (40,0 %)" in html
    # Lagging: more than 10 points below 40 %. Worked out here from the expected table.
    table = expected_table(SCENARIO)
    lagging_cells = {(u, g) for (u, g), c in table.items() if u and g and c["rate"] < total["rate"] - 10}
    assert lagging_cells == {("Horsens", "medarbejdere"), ("Kolding", "medarbejdere")}
    rates_table = html.split('id="rates"')[1].split("</table>")[0]
    flagged = re.findall(r'<tr class="lagging" data-lagging="1">\s*<th scope="row">([^<]*)</th><td>([^<]*)</td>', rates_table)
    expected_flags = {(u or "alle enheder", g or "alle grupper") for (u, g), c in table.items()
                      if (u or g) and c["rate"] < total["rate"] - 10}
    assert set(flagged) == expected_flags
    # One bar per group x unit cell, the lagging ones drawn apart.
    assert html.count('<rect class="bar') == 4 and html.count('<rect class="bar lagging"') == 2


def test_rate_over_time_counts_each_response_on_its_day(cdb, as_user, dashboard_round):
    html = as_user("boss").get(f"/console/rounds/{dashboard_round}").get_data(as_text=True)
    daily = html.split('id="daily"')[1].split("</table>")[0]
    rows = re.findall(r"<tr><td>(\d{4}-\d\d-\d\d)</td><td class=\"num\">(\d+)</td><td class=\"num\">(\d+)</td>", daily)
    assert rows[0][0] == "2015-03-02" and rows[-1][0] == "2015-03-27"  # opening to closing day
    per_day = Counter(DAYS["complete"] + DAYS["half"])   # break-offs ("quarter") never count
    running = 0
    for day, new, cumulative in rows:
        running += per_day.get(day, 0)
        assert (int(new), int(cumulative)) == (per_day.get(day, 0), running), day
    assert running == expected_counts(SCENARIO)["responded"]


def test_unit_lead_sees_only_own_units(cdb, as_user, dashboard_round):
    horsens = [r for r in SCENARIO if r[0] == "Horsens"]
    rows = csv_rows(as_user("lead"), dashboard_round)
    assert rows == expected_table(horsens)
    assert rows[(None, None)]["invited"] == 9
    html = as_user("lead").get(f"/console/rounds/{dashboard_round}").get_data(as_text=True)
    assert "Kolding" not in html and 'id="kpi-invited">9<' in html
    horsens_rate = expected_counts(horsens)["rate"]  # 4 of 9
    assert f"under den samlede svarprocent for dine enheder ({horsens_rate:.1f} %)".replace(".", ",") in html
    index = as_user("lead").get("/console/").get_data(as_text=True)
    assert "Kolding" not in index


def test_names_from_uploaded_lists_are_escaped(cdb, as_user):
    round_id = round_id_of(cdb)
    respondents.add_respondent(cdb, round_id, {"key": "x-1", "email": "x@example.dk", "name": "<b>Bold</b>",
                                               "group": "ledere", "unit": "<script>alert(1)</script>"}, SECRET, actor="test")
    admin = as_user("boss")
    for url in (f"/console/rounds/{round_id}", f"/console/rounds/{round_id}/respondents"):
        html = admin.get(url).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>Bold</b>" not in admin.get(f"/console/rounds/{round_id}/respondents").get_data(as_text=True)


def test_rates_csv_does_not_let_an_uploaded_unit_name_start_a_formula(cdb, as_user):
    round_id = round_id_of(cdb)
    respondents.add_respondent(cdb, round_id, {"key": "x-2", "email": "y@example.dk", "group": "ledere",
                                               "unit": '=HYPERLINK("http://evil.example","Vejle")'}, SECRET, actor="test")
    text = as_user("boss").get(f"/console/rounds/{round_id}/rates.csv").get_data(as_text=True)
    units = {row["unit"] for row in csv.DictReader(io.StringIO(text))}
    # Opened in a spreadsheet, a leading apostrophe keeps the cell text.
    assert units == {"", "Horsens", "Kolding", '\'=HYPERLINK("http://evil.example","Vejle")'}
    assert text.splitlines()[0] == "round,group,unit,invited,ineligible,started,complete,valid_partial,responded,rate,rr1,rr2,threshold"
