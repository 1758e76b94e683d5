"""Rounds from the command line: create, open, close, list; error paths give one line on stderr
and exit 1."""
from __future__ import annotations

import json

import pytest

from surveyapp import questionnaire_store, respondents, responses, rounds, tokens
from surveyapp.errors import Conflict

from core_helpers import ROOT


@pytest.fixture
def loaded(cli, small_yaml, minimal_yaml):
    cli("questionnaire", "load", small_yaml, minimal_yaml)


def one_line_error(result, fragment: str):
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ") and fragment in lines[0], lines[0]


def test_round_lifecycle(cli, loaded):
    created = cli("round", "create", "--name", "Måling 1", "--questionnaire", "demo-fidelity", "--project", "familie",
                  "--opens", "2019-03-01", "--closes", "2019-03-31", "--partial-threshold", "0.8")
    round_id = int(created.stdout.strip())
    second = int(cli("round", "create", "--name", "Marts 2015", "--questionnaire", "lead=small",
                     "--questionnaire", "staff=small", "--project", "forebyggelse").stdout.strip())
    assert second != round_id
    listed = {r["name"]: r for r in cli.json("round", "list", "--format", "json")}
    assert listed["Måling 1"]["status"] == "draft"
    assert (listed["Måling 1"]["opens"], listed["Måling 1"]["closes"], listed["Måling 1"]["partial_threshold"]) == \
        ("2019-03-01", "2019-03-31", 0.8)
    frozen = listed["Måling 1"]["questionnaires"]
    assert list(frozen) == [""] and (frozen[""]["questionnaire"], frozen[""]["version"]) == ("demo-fidelity", 1)
    assert set(listed["Marts 2015"]["questionnaires"]) == {"lead", "staff"}
    assert listed["Marts 2015"]["project_id"] == "forebyggelse"

    # By name or by id.
    assert "is open" in cli("round", "open", "Måling 1").stdout
    assert cli.json("round", "list", "--format", "json", "--project", "familie")[0]["status"] == "open"
    assert "is closed" in cli("round", "close", str(round_id)).stdout
    assert cli.json("round", "list", "--format", "json", "--project", "familie")[0]["status"] == "closed"
    # A closed round can be reopened (a late respondent); a draft cannot be closed.
    cli("round", "open", round_id)
    one_line_error(cli("round", "close", "Marts 2015", ok=False), "is draft and cannot become closed")
    table = cli("round", "list").stdout.splitlines()
    assert table[0].split()[:4] == ["id", "project_id", "name", "status"] and len(table) == 3


def test_round_create_freezes_the_questionnaire_version(cli, db, loaded, small_yaml, tmp_path):
    cli("round", "create", "--name", "R1", "--questionnaire", "small")
    changed = tmp_path / "small2.yaml"
    changed.write_text(small_yaml.read_text(encoding="utf-8").replace("title: Lille skema", "title: Lille skema 2"), encoding="utf-8")
    assert json.loads(cli("questionnaire", "load", changed, "--format", "json").stdout)[0]["version"] == 2
    cli("round", "create", "--name", "R2", "--questionnaire", "small")
    cli("round", "create", "--name", "R0", "--questionnaire", "small@1")
    versions = {r["name"]: r["questionnaires"][""]["version"] for r in cli.json("round", "list", "--format", "json")}
    assert versions == {"R1": 1, "R2": 2, "R0": 1}


@pytest.mark.parametrize("args, fragment", [
    (["round", "open", "Findes ikke"], "round 'Findes ikke' not found"),
    (["round", "close", "999"], "round '999' not found"),
    (["respondents", "import", "Findes ikke", "{list}"], "round 'Findes ikke' not found"),
    (["invitations", "links", "Findes ikke"], "round 'Findes ikke' not found"),
    (["report", "response-rates", "--round", "Findes ikke"], "round 'Findes ikke' not found"),
    (["round", "create", "--name", "R1", "--questionnaire", "small"], "already has a round named 'R1'"),
    (["round", "create", "--name", "R9", "--questionnaire", "nope"], "questionnaire 'nope' is not loaded"),
    (["round", "create", "--name", "R9", "--questionnaire", "small@7"], "questionnaire 'small' version 7 is not loaded"),
    (["round", "create", "--name", "R9", "--questionnaire", "small@x"], "the version after @ must be a number"),
    (["round", "create", "--name", "R9", "--questionnaire", "lead=small", "--questionnaire", "lead=small"], "names group 'lead' twice"),
    (["round", "create", "--name", "R9", "--questionnaire", "small", "--opens", "1. marts"], "is not a date"),
    (["round", "create", "--name", "R9", "--questionnaire", "small", "--opens", "2019-03-31", "--closes", "2019-03-01"], "closes before it opens"),
    (["round", "create", "--name", "R9", "--questionnaire", "small", "--partial-threshold", "1.5"], "partial threshold"),
    (["round", "create", "--name", " ", "--questionnaire", "small"], "a round needs a name"),
])
def test_error_paths_are_one_line_and_exit_1(cli, loaded, tmp_path, args, fragment):
    cli("round", "create", "--name", "R1", "--questionnaire", "small", "--project", "p")
    listing = tmp_path / "list.csv"
    listing.write_text("key,group\nP1,staff\n", encoding="utf-8")
    args = [str(listing) if a == "{list}" else a for a in args]
    before = cli.json("round", "list", "--format", "json")
    one_line_error(cli(*args, ok=False), fragment)
    assert cli.json("round", "list", "--format", "json") == before


