"""Fixtures for the fidelity tests: a small fidelity questionnaire whose numbers are worked by hand
in the tests, unit rounds on real SQLite files, and a helper that registers a unit's answers
through the same services the console and the answer pages use."""
from __future__ import annotations

import textwrap

import pytest

from surveyapp import fidelity, questionnaire_store, responses, rounds

FID_YAML = textwrap.dedent("""\
    id: fid-test
    title: Fidelitet (test)
    personal: false
    kind: fidelity
    scales:
      grad5:
        options:
          - {code: 1, label: Slet ikke}
          - {code: 2, label: "2"}
          - {code: 3, label: "3"}
          - {code: 4, label: "4"}
          - {code: 5, label: I meget høj grad}
        missing:
          - {code: 9, label: Ved ikke}
    sections:
      - id: a
        title: Fase A
        items:
          - {id: a1, text: Udsagn A1, scale: grad5}
          - {id: a2, text: Udsagn A2, scale: grad5}
          - {id: a3, text: Udsagn A3, scale: grad5}
          - {id: a4, text: Udsagn A4 (omvendt), scale: grad5, reverse: true}
      - id: b
        title: Fase B
        items:
          - {id: b1, text: Udsagn B1, scale: grad5}
          - {id: b2, text: Udsagn B2, scale: grad5}
          - id: stige
            type: single
            text: Er metoden beskrevet og anvendt?
            options:
              - {code: 1, label: Ikke beskrevet}
              - {code: 2, label: Under udvikling}
              - {code: 3, label: "Beskrevet, ikke anvendt"}
              - {code: 4, label: Beskrevet og anvendt}
          - id: tilbud
            type: multiple
            text: Hvilke tilbud er sat i gang?
            options:
              - {code: 1, label: Familiebehandling}
              - {code: 2, label: Mentorstøtte}
              - {code: 3, label: Andet}
    indices:
      - {id: ia, title: Indeks A, items: [a1, a2, a3, a4], min_share: 0.5, thresholds: {green: 4, yellow: 3}, targets: {"R2": 3.5}}
      - {id: ib, title: Indeks B, items: [b1, b2], min_share: 1.0, thresholds: {green: 4.5, yellow: 2.5}}
    """)

UNITS = ["Nord", "Syd", "Vest", "Øst"]
PROJECT = "fid"


@pytest.fixture
def fid_yaml(tmp_path):
    path = tmp_path / "fid-test.yaml"
    path.write_text(FID_YAML, encoding="utf-8")
    return path


def register(db, secret, round_ref, unit, answers: dict, by: str = "Projektleder", participants: str | None = None,
             submit: bool = True) -> dict:
    """Register a unit's answers on its behalf: start, save every page, submit."""
    started = fidelity.start_registration(db, secret, round_ref, unit, by, participants, project=PROJECT, actor="test")
    response = responses.get_response(db, started["response_id"])
    q = responses.questionnaire_of(db, response)
    for index, section in enumerate(q.sections):
        form = {item.id: answers[item.id] for item in section.items if item.id in answers}
        responses.save_page(db, response, index, form)
    if submit:
        responses.submit(db, response)
    return started


@pytest.fixture
def fid_project(db, secret, fid_yaml):
    """Project 'fid' with open unit rounds R1, R2, R3 (dates in order) and four units on each list."""
    questionnaire_store.load(db, fid_yaml)
    ids = []
    for name, opens in (("R1", "2019-03-01"), ("R2", "2019-11-01"), ("R3", "2020-05-01")):
        round_id = fidelity.create_unit_round(db, name, "fid-test", PROJECT, UNITS, secret, opens, None)
        rounds.open_round(db, round_id)
        ids.append(round_id)
    return ids


# The hand-worked answers of round R1 (see test_fidelity_indices.py for the arithmetic).
R1_ANSWERS = {
    "Nord": {"a1": "5", "a2": "9", "a3": "3", "a4": "2", "b1": "4", "stige": "2", "tilbud": ["1", "2"]},
    "Syd": {"a1": "2", "a2": "3", "a3": "9", "a4": "9", "b1": "3", "b2": "2", "stige": "1"},
    "Øst": {"a1": "4", "a2": "4", "a3": "3", "a4": "5", "b1": "5", "b2": "4", "stige": "3", "tilbud": ["3"]},
    "Vest": {"a1": "9", "a2": "9", "a3": "9", "a4": "1", "b1": "1", "b2": "2"},
}
R2_ANSWERS = {
    "Nord": {"a1": "4", "a2": "4", "a3": "4", "a4": "4", "b1": "5", "b2": "5", "stige": "3", "tilbud": ["1", "2", "3"]},
    "Syd": {"a1": "3", "a2": "3", "a3": "3", "a4": "3", "b1": "3", "b2": "3", "stige": "2"},
}


@pytest.fixture
def answered(db, secret, fid_project):
    """R1 answered by all four units, R2 by Nord and Syd only, R3 by nobody."""
    for unit, answers in R1_ANSWERS.items():
        register(db, secret, "R1", unit, answers)
    for unit, answers in R2_ANSWERS.items():
        register(db, secret, "R2", unit, answers)
    return fid_project


@pytest.fixture
def register_unit(db, secret):
    """register(round, unit, answers, **options) on the test database."""
    return lambda round_ref, unit, answers, **options: register(db, secret, round_ref, unit, answers, **options)
