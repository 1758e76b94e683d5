"""The questionnaire format: shipped files load, schema.json is current, bad files are reported
as FILE:LINE: message with the right line."""
from __future__ import annotations

import json
import textwrap

import pytest
import jsonschema
import yaml

from surveyapp.questionnaire import QuestionnaireError, json_schema_text, load_file, parse

from core_helpers import ROOT

SHIPPED = sorted((ROOT / "questionnaires").glob("*.yaml")) + sorted((ROOT / "questionnaires" / "history").glob("*.yaml"))
SCHEMA = ROOT / "questionnaires" / "schema.json"


def test_the_shipped_instruments_are_there():
    names = {p.name for p in SHIPPED}
    # instruments.md: staff and manager survey (with history), the fidelity survey.
    assert {"forebyggelse-medarbejdere.yaml", "forebyggelse-ledere.yaml", "fidelitet-familie.yaml",
            "forebyggelse-medarbejdere-r1.yaml", "forebyggelse-ledere-r2.yaml"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.relative_to(ROOT / "questionnaires").as_posix())
def test_each_shipped_questionnaire_loads_through_the_cli(cli, path):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    result = cli("questionnaire", "load", path, "--format", "json")
    loaded = json.loads(result.stdout)
    assert loaded == [{"questionnaire": data["id"], "version": 1, "new": True}]
    listed = cli.json("questionnaire", "list", "--format", "json")
    assert [(r["questionnaire_id"], r["version"]) for r in listed] == [(data["id"], 1)]
    # Loading the unchanged file again is the same version, not a new one.
    again = json.loads(cli("questionnaire", "load", path, "--format", "json").stdout)
    assert again == [{"questionnaire": data["id"], "version": 1, "new": False}]


def test_the_minimal_example_of_interface_md_loads_as_written(cli, minimal_yaml):
    # The fixture must be the example verbatim: compare with the block in interface.md.
    doc = (ROOT.parent / "shared" / "domain" / "interface.md")
    if doc.exists():
        block = doc.read_text(encoding="utf-8").split("```yaml\n", 1)[1].split("```", 1)[0]
        assert block == minimal_yaml.read_text(encoding="utf-8")
    assert cli("questionnaire", "check", minimal_yaml).exit_code == 0
    loaded = json.loads(cli("questionnaire", "load", minimal_yaml, "--format", "json").stdout)
    assert loaded == [{"questionnaire": "demo-fidelity", "version": 1, "new": True}]
    q = load_file(minimal_yaml)
    assert q.personal is False
    assert [i.id for i in q.items()] == ["ops_1", "ops_2"]
    assert q.substantive_codes(q.item("ops_1")) == [1, 2, 3, 4, 5]
    assert q.missing_codes(q.item("ops_1")) == [9]
    assert q.indices[0].items == ["ops_1", "ops_2"]


def test_forebyggelse_history_loads_as_three_versions_in_order(cli):
    folder = ROOT / "questionnaires"
    files = [folder / "history" / "forebyggelse-medarbejdere-r1.yaml", folder / "history" / "forebyggelse-medarbejdere-r2.yaml",
             folder / "forebyggelse-medarbejdere.yaml"]
    versions = [json.loads(cli("questionnaire", "load", f, "--format", "json").stdout)[0]["version"] for f in files]
    assert versions == [1, 2, 3]
    # instruments.md: tidlig_indsats was reworded after round 1, so its item version rises.
    texts = [load_file(f) for f in files]
    first, last = texts[0].item("tidlig_indsats"), texts[2].item("tidlig_indsats")
    assert first.text != last.text and last.version > first.version


def test_schema_json_is_generated_from_the_model_and_not_stale():
    assert SCHEMA.read_text(encoding="utf-8") == json_schema_text(), \
        "questionnaires/schema.json is stale: run `surveyapp questionnaire schema --out questionnaires/schema.json`"


def test_schema_command_prints_and_writes_the_same_schema(cli, tmp_path):
    printed = cli("questionnaire", "schema").stdout
    assert json.loads(printed)["properties"]["sections"]["type"] == "array"
    out = tmp_path / "schema.json"
    cli("questionnaire", "schema", "--out", out)
    assert out.read_text(encoding="utf-8") == printed == json_schema_text()


