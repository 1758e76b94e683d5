"""The start page: after login, the projects and rounds the user may see, with response rates."""
from __future__ import annotations

from flask import Blueprint, render_template

from .. import get_db
from ..results import rate_rows
from ..rounds import list_projects, list_rounds
from .auth import allowed_units, current_user

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    user = current_user()
    if user is None:
        # Respondents never need this page; staff log in first. Nothing about projects is shown.
        return render_template("home.html", projects=None, user=None)
    db = get_db()
    units = allowed_units()
    projects = []
    for project in list_projects(db):
        rounds = list_rounds(db, project["id"])
        totals = {row["round_id"]: row for row in rate_rows(db, [r["id"] for r in rounds], (), units=units)} if rounds else {}
        projects.append({**project, "rounds": [{**r, "rates": totals.get(r["id"])} for r in rounds]})
    return render_template("home.html", projects=projects, user=user)


@bp.get("/healthz")
def healthz():
    """A trivial endpoint: the load benchmark's baseline and a liveness probe."""
    return {"ok": True}
