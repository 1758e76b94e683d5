"""`surveyapp demo` prints the demo logins it created (dev.py start shows them), and each works."""
from __future__ import annotations

import re

from surveyapp import users
from surveyapp.db import connect


def test_demo_prints_logins_that_work(cli, db_path):
    cli("init")
    out = cli("demo").stdout
    printed = re.findall(r"^  (\S+)\s+/ (\S+)\s+\((\w+)", out, flags=re.MULTILINE)
    assert {user for user, _, _ in printed} == {"admin", "evaluator", "horsens"}
    db = connect(db_path)
    for username, password, role in printed:
        user = users.verify_password(db, username, password)
        assert user is not None and user["role"] == role
        assert users.verify_password(db, username, password + "x") is None
    # a second run changes nothing and still tells the logins
    again = cli("demo").stdout
    assert "exists already" in again and re.findall(r"^  (\S+)\s+/ (\S+)", again, flags=re.MULTILINE) == \
        [(u, p) for u, p, _ in printed]
