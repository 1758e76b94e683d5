"""CSRF protection of the answer pages, bound to the answer link instead of a session.

The console and the other logged-in areas use Flask-WTF's CSRFProtect: a random token kept in
the signed session cookie. The answer pages (/s/<token>/...) are exempt from it and check a
token that is an HMAC of the link's token under the secret key instead, in the same field
(`csrf_token`) or header (`X-CSRFToken`), failing with the same CSRFError and error page.

Why not the session: a respondent has no login, so the session cookie existed only to carry the
CSRF token, and opening, checking and re-signing it was a fifth of the CPU of a page save (see
bench/README.md, "Load"). The protection is the same: a forged cross-site post must name the link
in its address, and whoever knows the link can open the page and read either kind of token from
it, so the session token never protected a link its attacker knew; and without the link, neither
token can be guessed (the HMAC needs the secret key). The token is the same for every page of a
link and does not expire (as WTF_CSRF_TIME_LIMIT=None made the session token), so a page left
open for days can still be saved. WTF_CSRF_ENABLED=False (tests) turns it off like CSRFProtect.
Like CSRFProtect (which checks every POST with `validate_csrf`, not through a form class), this
is a check in before_request: one HMAC and a constant-time comparison.
"""
from __future__ import annotations

import hashlib
import hmac

from flask import current_app, request
from flask_wtf.csrf import CSRFError

FIELD = "csrf_token"  # the same field name and header as Flask-WTF's, so the pages' JS is unchanged
HEADER = "X-CSRFToken"


def token_for(secret: str, link_token: str) -> str:
    """The CSRF token of every form reached through this answer link."""
    return hmac.new(secret.encode(), f"csrf:{link_token}".encode(), hashlib.sha256).hexdigest()


def protect(blueprint) -> None:
    """Check the link-bound token on every POST of `blueprint` (whose routes take <token>)."""
    from .extensions import csrf

    csrf.exempt(blueprint)  # the session-based check does not run on these routes

    @blueprint.before_request
    def check_link_csrf():
        if request.method != "POST" or not current_app.config.get("WTF_CSRF_ENABLED", True):
            return None
        sent = request.form.get(FIELD) or request.headers.get(HEADER) or ""
        expected = token_for(current_app.config["SECRET_KEY"], (request.view_args or {}).get("token", ""))
        if not hmac.compare_digest(sent.encode(), expected.encode()):
            raise CSRFError("The CSRF token is missing or does not belong to this link.")
        return None
