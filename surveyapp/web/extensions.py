"""Flask extensions and app-wide request handling: CSRF, translations, security headers, errors."""
from __future__ import annotations

from flask import render_template, request, session
from flask_babel import Babel
from flask_wtf.csrf import CSRFError, CSRFProtect

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


def init_app(app) -> None:
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)

    from analysis import formatting

    app.jinja_env.filters["danish_percent"] = formatting.percent
    app.jinja_env.filters["danish_decimal"] = formatting.decimal
    app.jinja_env.filters["month_year"] = formatting.month_year

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        )
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_template("error.html", title="Siden er udløbet",
                               message="Formularen var for gammel eller mangler sit sikkerhedsfelt. Gå tilbage, genindlæs siden og prøv igen."), 400

    @app.errorhandler(404)
    def not_found(error):
        return render_template("error.html", title="Siden findes ikke", message="Tjek adressen, eller gå til forsiden."), 404

    @app.errorhandler(413)
    def too_large(error):
        return render_template("error.html", title="Filen er for stor", message="Det, du sendte, er større end serveren tager imod."), 413

    @app.errorhandler(500)
    def server_error(error):
        return render_template("error.html", title="Der skete en fejl", message="Prøv igen om lidt. Dine gemte svar er ikke gået tabt."), 500
