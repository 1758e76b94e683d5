"""Schedule arithmetic and routing against hand-worked dates and ages, and the schedule
loader's FILE:LINE errors."""
from __future__ import annotations

import datetime as dt
import textwrap

import pytest

from surveyapp import schedule as sch
from surveyapp.questionnaire import load_file
from surveyapp.errors import SurveyError
from surveyapp.schedule import add_months, age_on, slot_state

ROOT = sch.SCHEDULE_DIR.parent
D = dt.date.fromisoformat


@pytest.fixture(scope="module")
def questionnaires():
    return {q.id: q for q in (load_file(ROOT / f"{name}.yaml") for name in ("who5", "trivsel-unge", "foraeldrestress"))}


@pytest.fixture(scope="module")
def shipped(questionnaires):
    return sch.load_file(sch.SCHEDULE_DIR / "familie-progression.yaml", questionnaires)


# ---------------------------------------------------------------- ages

@pytest.mark.parametrize("birth, on, age", [
    ("2006-05-10", "2024-05-09", 17),   # the day before the 18th birthday
    ("2006-05-10", "2024-05-10", 18),   # the birthday itself counts
    ("2006-05-10", "2024-05-11", 18),
    ("2008-02-29", "2024-02-28", 15),   # leap-day child, leap year: not yet 16 on the 28th
    ("2008-02-29", "2024-02-29", 16),   # ... 16 on the 29th
    ("2008-02-29", "2026-02-28", 17),   # non-leap year: still 17 on 28 February
    ("2008-02-29", "2026-03-01", 18),   # ... and 18 on 1 March
    ("2010-12-31", "2024-12-30", 13),
    ("2010-12-31", "2024-12-31", 14),
])
def test_age_on_hand_worked(birth, on, age):
    assert age_on(birth, on) == age


def test_age_before_birth_is_an_error():
    # a SurveyError: the CLI and the pages show its reason instead of a traceback
    with pytest.raises(SurveyError, match="2010-01-01 is before the birth date 2010-01-02"):
        age_on("2010-01-02", "2010-01-01")


# ---------------------------------------------------------------- target dates and windows

@pytest.mark.parametrize("start, months, expected", [
    ("2024-01-15", 6, "2024-07-15"),
    ("2023-08-31", 6, "2024-02-29"),   # no 31 February: the last day, in a leap year the 29th
    ("2022-08-31", 6, "2023-02-28"),
    ("2024-02-29", 12, "2025-02-28"),
    ("2024-07-31", 18, "2026-01-31"),
    ("2024-10-31", 6, "2025-04-30"),
    ("2024-03-10", 0, "2024-03-10"),
])
def test_add_months(start, months, expected):
    assert add_months(start, months) == D(expected)


def test_shipped_schedule_dates(shipped):
    # Intake 15 January 2024, window -14/+30 days around each target, both ends inclusive.
    assert shipped.due("baseline", D("2024-01-15")) == (D("2024-01-15"), D("2024-01-01"), D("2024-02-14"))
    assert shipped.due("M1", D("2024-01-15")) == (D("2024-07-15"), D("2024-07-01"), D("2024-08-14"))
    assert shipped.due("M2", D("2024-01-15")) == (D("2025-01-15"), D("2025-01-01"), D("2025-02-14"))
    assert shipped.due("M3", D("2024-01-15")) == (D("2025-07-15"), D("2025-07-01"), D("2025-08-14"))
    # Intake 31 August 2023: M1 on the last day of February 2024 (a leap year).
    assert shipped.due("M1", D("2023-08-31"))[0] == D("2024-02-29")
    assert shipped.due("M1", D("2023-08-31"))[1] == D("2024-02-15")


@pytest.mark.parametrize("today, closed, state", [
    ("2024-06-30", None, "upcoming"),      # the day before the window opens
    ("2024-07-01", None, "due"),           # first day of the window
    ("2024-08-14", None, "due"),           # last day of the window
    ("2024-08-15", None, "overdue"),       # the day after
    ("2024-08-15", "2024-06-30", "not_due"),  # closed before the window opened
    ("2024-08-15", "2024-07-01", "overdue"),  # closed on the first day: it was due
])
def test_window_edges(today, closed, state):
    start, end = D("2024-07-01"), D("2024-08-14")
    assert slot_state(start, end, D(today), False, D(closed) if closed else None) == state
    assert slot_state(start, end, D(today), True, None) == "done"


# ---------------------------------------------------------------- routing

@pytest.mark.parametrize("role, birth, on, expected", [
    ("barn", "2006-05-10", "2024-05-09", ["trivsel-unge"]),      # 17
    ("barn", "2006-05-10", "2024-05-10", ["who5"]),              # 18 on the measurement date
    ("barn", "2008-02-29", "2026-02-28", ["trivsel-unge"]),      # leap-day child still 17
    ("barn", "2008-02-29", "2026-03-01", ["who5"]),
    ("forael", "1985-01-01", "2024-05-10", ["who5", "foraeldrestress"]),
])
def test_routing_by_role_and_age_on_the_measurement_date(shipped, role, birth, on, expected):
    assert shipped.instruments_for("M1", role, age_on(birth, on)) == expected


