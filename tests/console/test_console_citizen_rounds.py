"""Bulk invitations and reminders are refused for rounds registered on citizens' behalf."""
from __future__ import annotations

import pytest

from surveyapp import mail, questionnaire_store, respondents, rounds
from surveyapp.errors import SurveyError

SETTINGS = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": 9, "SMTP_TLS": "none", "SMTP_USER": "", "SMTP_PASSWORD": "",
            "MAIL_FROM": "survey@example.org", "BASE_URL": "http://testserver"}


@pytest.mark.parametrize("kind", ["invitation", "reminder"])
def test_citizen_round_cannot_be_mailed_in_bulk(db, minimal_yaml, secret, kind):
    questionnaire_store.load(db, minimal_yaml)
    round_id = rounds.create_round(db, "M1 demo", {"": "demo-fidelity"}, project="p", answered_by="citizen")
    respondents.add_invitation(db, rounds.get_round(db, round_id), {"key": "c1", "email": "c1@example.org"}, secret)
    rounds.open_round(db, round_id)
    for dry_run in (True, False):
        with pytest.raises(SurveyError, match="one at a time"):
            mail.send(db, round_id, kind, SETTINGS, secret, dry_run=dry_run)
    # Refused before anything is claimed: a real run would have left a (failed) row for port 9.
    assert db.execute("SELECT COUNT(*) FROM mails").fetchone()[0] == 0


def test_self_answered_round_is_still_planned(db, minimal_yaml, secret):
    questionnaire_store.load(db, minimal_yaml)
    round_id = rounds.create_round(db, "Staff", {"": "demo-fidelity"}, project="p")
    respondents.add_invitation(db, rounds.get_round(db, round_id), {"key": "s1", "email": "s1@example.org"}, secret)
    rounds.open_round(db, round_id)
    decisions = mail.plan(db, round_id, "invitation")
    assert [d["action"] for d in decisions] == ["send"]