def test_same_round_name_in_two_projects_needs_the_id(cli, loaded):
    a = cli("round", "create", "--name", "Måling 1", "--questionnaire", "small", "--project", "a").stdout.strip()
    cli("round", "create", "--name", "Måling 1", "--questionnaire", "small", "--project", "b")
    one_line_error(cli("round", "open", "Måling 1", ok=False), "several projects have a round named 'Måling 1'")
    assert {r["project_id"]: r["status"] for r in cli.json("round", "list", "--format", "json")} == {"a": "draft", "b": "draft"}
    cli("round", "open", a)
    assert {r["project_id"]: r["status"] for r in cli.json("round", "list", "--format", "json")} == {"a": "open", "b": "draft"}


def test_answers_are_accepted_only_while_open(db, secret, small_yaml):
    questionnaire_store.load(db, small_yaml)
    round_id = rounds.create_round(db, "R", {"": "small"}, "p")
    invitation_id = respondents.add_invitation(db, rounds.get_round(db, round_id), {"key": "k", "group": "staff"}, secret)
    token = tokens.make_token(secret, invitation_id)
    invitation = tokens.find_invitation(db, secret, token)
    response = responses.start_response(db, secret, token, invitation)
    with pytest.raises(Conflict):
        responses.save_page(db, response, 0, {"q1": "4"})  # draft
    rounds.open_round(db, round_id)
    responses.save_page(db, response, 0, {"q1": "4"})
    rounds.close_round(db, round_id)
    with pytest.raises(Conflict):
        responses.save_page(db, response, 0, {"q1": "3"})
    assert db.execute("SELECT value_num FROM answers").fetchall()[0][0] == 4.0


@pytest.mark.parametrize("allow_edit", [False, True])
def test_a_submitted_response_changes_only_where_the_round_allows_it(db, secret, small_yaml, allow_edit):
    questionnaire_store.load(db, small_yaml)
    round_id = rounds.create_round(db, "R", {"": "small"}, "p", allow_edit_after_submit=allow_edit)
    invitation_id = respondents.add_invitation(db, rounds.get_round(db, round_id), {"key": "k", "group": "staff"}, secret)
    rounds.open_round(db, round_id)
    token = tokens.make_token(secret, invitation_id)
    response = responses.start_response(db, secret, token, tokens.find_invitation(db, secret, token))
    responses.save_page(db, response, 0, {"q1": "4", "q2": "3"})
    responses.submit(db, response)
    # The service itself refuses (not only the answer page, which hides the form).
    if allow_edit:
        responses.save_page(db, response, 0, {"q1": "2", "q2": "3"})
    else:
        with pytest.raises(Conflict, match="submitted"):
            responses.save_page(db, response, 0, {"q1": "2", "q2": "3"})
    stored = db.execute("SELECT value_num FROM answers WHERE item_id = 'q1'").fetchone()[0]
    assert stored == (2.0 if allow_edit else 4.0)


def test_closed_round_takes_no_new_respondents(cli, loaded, tmp_path):
    cli("round", "create", "--name", "R1", "--questionnaire", "small")
    cli("round", "open", "R1")
    cli("round", "close", "R1")
    listing = tmp_path / "list.csv"
    listing.write_text("key,group\nP1,staff\n", encoding="utf-8")
    one_line_error(cli("respondents", "import", "R1", listing, ok=False), "round 'R1' is closed")
    assert cli.json("respondents", "list", "R1", "--format", "json") == []


def test_audit_log_records_administrative_changes(cli, db, loaded):
    cli("round", "create", "--name", "R1", "--questionnaire", "small")
    cli("round", "open", "R1")
    cli("round", "close", "R1")
    actions = [r[0] for r in db.execute("SELECT action FROM audit_log ORDER BY id").fetchall()]
    assert actions == ["questionnaire.loaded", "questionnaire.loaded", "round.created", "round.opened", "round.closed"]