def test_schema_uses_the_yaml_spellings():
    schema = json.loads(json_schema_text())
    item = schema["$defs"]["Item"]["properties"]
    assert "construct" in item and "construct_id" not in item
    assert "in" in schema["$defs"]["ShowIf"]["properties"]
    assert schema["$defs"]["Item"]["additionalProperties"] is False


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_yaml_validates_against_schema_json(path):
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(yaml.safe_load(path.read_text(encoding="utf-8"))))
    assert errors == []
    # Editors find the schema through the yaml-language-server comment on the first line.
    first = path.read_text(encoding="utf-8").splitlines()[0]
    target = "../schema.json" if path.parent.name == "history" else "schema.json"
    assert first == f"# yaml-language-server: $schema={target}"


def test_schema_json_rejects_a_typo_too():
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    data = yaml.safe_load(BASE.replace("scale: grad5}", "scale: grad5, show-if: {item: a1, equals: 1}}"))
    messages = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(data)]
    assert any("show-if" in m for m in messages)


# ---------------------------------------------------------------- bad files

BASE = textwrap.dedent("""\
    id: bad
    title: Bad
    scales:
      grad5:
        options:
          - {code: 1, label: Slet ikke}
          - {code: 5, label: I meget høj grad}
        missing:
          - {code: 9, label: Ved ikke}
    sections:
      - id: s1
        title: S1
        items:
          - {id: a1, text: A1, scale: grad5}
          - {id: a2, text: A2, scale: grad5}
    """)

def add(snippet: str) -> str:
    """BASE with more lines (written indented by four more spaces than they end up)."""
    return BASE + "".join(line[4:] if line.startswith("    ") else line for line in snippet.splitlines(keepends=True))


