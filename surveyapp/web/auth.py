"""Login, logout and the role decorators every console, report and admin view uses.

Roles: admin (everything), unit_lead (their own units), evaluator (read-only results and exports).
"""
from __future__ import annotations

import functools

from flask import Blueprint, abort, g, redirect, request, session, url_for

from .. import get_db
from ..users import get_user

bp = Blueprint("auth", __name__)


def current_user() -> dict | None:
    if "user" not in g:
        user_id = session.get("user_id")
        g.user = get_user(get_db(), user_id) if user_id else None
    return g.user


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_user() is None:
            return redirect(url_for("auth.login", next=request.full_path))
        return view(*args, **kwargs)

    return wrapped


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
