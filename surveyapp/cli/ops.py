"""Operations: serving in production, online backups, and retention (purge)."""
from __future__ import annotations

import click

from .base import DAYS, emit, main, pass_app


# Measured on 2 cores (bench/README.md, "Load"): 2 workers x 4 threads and 3 x 1 save about as
# many pages per second (1,450-1,530), and 2 x 4 has the lower save p95 (67-70 against 75-93 ms
# at 50 saves in flight) and serves light requests faster, so it stays the default.
DEFAULT_WORKERS, DEFAULT_THREADS = 2, 4


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, type=click.IntRange(1, 65535), show_default=True)
@click.option("--workers", default=DEFAULT_WORKERS, type=click.IntRange(min=1), show_default=True,
              help="Worker processes (gunicorn). 1 runs a single waitress process instead.")
@click.option("--threads", default=DEFAULT_THREADS, type=click.IntRange(min=1), show_default=True,
              help="Threads per worker.")
@click.option("--proxy", default=0, type=click.IntRange(min=0), show_default=True,
              help="Number of reverse proxies in front (nginx/Caddy): trust that many X-Forwarded-For/-Proto/-Host hops.")
@click.option("--access-log", is_flag=True, help="Log every request to stdout (gunicorn; answer links contain tokens).")
@pass_app
def serve(app, host, port, workers, threads, proxy, access_log):
    """Serve the web application with a production WSGI server (gunicorn workers, or waitress)."""
    from .. import create_app

    flask_app = create_app({"DATABASE": str(app.db_path), "DB_CONNECTION_PER_THREAD": True})
    if proxy:
        from werkzeug.middleware.proxy_fix import ProxyFix

        flask_app.wsgi_app = ProxyFix(flask_app.wsgi_app, x_for=proxy, x_proto=proxy, x_host=proxy)
    _compile_templates(flask_app)
    click.echo(f"surveyapp on http://{host}:{port}/  (database {app.db_path}, "
               f"{workers} worker(s) x {threads} thread(s))", err=False)
    if workers == 1:
        import waitress

        waitress.serve(flask_app, host=host, port=port, threads=threads, ident="surveyapp")
        return
    _Gunicorn(flask_app, {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "preload_app": True,  # the schema is migrated once, in the master, before the workers fork
        "timeout": 60,
        "graceful_timeout": 20,
        "keepalive": 5,
        "accesslog": "-" if access_log else None,
        "errorlog": "-",
        "loglevel": "warning",
        "proc_name": "surveyapp",
    }).run()


def _compile_templates(flask_app) -> None:
    """Compile every template once before the workers fork, so no respondent waits for it."""
    env = flask_app.jinja_env
    for name in env.list_templates(extensions=("html", "txt")):
        try:
            env.get_template(name)
        except Exception:  # noqa: BLE001 - a template that fails here fails (and is reported) on use
            pass


try:
    from gunicorn.app.base import BaseApplication
except ImportError:  # pragma: no cover - gunicorn is a dependency; waitress still serves with --workers 1
    BaseApplication = object


class _Gunicorn(BaseApplication):
    def __init__(self, application, options: dict):
        self.application, self.options = application, options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.application


@main.command("backup")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--overwrite", is_flag=True, help="Replace FILE if it exists.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_app
def backup_command(app, file, overwrite, fmt):
    """Copy the live database to FILE consistently, while the app keeps running (SQLite backup API).

    Restore: stop the server, `surveyapp restore FILE`, start it again with the same secret key
    (the personal links are derived from it).
    """
    from ..backup import backup

    result = backup(app.db_path, file, overwrite=overwrite)
    if fmt == "json":
        emit(result, "json")
        return
    click.echo(f"backup written to {result['file']} ({result['bytes']} bytes, integrity ok, "
               f"{result.get('responses', 0)} responses, {result.get('answers', 0)} answers, {result['seconds']} s)")
    click.echo("keep the secret key with your backups (SURVEYAPP_SECRET_KEY or the secret_key file beside the "
               "database): the personal links depend on it", err=True)


@main.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="Replace the database without a prompt.")
@pass_app
def restore_command(app, file, yes):
    """Replace the database with the backup FILE (checked first). Stop the server before, start it
    after, with the same secret key."""
    from ..backup import restore

    if not yes:
        click.confirm(f"Replace everything in {app.db_path} with the content of {file}?", abort=True)
    result = restore(file, app.db_path)
    click.echo(f"restored {result['file']} from {result['from']} ({result['responses']} responses, "
               f"{result['answers']} answers)")


@main.command("retention")
@click.argument("round_ref", metavar="ROUND")
@click.argument("days", type=DAYS, required=False)
@pass_app
def retention_command(app, round_ref, days):
    """Show or set how many days after closing a round's personal data is kept (then `purge --due`
    deletes it)."""
    from ..purge import due_date
    from ..rounds import get_round, update_round

    round_ = get_round(app.db, round_ref)
    if days is not None:
        round_ = update_round(app.db, round_["id"], retention_days=days)
    due = due_date(round_)
    if round_.get("purged_at"):
        state = f"purged at {round_['purged_at']}"
    elif round_["retention_days"] is None:
        state = "no retention period set"
    elif due is None:
        state = f"kept {round_['retention_days']} days after it closes (it is {round_['status']})"
    else:
        state = f"kept {round_['retention_days']} days after closing: until {due.isoformat()}"
    click.echo(f"round '{round_['name']}': {state}")


@main.command("purge")
@click.argument("round_ref", metavar="ROUND", required=False)
@click.option("--due", is_flag=True, help="Purge every closed round whose retention period has run out.")
@click.option("--force", is_flag=True, help="Purge now, before the retention period has run out.")
@click.option("--yes", is_flag=True, help="Confirm --force without a prompt.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_app
def purge_command(app, round_ref, due, force, yes, fmt):
    """Delete a closed round's personal data after its retention period (rounds.retention_days after
    closing). Anonymous answers, response rates and every aggregate stay."""
    from .. import purge as purge_service
    from ..rounds import get_round

    if bool(round_ref) == bool(due):
        raise click.UsageError("name one ROUND or pass --due")
    if due:
        if force:
            raise click.UsageError("--force applies to one named round, not to --due")
        rounds = purge_service.due_rounds(app.db)
        results = [purge_service.purge_round(app.db, r["id"]) for r in rounds]
        if fmt == "json":
            emit(results, "json")
        elif not results:
            click.echo("no round is due for purging")
        else:
            emit(results, "table", ["round", "name", "invitations_anonymised", "people_deleted", "responses_unlinked", "answers_kept"])
        return
    if force and not yes:
        round_ = get_round(app.db, round_ref)
        click.confirm(f"Delete the personal data of round '{round_['name']}' now, before its retention period "
                      f"has run out? This cannot be undone", abort=True)
    result = purge_service.purge_round(app.db, round_ref, force=force)
    if fmt == "json":
        emit(result, "json")
    elif result.get("already_purged"):
        click.echo(f"round '{result['name']}' was already purged at {result['already_purged']}")
    else:
        click.echo(f"purged round '{result['name']}': {result['invitations_anonymised']} invitation(s) anonymised, "
                   f"{result['people_deleted']} person(s) deleted ({result['people_kept_for_other_rounds']} kept for "
                   f"other rounds), {result['responses_unlinked']} response(s) unlinked, {result['answers_kept']} "
                   f"answer(s) kept")
        if not result.get("wal_truncated", True):
            click.echo("note: the server was busy reading; the old pages leave the write-ahead log at its next "
                       "checkpoint", err=True)