# Each case marks the line the message must point at with "#<" (so the expected line is read
# from the file itself, not from the loader), and gives a fragment of the expected message.
BAD = {
    "yaml syntax error": ("""\
        id: bad
        title: Fidelitet: måling   #<
        sections: []
        """, "invalid YAML"),
    "unknown scale": (add("""\
          - {id: a3, text: A3, scale: grad7}   #<
        """), "unknown scale 'grad7'"),
    "duplicate item id": (add("""\
          - {id: a1, text: A1 igen, scale: grad5}   #<
        """), "duplicate item id 'a1'"),
    "show_if on a later item": (BASE.replace("{id: a1, text: A1, scale: grad5}",
                                             "{id: a1, text: A1, scale: grad5, show_if: {item: a2, equals: 1}}   #<"),
                                "show_if on 'a2', which is not an earlier item"),
    "show_if on an unknown item": (add("""\
          - {id: a3, text: A3, scale: grad5, show_if: {item: nix, equals: 1}}   #<
        """), "show_if on unknown item 'nix'"),
    "show_if on the item itself": (add("""\
          - {id: a3, text: A3, scale: grad5, show_if: {item: a3, equals: 1}}   #<
        """), "not an earlier item"),
    "show_if code the item lacks": (add("""\
          - {id: a3, text: A3, scale: grad5, show_if: {item: a1, in: [1, 7]}}   #<
        """), "'a1' has no option with code 7"),
    "show_if with two conditions": (add("""\
          - {id: a3, text: A3, scale: grad5, show_if: {item: a1, equals: 1, answered: true}}   #<
        """), "exactly one of equals, in or answered"),
    "index over a free-text item": (add("""\
          - {id: fri, text: Begrund, type: text}
    indices:
      - {id: idx, title: Indeks, items: [a1, fri]}   #<
        """), "item 'fri' is a free-text item and cannot enter an index"),
    "score over a multiple-choice item": (add("""\
          - {id: flere, text: Flere, type: multiple, options: [{code: 1, label: A}, {code: 2, label: B}]}
    scores:
      - {id: sum, title: Sum, items: [a1, flere]}   #<
        """), "item 'flere' is a multiple-choice item and cannot enter a score"),
    "index over an unknown item": (add("""\
    indices:
      - {id: idx, title: Indeks, items: [a1, a9]}   #<
        """), "idx: unknown item 'a9'"),
    "index lists an item twice": (add("""\
    indices:
      - {id: idx, title: Indeks, items: [a1, a2, a1]}   #<
        """), "item 'a1' is listed twice"),
    "unknown field (typo)": (add("""\
          - id: a3
            text: A3
            scale: grad5
            show-if: {item: a1, equals: 1}   #<
        """), "show-if: Extra inputs are not permitted"),
    "min above max": (add("""\
          - id: alder
            type: number
            text: Alder
            min: 99   #<
            max: 18
        """), "item 'alder': min is above max"),
    "min on a scale item": (add("""\
          - {id: a3, text: A3, scale: grad5, min: 1}   #<
        """), "min/max only apply to number items"),
    "duplicate option code in a scale": (BASE.replace("      - {code: 5, label: I meget høj grad}",
                                                      "      - {code: 5, label: I meget høj grad}\n      - {code: 1, label: Igen}   #<"),
                                         "scale 'grad5' uses code 1 twice"),
    "duplicate option code across options and missing": (BASE.replace("      - {code: 9, label: Ved ikke}",
                                                                      "      - {code: 5, label: Ved ikke}   #<"),
                                                         "scale 'grad5' uses code 5 twice"),
    "duplicate option code in inline options": (add("""\
          - id: valg
            type: single
            text: Vælg
            options:
              - {code: 1, label: Et}
              - {code: 1, label: To}   #<
        """), "item 'valg' uses code 1 twice"),
    "missing title": (BASE.replace("title: Bad\n", "").replace("id: bad", "id: bad   #<"), "title: Field required"),
    "missing item text": (add("""\
          - {id: a3, scale: grad5}   #<
        """), "text: Field required"),
    "unknown item type": (add("""\
          - {id: a3, text: A3, type: scael}   #<
        """), "type: Input should be"),
    "item id with a space": (add("""\
          - {id: a 3, text: A3, scale: grad5}   #<
        """), "id: String should match pattern"),
    "key given twice": (add("""\
          - id: a3
            text: A3
            text: A3 igen   #<
            scale: grad5
        """), "key 'text' is given twice"),
    "section without items": (add("""\
      - id: s2   #<
        title: S2
        """), "items: Field required"),
    "duplicate section id": (add("""\
      - id: s1   #<
        title: S1 igen
        items:
          - {id: b1, text: B1, scale: grad5}
        """), "duplicate section id 's1'"),
    "choice item without options": (add("""\
          - {id: a3, text: A3, type: single}   #<
        """), "needs `options` or `scale`"),
    "reverse-keyed free text": (add("""\
          - id: a3
            text: A3
            type: text
            reverse: true   #<
        """), "only scale or single-choice items can be reverse-keyed"),
    "yellow above green": (add("""\
    indices:
      - id: idx
        title: Indeks
        items: [a1, a2]
        thresholds: {green: 3, yellow: 4}   #<
        """), "yellow must not be above green"),
    "group not declared": (add("""\
          - {id: a3, text: A3, scale: grad5, groups: [borgere]}   #<
        """).replace("title: Bad\n", "title: Bad\ngroups: [ledere, medarbejdere]\n"), "names group 'borgere'"),
    "not a mapping": ("""\
        - just   #<
        - a list
        """, "must be a YAML mapping"),
}


def _marked_line(text: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if "#<" in line)


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_file_is_reported_with_line_and_message(cli, tmp_path, case):
    text, fragment = BAD[case]
    text = textwrap.dedent(text)
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    result = cli("questionnaire", "check", path, ok=False)
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    expected = f"{path}:{_marked_line(text)}:"
    assert any(line.startswith(expected) and fragment in line for line in lines), (expected, fragment, lines)
    # `load` refuses the same file the same way, and stores nothing.
    load = cli("questionnaire", "load", path, ok=False)
    assert load.exit_code == 1 and any(line.startswith(expected) for line in load.stderr.splitlines())
    assert cli.json("questionnaire", "list", "--format", "json") == []


