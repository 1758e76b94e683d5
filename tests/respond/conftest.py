from __future__ import annotations

import pytest

from respond_setup import build


@pytest.fixture
def survey(db, secret, app):
    """A factory: survey(status=..., anonymous=..., answered_by=..., allow_edit=...) -> round, tokens, invitations."""
    count = {"n": 0}

    def make(**options):
        count["n"] += 1
        options.setdefault("name", f"Runde {count['n']}")
        return build(db, secret, **options)

    return make
