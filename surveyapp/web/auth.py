"""Login, logout and the role decorators every console, report and admin view uses.

Roles: admin (everything), unit_lead (their own units), evaluator (read-only results and exports).

Session hardening: the session cookie is HttpOnly and SameSite=Lax (Secure when the base URL is
https, see create_app); a login starts a fresh session (no fixation), sessions last at most
SESSION_HOURS, and each carries a stamp of the account so a password, role or unit change or a
deactivation ends every older session. Failed logins are throttled per username and client
(users.LOGIN_MAX_FAILURES within users.LOGIN_WINDOW_MINUTES) with 429.
"""
from __future__ import annotations

import datetime as dt
import functools
import time

from flask import (Blueprint, abort, current_app, flash, g, redirect, render_template, request, session,
                   url_for)
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from .. import get_db
from ..users import (LOGIN_WINDOW_MINUTES, client_key, get_user, login_blocked, record_login, session_stamp,
                     verify_password)

bp = Blueprint("auth", __name__)
SESSION_HOURS = 8


@bp.record_once
def _session_settings(state) -> None:
    state.app.config["PERMANENT_SESSION_LIFETIME"] = dt.timedelta(hours=SESSION_HOURS)
    state.app.jinja_env.globals["current_user"] = current_user


def current_user() -> dict | None:
    if "user" not in g:
        user_id = session.get("user_id")
        user = None
        if user_id:
            db = get_db()
            # None also when the password, role or units changed (or the account was closed) since login.
            user = get_user(db, user_id, stamp=session.get("stamp") or "")
            if user is not None and time.time() - float(session.get("login_at") or 0) > SESSION_HOURS * 3600:
                user = None  # logged in too long ago, however active since
            if user is None:
                session.clear()
        g.user = user
    return g.user


def roles_required(*roles: str):
    """Allow only users with one of `roles` (admin is always allowed); others get 403."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            user = current_user()
            if user is None:
                return redirect(url_for("auth.login", next=request.full_path))
            if user["role"] != "admin" and user["role"] not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def allowed_units() -> list[str] | None:
    """The units the current user may see: None means all (admin, evaluator)."""
    user = current_user()
    if user is None:
        return []
    return user["units"] if user["role"] == "unit_lead" else None


def require_unit(unit: str) -> None:
    units = allowed_units()
    if units is not None and unit not in units:
        abort(403)


def actor() -> str:
    """The name audit entries carry for the current request."""
    user = current_user()
    return user["username"] if user else "anonymous"


class LoginForm(FlaskForm):
    username = StringField("Brugernavn", validators=[DataRequired(), Length(max=200)])
    password = PasswordField("Adgangskode", validators=[DataRequired(), Length(max=500)])
    next = HiddenField()


def safe_next(target: str | None) -> str:
    """Only a path on this site (never //host or a scheme) may be the page after login."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target.rstrip("?") or "/"
    return url_for("console.index") if "console" in current_app.blueprints else "/"


@bp.before_request
def _danish() -> None:
    g.language = "da"  # the login pages belong to the Danish console


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    status, error = 200, None
    if form.validate_on_submit():
        db = get_db()
        username = form.username.data.strip()
        client = client_key(current_app.config["SECRET_KEY"], request.remote_addr)
        if login_blocked(db, username, client):
            status = 429
            error = (f"For mange mislykkede forsøg. Vent {LOGIN_WINDOW_MINUTES} minutter, "
                     "og prøv så igen.")
        else:
            user = verify_password(db, username, form.password.data)
            record_login(db, username, client, user is not None)
            if user is None:
                status, error = 401, "Forkert brugernavn eller adgangskode."
            else:
                session.clear()  # a fresh session: nothing from before the login carries over
                session.permanent = True
                session["user_id"] = user["id"]
                session["stamp"] = session_stamp(db, user["id"])
                session["login_at"] = int(time.time())
                g.pop("user", None)
                return redirect(safe_next(form.next.data))
    elif request.method == "POST":
        status, error = 400, "Udfyld brugernavn og adgangskode."
    return render_template("auth/login.html", form=form, error=error), status


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    if request.method == "POST":  # CSRF-protected; a GET only shows the button
        session.clear()
        g.pop("user", None)
        flash("Du er logget ud.", "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/logout.html")