def test_every_problem_of_a_file_is_reported(cli, tmp_path):
    """Structural errors (typo, missing text) and cross-reference errors (unknown scale, show_if,
    index) in one file: one run lists them all, each on its own line."""
    text = textwrap.dedent("""\
        id: many
        title: Mange fejl
        scales:
          grad4:
            options:
              - {code: 1, label: Slet ikke}
              - {code: 1, label: I høj grad}
        sections:
          - id: s1
            title: S1
            items:
              - {id: a1, text: A1, scale: grad7}
              - {id: a2, text: A2, scale: grad4, requried: true}
              - {id: a3, scale: grad4}
              - {id: a4, text: A4, scale: grad4, show_if: {item: a5, equals: 1}}
              - {id: a5, text: A5, type: text}
              - {id: a1, text: A1 igen, scale: grad4}
        indices:
          - {id: idx, title: Indeks, items: [a2, a5, a3]}
        """)
    path = tmp_path / "many.yaml"
    path.write_text(text, encoding="utf-8")
    result = cli("questionnaire", "check", path, ok=False)
    assert result.exit_code == 1
    expected = [
        (7, "scale 'grad4' uses code 1 twice"),
        (12, "item 'a1': unknown scale 'grad7'"),
        (13, "requried: Extra inputs are not permitted"),
        (14, "text: Field required"),
        (15, "show_if on 'a5', which is not an earlier item"),
        (17, "duplicate item id 'a1'"),
        (19, "item 'a5' is a free-text item"),
    ]
    lines = result.stderr.splitlines()
    for line_no, fragment in expected:
        assert any(l.startswith(f"{path}:{line_no}:") and fragment in l for l in lines), (line_no, fragment, lines)
    # a3 is already reported as broken (no text); the index naming it is not a second complaint.
    assert not any("unknown item 'a3'" in l for l in lines)
    assert len(lines) == len(expected)
    # The lines come in file order.
    numbers = [int(l.split(":")[1]) for l in lines]
    assert numbers == sorted(numbers)


def test_check_reports_problems_of_every_file_and_fails_once(cli, tmp_path, minimal_yaml):
    one = tmp_path / "one.yaml"
    one.write_text(BASE + "      - {id: x1, text: X, scale: nope}\n", encoding="utf-8")
    two = tmp_path / "two.yaml"
    two.write_text(BASE.replace("id: bad", "id: bad2") + "      - {id: a1, text: igen, scale: grad5}\n", encoding="utf-8")
    result = cli("questionnaire", "check", minimal_yaml, one, two, ok=False)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert [l.split(":")[0] for l in lines] == [str(one), str(two)]
    ok = cli("questionnaire", "check", minimal_yaml)
    assert ok.exit_code == 0 and "1 file(s) ok" in ok.stdout


def test_missing_file_is_a_problem_not_a_traceback(cli, tmp_path):
    result = cli("questionnaire", "check", tmp_path / "nope.yaml", ok=False)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{tmp_path / 'nope.yaml'}:1: cannot read file")


def test_a_file_saved_in_windows_1252_points_at_the_first_bad_line(cli, tmp_path):
    path = tmp_path / "ansi.yaml"
    text = BASE.replace("title: S1", "title: Første side")
    path.write_bytes(text.encode("cp1252"))
    line = next(n for n, l in enumerate(text.splitlines(), 1) if not l.isascii())  # "I meget høj grad"
    result = cli("questionnaire", "check", path, ok=False)
    assert result.stderr.strip() == f"{path}:{line}: not UTF-8 text (byte 0xf8); save the file as UTF-8"
    # With a byte-order mark (as Windows editors write UTF-8) the file is fine.
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbf" + BASE.encode("utf-8"))
    assert cli("questionnaire", "check", bom).exit_code == 0


def test_load_is_all_or_nothing_across_files(cli, tmp_path, minimal_yaml):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE + "      - {id: x1, text: X, scale: nope}\n", encoding="utf-8")
    assert cli("questionnaire", "load", minimal_yaml, bad, ok=False).exit_code == 1
    assert cli.json("questionnaire", "list", "--format", "json") == []


def test_parse_answer_accepts_codes_labels_and_spreadsheet_floats(minimal_yaml):
    from surveyapp.questionnaire import AnswerError, parse_answer

    q = load_file(minimal_yaml)
    item = q.item("ops_1")
    assert parse_answer(q, item, "4") == (4.0, None)
    assert parse_answer(q, item, "4.0") == (4.0, None)
    assert parse_answer(q, item, "i høj grad") == (4.0, None)
    assert parse_answer(q, item, "Ved ikke") == (9.0, None)
    assert parse_answer(q, item, " ") is None
    for bad in ("6", "4.5", "40", "høj"):
        with pytest.raises(AnswerError):
            parse_answer(q, item, bad)


def test_date_answers_must_be_dates():
    from surveyapp.questionnaire import AnswerError, parse_answer

    q = parse(BASE + "      - {id: d1, text: Dato, type: date}\n", "x.yaml")
    item = q.item("d1")
    assert parse_answer(q, item, "2013-03-05") == (None, "2013-03-05")
    assert parse_answer(q, item, "2013-03-05T10:00:00") == (None, "2013-03-05")
    for bad in ("2013-03-05xyz", "05-03-2013", "2013-02-30"):
        with pytest.raises(AnswerError):
            parse_answer(q, item, bad)