def test_renaming_a_round_to_a_taken_name_is_a_conflict(db, small_yaml):
    questionnaire_store.load(db, small_yaml)
    rounds.create_round(db, "R1", {"": "small"}, "p")
    rounds.create_round(db, "R2", {"": "small"}, "p")
    with pytest.raises(Conflict):
        rounds.update_round(db, "R2", name="R1")
    assert rounds.update_round(db, "R2", name=" R3 ")["name"] == "R3"


@pytest.mark.parametrize("args, fragment", [
    (["round", "open"], "Missing argument 'ROUND'"),
    (["round", "frob"], "No such command 'frob'"),
    (["round", "create", "--name", "x", "--questionnaire", "small", "--partial-threshold", "halvdelen"], "'halvdelen' is not a valid float"),
])
def test_usage_errors_are_one_line_too(cli, args, fragment):
    result = cli(*args, ok=False)
    assert result.exit_code == 2 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and fragment in result.stderr


def test_demo_builds_a_believable_project(cli):
    result = cli("demo")
    assert "Marts 2013" in result.stdout
    listed = {r["name"]: r for r in cli.json("round", "list", "--format", "json", "--project", "forebyggelse")}
    assert [listed[n]["status"] for n in ("Marts 2013", "September 2013", "September 2014")] == ["closed", "closed", "open"]
    # Each round froze a later item set (instruments.md: items added and reworded between rounds).
    versions = [listed[n]["questionnaires"]["medarbejdere"]["version"] for n in ("Marts 2013", "September 2013", "September 2014")]
    assert versions == [1, 2, 3]
    rows = cli.json("report", "response-rates", "--project", "forebyggelse", "--by", "unit", "--format", "json")
    totals = [r for r in rows if r["unit"] is None]
    units = {r["unit"] for r in rows if r["unit"] is not None}
    assert len(totals) == 3 and len(units) == 6
    for total in totals:
        assert 30 <= total["rate"] <= 90
        assert total["valid_partial"] > 0                              # some valid partials
        assert total["started"] > total["responded"]                   # and some that broke off
    # Running it again on the same database changes nothing.
    again = cli("demo")
    assert "nothing changed" in again.stdout
    assert len(cli.json("report", "response-rates", "--project", "forebyggelse", "--by", "unit", "--format", "json")) == len(rows)


def test_without_project_a_round_joins_the_only_project(cli, loaded):
    cli("round", "create", "--name", "R1", "--questionnaire", "small", "--project", "familie")
    cli("round", "create", "--name", "R2", "--questionnaire", "small")
    assert {r["name"]: r["project_id"] for r in cli.json("round", "list", "--format", "json")} == {"R1": "familie", "R2": "familie"}
    cli("round", "create", "--name", "R1", "--questionnaire", "small", "--project", "forebyggelse")
    one_line_error(cli("round", "create", "--name", "R3", "--questionnaire", "small", ok=False),
                   "there are several projects (familie, forebyggelse); say which with --project")


def test_demo_answers_do_not_depend_on_the_hash_seed():
    """`surveyapp demo` is deterministic for a given --seed: the same answers in every process,
    whatever PYTHONHASHSEED (str hashes differ per process)."""
    import os
    import subprocess
    import sys

    code = ("import random; from surveyapp import demo, questionnaire; "
            "q = questionnaire.load_file(demo.QUESTIONNAIRE_DIR / 'forebyggelse-medarbejdere.yaml'); "
            "person = {'group': 'medarbejdere'}; rng = random.Random(5); "
            "print([demo._answer(q, item, person, 0.0, rng) for item in q.question_items() for _ in range(20)])")
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}, cwd=ROOT).stdout
               for seed in ("1", "2")}
    assert len(outputs) == 1 and "'" in outputs.pop()


def test_csv_output_ends_lines_with_a_plain_newline(tmp_path, minimal_yaml):
    """`invitations links` feeds shell pipelines: a trailing \\r would end up inside the URL."""
    from click.testing import CliRunner

    from surveyapp.cli import main

    db = str(tmp_path / "csv.db")
    people = tmp_path / "people.csv"
    people.write_text("key,email\nP1,p1@example.org\nP2,p2@example.org\n", encoding="utf-8")
    runner = CliRunner()
    for args in (["questionnaire", "load", str(minimal_yaml)], ["round", "create", "--name", "R", "--questionnaire", "demo-fidelity"],
                 ["respondents", "import", "R", str(people)]):
        assert runner.invoke(main, ["--db", db, *args]).exit_code == 0
    result = runner.invoke(main, ["--db", db, "invitations", "links", "R", "--format", "csv"])
    assert result.exit_code == 0
    raw = result.stdout_bytes.decode()  # not result.output: click's Result normalises \r\n there
    lines = raw.split("\n")
    assert len([line for line in lines if line]) == 3  # header and two people
    assert "\r" not in raw
    assert all(line.split(",")[-1].startswith("http://testserver/s/") for line in lines[1:] if line)