@pytest.mark.parametrize("birth, on, hidden", [
    ("2010-06-15", "2024-06-14", {"fritidsjob"}),  # 13: not over 13
    ("2010-06-15", "2024-06-15", set()),           # 14 on the day: over 13
    ("2014-01-01", "2024-06-15", {"fritidsjob"}),  # 10
])
def test_item_rule_over_13(shipped, birth, on, hidden):
    assert shipped.hidden_items("trivsel-unge", "barn", age_on(birth, on)) == hidden
    assert shipped.hidden_items("who5", "barn", age_on(birth, on)) == set()


def test_age_rule_words():
    rule = sch.AgeRule.model_validate({"from": 14, "under": 18})
    assert [a for a in range(10, 21) if rule.holds(a)] == [14, 15, 16, 17]
    assert [a for a in range(10, 16) if sch.AgeRule.model_validate({"over": 13}).holds(a)] == [14, 15]


# ---------------------------------------------------------------- loader errors

GOOD = textwrap.dedent("""\
    id: s
    title: T
    roles:
      - {id: barn, label: Barn}
    measurements:
      - {id: baseline, label: B, months: 0}
      - {id: M1, label: M1, months: 6}
    instruments:
      - questionnaire: who5
        roles: [barn]
    """)


def test_good_schedule_parses(questionnaires):
    s = sch.parse(GOOD, "s.yaml", questionnaires)
    assert s.slot_ids() == ["baseline", "M1"]
    assert s.window.before == 14 and s.window.after == 30


def problems(text, questionnaires=None):
    with pytest.raises(sch.ScheduleError) as info:
        sch.parse(text, "s.yaml", questionnaires)
    return [str(p) for p in info.value.problems]


def test_unknown_role_reported_at_its_line():
    text = GOOD.replace("roles: [barn]", "roles: [barn, bedstefar]")
    assert problems(text) == ["s.yaml:10: unknown role 'bedstefar' (roles: barn)"]


def test_months_must_increase():
    text = GOOD.replace("{id: M1, label: M1, months: 6}", "{id: M1, label: M1, months: 0}")
    assert problems(text) == ["s.yaml:7: measurement 'M1': months must increase (0 after 0)"]


def test_typo_and_bad_age_rule_reported_with_lines():
    text = GOOD.replace("    roles: [barn]\n", "    roles: [barn]\n    age: {from: 18, under: 18}\nwindw: {before: 3}\n")
    found = problems(text)
    assert any(p.startswith("s.yaml:11:") and "no age is at least 18 and under 18" in p for p in found), found
    assert any(p.startswith("s.yaml:12:") and "windw" in p for p in found), found


def test_item_rules_checked_against_the_questionnaires(questionnaires):
    text = GOOD + textwrap.dedent("""\
        item_rules:
          - {questionnaire: who5, item: who5_9, age: {over: 13}}
          - {questionnaire: who5, item: who5_1, age: {over: 13}}
          - {questionnaire: trivsel-unge, item: fritidsjob, age: {over: 13}}
        """)
    assert problems(text, questionnaires) == [
        "s.yaml:12: questionnaire 'who5' has no item 'who5_9'",
        "s.yaml:13: item 'who5_1' enters score who5 and cannot be hidden by a rule",
        "s.yaml:14: questionnaire 'trivsel-unge' is not routed under instruments",
    ]


def test_unknown_questionnaire(questionnaires):
    assert problems(GOOD.replace("questionnaire: who5", "questionnaire: who6"), questionnaires) == [
        "s.yaml:9: unknown questionnaire 'who6'"]


def test_invalid_yaml_line():
    found = problems("id: s\ntitle: [unclosed\n")
    assert len(found) == 1 and found[0].startswith("s.yaml:") and "invalid YAML" in found[0]


def test_cli_schedule_check(tmp_path):
    from click.testing import CliRunner

    from surveyapp.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("roles: [barn]", "roles: [bedstefar]"), encoding="utf-8")
    runner = CliRunner()
    ok = runner.invoke(main, ["cases", "schedule-check", str(sch.SCHEDULE_DIR / "familie-progression.yaml")])
    assert ok.exit_code == 0, ok.output
    assert ok.stdout == "1 schedule(s) ok\n"
    worse = tmp_path / "worse.yaml"
    worse.write_text(GOOD.replace("roles: [barn]", "roles: [oldefar]"), encoding="utf-8")
    # Every file is checked: the problems of both, one line each on stderr, and no "ok".
    result = runner.invoke(main, ["cases", "schedule-check", str(bad), str(worse)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"{bad}:10: unknown role 'bedstefar' (roles: barn)",
                                         f"{worse}:10: unknown role 'oldefar' (roles: barn)"]


def test_an_unreadable_schedule_file_is_a_file_line_error(db, tmp_path):
    from surveyapp import cases

    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("id: x\ntitle: Måling\n".encode("latin-1"))  # "å" is byte 0xe5 on line 2
    missing = tmp_path / "missing.yaml"
    for load in (sch.load_file, lambda path: cases.load_schedule(db, path)):
        expected = {missing: f"{missing}:1: cannot read file:",
                    bad: f"{bad}:2: not UTF-8 text (byte 0xe5); save the file as UTF-8"}
        for path, start in expected.items():
            with pytest.raises(sch.ScheduleError) as info:
                load(path)
            (problem,) = info.value.problems
            assert str(problem).startswith(start)


def test_a_control_character_in_a_schedule_is_a_file_line_error():
    with pytest.raises(sch.ScheduleError) as info:
        sch.parse("id: x\ntitle: a\x1fb\n", "ctl.yaml")
    assert [str(p) for p in info.value.problems] == ["ctl.yaml:2: invalid YAML: special characters are not allowed (character 31)"]