def test_show_if_on_a_hidden_item_is_false_whatever_is_stored_for_it():
    q = parse(BASE
              + "      - {id: a3, text: A3, scale: grad5, show_if: {item: a1, equals: 1}}\n"
              + "      - {id: a4, text: A4, scale: grad5, show_if: {item: a3, equals: 5}}\n"
              + "      - {id: a5, text: A5, scale: grad5, groups: [ledere]}\n"
              + "      - {id: a6, text: A6, scale: grad5, show_if: {item: a5, answered: true}}\n", "chain.yaml")
    a3, a4, a5, a6 = (q.item(i) for i in ("a3", "a4", "a5", "a6"))
    assert q.is_shown(a3, {"a1": 1}) and q.is_shown(a4, {"a1": 1, "a3": 5})
    # a1 changed to 5: a3 is hidden, so its stale answer 5 must not show a4 either.
    assert not q.is_shown(a3, {"a1": 5, "a3": 5})
    assert not q.is_shown(a4, {"a1": 5, "a3": 5})
    # a5 is for ledere only: for medarbejdere a stored a5 answer does not show a6.
    assert q.is_shown(a6, {"a5": 1}, "ledere") and not q.is_shown(a6, {"a5": 1}, "medarbejdere")
    assert [i.id for i in q.applicable_items({"a1": 5, "a3": 5, "a5": 1}, "medarbejdere")] == ["a1", "a2"]


def test_questionnaire_error_lists_problems_for_services(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text(BASE + "      - {id: a1, text: igen, scale: grad5}\n", encoding="utf-8")
    with pytest.raises(QuestionnaireError) as error:
        load_file(path)
    assert [str(p) for p in error.value.problems] == [f"{path}:16: duplicate item id 'a1'"]


# ---------------------------------------------------------------- robustness

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 12) | st.sampled_from(["", "a1", "a2", "grad5", "x y", "text", "scale"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.sampled_from(["id", "text", "scale", "items", "options", "code", "label", "show_if", "item", "equals", "type"]),
        children, max_size=3),
    max_leaves=8)


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, path + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, path + (index,))


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_damage_is_reported_never_a_crash(data):
    """Whatever part of a valid file is replaced by whatever value, `check` answers with
    FILE:LINE problems inside the file (or accepts it), never with a traceback."""
    doc = yaml.safe_load(BASE + "indices:\n  - {id: idx, title: I, items: [a1, a2], thresholds: {green: 4, yellow: 3}}\n")
    paths = [p for p in _paths(doc) if p]
    path = data.draw(st.sampled_from(paths))
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = data.draw(json_values)
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    try:
        parse(text, "f.yaml")
    except QuestionnaireError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.file == "f.yaml" and 1 <= problem.line <= len(text.splitlines())
            assert problem.message


def test_a_control_character_is_reported_at_its_line():
    from surveyapp.questionnaire import QuestionnaireError, parse

    text = "id: a\ntitle: b\nintro: x\x1fy\nsections: []\n"
    with pytest.raises(QuestionnaireError) as caught:
        parse(text, "ctl.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "ctl.yaml:3: invalid YAML: special characters are not allowed (character 31)"]


BILLION_LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]\n" for prev, name in zip("abcdefgh", "bcdefghi"))


@pytest.mark.parametrize("text,line,reason", [
    ("id: x\ntitle: 2013-02-30\n", 2, "'2013-02-30' is not a date"),  # a ValueError traceback before
    ("id: x\ntitle: " + "[" * 5000 + "\n", 2, "nested more than 50 levels deep"),  # a RecursionError
    (BILLION_LAUGHS, 2, "anchors and aliases"),  # gigabytes of memory before
])
def test_files_that_crashed_or_exhausted_the_loader_are_clean_errors(text, line, reason):
    from surveyapp.schedule import parse as parse_schedule

    for read in (parse, parse_schedule):
        with pytest.raises(QuestionnaireError) as caught:
            read(text, "bad.yaml")
        problem, = caught.value.problems
        assert (problem.file, problem.line) == ("bad.yaml", line)
        assert reason in problem.message
