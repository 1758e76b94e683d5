"""surveyapp: the application factory.

One blueprint per audience: `web.respond` (respondents' personal links), `web.console`
(project leads), `web.reports` (evaluators), `web.auth` (login), plus `web.home`.
"""
from __future__ import annotations

import importlib
import threading

from flask import Flask, g

from . import config as config_module
from .db import connect, migrate

BLUEPRINT_MODULES = ("home", "auth", "respond", "console", "reports", "fidelity", "cases")


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    overrides = dict(overrides or {})
    settings = config_module.settings(overrides.get("DATABASE"))
    app.config.update(
        settings,
        MAX_CONTENT_LENGTH=5 * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings["BASE_URL"].startswith("https://"),
        WTF_CSRF_TIME_LIMIT=None,
        # Pages send Referrer-Policy: no-referrer, so browsers send no Referer to check over HTTPS;
        # the CSRF token (plus SameSite=Lax cookies) is the protection.
        WTF_CSRF_SSL_STRICT=False,
        BABEL_DEFAULT_LOCALE="da",
    )
    app.config.update(overrides)
    _db = connect(app.config["DATABASE"])  # create or upgrade the schema once, at start
    try:
        migrate(_db)
    finally:
        _db.conn.close()

    from .web import extensions

    extensions.init_app(app)

    @app.teardown_appcontext
    def close_db(exception=None):
        db = g.pop("db", None)
        if db is not None:
            if g.pop("db_kept", False):  # the thread's connection stays open (DB_CONNECTION_PER_THREAD)
                if db.conn.in_transaction:
                    db.conn.execute("ROLLBACK")
            else:
                db.conn.close()

    for name in BLUEPRINT_MODULES:  # imported here: the blueprints import get_db from this package
        app.register_blueprint(importlib.import_module(f".web.{name}", __name__).bp)
    return app


_thread_db = threading.local()


def get_db():
    """The request's database connection (opened on first use, closed at teardown).

    With DB_CONNECTION_PER_THREAD (set by `surveyapp serve`) each server thread keeps one
    connection open across requests: no connect and PRAGMAs per request, and no WAL checkpoint
    each time the last connection closes (ops issue: about a third of a page request's cost).
    """
    if "db" not in g:
        from flask import current_app

        path = current_app.config["DATABASE"]
        if current_app.config.get("DB_CONNECTION_PER_THREAD"):
            kept = getattr(_thread_db, "entry", None)
            if kept is None or kept[0] != path:
                if kept is not None:
                    kept[1].conn.close()
                kept = _thread_db.entry = (path, connect(path))
            g.db, g.db_kept = kept[1], True
        else:
            g.db = connect(path)
    return g.db
