"""Flask extensions and app-wide request handling: CSRF, translations, security headers, errors."""
from __future__ import annotations

from flask import render_template, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_babel import Babel, get_locale, lazy_gettext as _l
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.routing import IntegerConverter

from ..db import MAX_ROW_ID

csrf = CSRFProtect()
babel = Babel()
LANGUAGES = ("da", "en")


def select_locale() -> str:
    """Explicit choice (?lang= or the respondent's language set by the view), else the browser, else Danish."""
    from flask import g

    chosen = request.args.get("lang") or getattr(g, "language", None) or session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES, default="da") or "da"


# Sent with every response unless the view set its own (built once, not per request).
SECURITY_HEADERS = (
    ("Content-Security-Policy",
     "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
)

ROUND_STATUS = {"draft": _l("kladde"), "open": _l("åben"), "closed": _l("lukket")}


def round_status(status: str) -> str:
    return str(ROUND_STATUS.get(status, status))


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie session, minus building its signing serializer for a request that
    carries no session cookie: every request of a respondent (the answer pages use none)."""

    def open_session(self, app, request):
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


class RowIdConverter(IntegerConverter):
    """`<int:...>` in every route: a number beyond SQLite's INTEGER range is no route (404)
    rather than an OverflowError (500) when the view looks the row up."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ROW_ID)
        super().__init__(map, *args, **kwargs)


def init_app(app) -> None:
    """Called before the blueprints are registered: routes bind their converters when added."""
    app.url_map.converters["int"] = RowIdConverter
    app.session_interface = CookieSessions()
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)

    from analysis import formatting

    app.jinja_env.filters["danish_percent"] = formatting.percent
    app.jinja_env.filters["danish_decimal"] = formatting.decimal
    app.jinja_env.filters["month_year"] = formatting.month_year
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.filters["round_status"] = round_status

    @app.after_request
    def security_headers(response):
        headers = response.headers
        present = {key.lower() for key in headers.keys()}  # a view's own value wins (as setdefault did)
        for key, value in SECURITY_HEADERS:
            if key.lower() not in present:
                headers.add(key, value)
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_template("error.html", title=_l("Siden er udløbet"),
                               message=_l("Formularen var for gammel eller mangler sit sikkerhedsfelt. Gå tilbage, genindlæs siden og prøv igen.")), 400

    @app.errorhandler(403)
    def forbidden(error):
        return render_template("error.html", title=_l("Ingen adgang"),
                               message=_l("Din rolle giver ikke adgang til denne side.")), 403

    @app.errorhandler(404)
    def not_found(error):
        return render_template("error.html", title=_l("Siden findes ikke"), message=_l("Tjek adressen, eller gå til forsiden.")), 404

    @app.errorhandler(413)
    def too_large(error):
        return render_template("error.html", title=_l("Filen er for stor"), message=_l("Det, du sendte, er større end serveren tager imod.")), 413

    @app.errorhandler(500)
    def server_error(error):
        return render_template("error.html", title=_l("Der skete en fejl"), message=_l("Prøv igen om lidt. Dine gemte svar er ikke gået tabt.")), 500
