"""`invitations send`, `reminders send`, the send log and the audit log, for cron and scripts."""
from __future__ import annotations

import getpass

import click

from .. import audit as audit_service, mail
from ..rounds import get_round
from .base import COUNT, DAYS, emit, format_option, invitations, main, pass_app, reminders


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "cli"


def _report(result: dict, fmt: str) -> None:
    if fmt == "json":
        keep = ("invitation_id", "key", "email", "unit", "group_name", "kind", "step", "reason", "error")
        emit({"round": result["round"], "kind": result["kind"], "dry_run": result["dry_run"], "sent": result["sent"],
              "skipped": result["skipped"], "failed": result["failed"], "uncertain": result["uncertain"],
              "would_send": [{k: d.get(k) for k in keep} for d in result["would_send"]],
              "failed_rows": [{k: d.get(k) for k in keep} for d in result["failed_rows"]]}, "json")
        return
    if result["dry_run"]:
        for d in result["would_send"]:
            what = "invitation" if d["kind"] == "invitation" else f"reminder {d['step']}"
            click.echo(f"would send {what} to {d['key']} <{d['email']}> ({d['unit'] or '-'}, {d['group_name'] or '-'})"
                       + (f" [{d['reason']}]" if d["reason"] else ""))
        click.echo(f"dry run: would send {len(result['would_send'])}, skipped {result['skipped']}, failed 0 (nothing sent)")
    else:
        for d in result["failed_rows"]:
            click.echo(f"failed: {d['key']} <{d['email']}>: {d['error']}", err=True)
        click.echo(f"sent {result['sent']}, skipped {result['skipped']}, failed {result['failed']}")
    if result["uncertain"]:
        click.echo(f"warning: {result['uncertain']} mail(s) were interrupted while sending in an earlier run and are not "
                   "sent again automatically; see `surveyapp invitations log ROUND`", err=True)


def _send(app, round_ref, kind, dry_run, min_days, max_count, fmt):
    result = mail.send(app.db, round_ref, kind, app.settings, app.secret, dry_run=dry_run, min_days=min_days,
                       max_reminders=max_count, actor=_actor())
    _report(result, fmt)
    if result["failed"]:
        raise SystemExit(1)


@invitations.command("send")
@click.argument("round_ref", metavar="ROUND")
@click.option("--dry-run", is_flag=True, help="Only show who would be mailed; send and store nothing.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_app
def invitations_send(app, round_ref, dry_run, fmt):
    """E-mail the personal link to everyone on the list who has not had it (exit 1 if any failed)."""
    _send(app, round_ref, "invitation", dry_run, 0, 0, fmt)


@reminders.command("send")
@click.argument("round_ref", metavar="ROUND")
@click.option("--min-days", type=DAYS, default=3, show_default=True,
              help="At least this many days since the person's last mail.")
@click.option("--max", "max_count", type=click.IntRange(0, 100), default=2, show_default=True,
              help="At most this many reminders per person.")
@click.option("--dry-run", is_flag=True, help="Only show who would be mailed; send and store nothing.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_app
def reminders_send(app, round_ref, min_days, max_count, dry_run, fmt):
    """Remind those who got the invitation and have not completed (exit 1 if any failed)."""
    _send(app, round_ref, "reminder", dry_run, min_days, max_count, fmt)


@invitations.command("log")
@click.argument("round_ref", metavar="ROUND")
@format_option
@pass_app
def invitations_log(app, round_ref, fmt):
    """The send log: per respondent the invitation's status and the reminders sent."""
    rows = []
    for r in mail.send_log(app.db, round_ref):
        rows.append({"key": r["key"], "email": r["email"], "unit": r["unit"], "group": r["group_name"],
                     "eligible": r["eligible"], "invitation": r["invitation_status"] or "not sent",
                     "invitation_at": r["invitation_at"], "error": r["invitation_error"] or "; ".join(
                         f"{m['kind']} {m['step']}: {m['error']}" for m in r["failed"]) or None,
                     "reminders": r["reminders_sent"], "uncertain": ", ".join(f"{m['kind']} {m['step']} (mail {m['id']})" for m in r["uncertain"]) or None})
    emit(rows, fmt, ["key", "email", "unit", "group", "eligible", "invitation", "invitation_at", "reminders", "error", "uncertain"])


@main.command("audit")
@click.option("--round", "round_ref", help="Only this round (id or name).")
@click.option("--limit", type=COUNT, default=100, show_default=True)
@format_option
@pass_app
def audit_command(app, round_ref, limit, fmt):
    """The audit log, newest first: who changed what, and when."""
    round_id = get_round(app.db, round_ref)["id"] if round_ref else None
    emit(audit_service.entries(app.db, round_id, limit), fmt, ["at", "actor", "action", "round_id", "details"])
