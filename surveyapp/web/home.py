"""The start page: projects, their rounds and response rates."""
from __future__ import annotations

from flask import Blueprint, render_template

from .. import get_db
from ..results import rate_rows
from ..rounds import list_projects, list_rounds

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    db = get_db()
    projects = []
    for project in list_projects(db):
        rounds = list_rounds(db, project["id"])
        totals = {row["round_id"]: row for row in rate_rows(db, [r["id"] for r in rounds], ())} if rounds else {}
        projects.append({**project, "rounds": [{**r, "rates": totals.get(r["id"])} for r in rounds]})
    return render_template("home.html", projects=projects)


@bp.get("/healthz")
def healthz():
    """A trivial endpoint: the load benchmark's baseline and a liveness probe."""
    return {"ok": True}
