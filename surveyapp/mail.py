"""Invitations and reminders by e-mail over SMTP, sent at most once per person and step.

Sending is idempotent through the `mails` table (UNIQUE(invitation_id, kind, step)):

1. in one transaction a row with status 'sending' is inserted (or a 'failed' row is claimed
   back for a retry) - only the run that wins that row may send it;
2. the message goes to the SMTP server;
3. in a second transaction the row becomes 'sent' or 'failed' with the server's reason.

A crash between 1 and 3 leaves 'sending': whether the server took the message is unknown, so
that row is never sent again automatically; it is reported as uncertain instead (console and
CLI) and a person decides. Running a send twice therefore never mails anyone twice for the same
step. Failed mails (the server refused, or could not be reached) are tried again by the next run.

Reminders go only to people who are eligible, on the list, have an e-mail address, got their
invitation, have not completed, whose last mail is at least `min_days` old and who have had
fewer than `max_reminders` reminders.
"""
from __future__ import annotations

import datetime as dt
import smtplib
import socket
import sqlite3
import ssl
import string
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

from analysis.formatting import month_year

from . import audit, tokens
from .db import now as db_now, transaction
from .errors import Conflict, SurveyError
from .rounds import get_round

KINDS = ("invitation", "reminder")
FIELDS = ("name", "link", "round", "closes")
DEFAULT_TEMPLATES = {
    "invitation": {
        "subject": "Spørgeskema: {round}",
        "body": (
            "Kære {name}\n\n"
            "Du er inviteret til at svare på spørgeskemaet i målingen \"{round}\".\n\n"
            "Dit personlige link:\n{link}\n\n"
            "Linket er personligt, så del det ikke med andre. Dine svar gemmes undervejs, og du kan "
            "vende tilbage via samme link og fortsætte, hvor du slap. Målingen lukker {closes}.\n\n"
            "På forhånd tak for hjælpen.\n\nVenlig hilsen\nProjektledelsen\n"
        ),
    },
    "reminder": {
        "subject": "Påmindelse: {round}",
        "body": (
            "Kære {name}\n\n"
            "Vi mangler stadig dit svar på spørgeskemaet i målingen \"{round}\". Dine svar er vigtige, "
            "også hvis du kun har tid til en del af det.\n\n"
            "Dit personlige link:\n{link}\n\n"
            "Har du allerede svaret på en del, fortsætter du, hvor du slap. Målingen lukker {closes}.\n\n"
            "Venlig hilsen\nProjektledelsen\n"
        ),
    },
}
# Used instead of the Danish defaults for people whose language is 'en', unless the round has its own text.
DEFAULT_TEMPLATES_EN = {
    "invitation": {
        "subject": "Questionnaire: {round}",
        "body": (
            "Dear {name}\n\n"
            "You are invited to answer the questionnaire of the survey \"{round}\".\n\n"
            "Your personal link:\n{link}\n\n"
            "The link is personal, so please do not share it. Your answers are saved as you go, and you can "
            "come back through the same link and continue where you left off. The survey closes {closes}.\n\n"
            "Thank you for your help.\n\nKind regards\nThe project team\n"
        ),
    },
    "reminder": {
        "subject": "Reminder: {round}",
        "body": (
            "Dear {name}\n\n"
            "We have not yet received your answers to the questionnaire of the survey \"{round}\". Your answers "
            "matter, even if you only have time for part of it.\n\n"
            "Your personal link:\n{link}\n\n"
            "If you have already answered some of it, you continue where you left off. The survey closes {closes}.\n\n"
            "Kind regards\nThe project team\n"
        ),
    },
}
SMTP_TIMEOUT = 30


# --- Templates ------------------------------------------------------------------------------

def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise SurveyError(f"kind must be invitation or reminder, not '{kind}'")


def check_template(subject: str, body: str) -> None:
    """Refuse placeholders other than {name}, {link}, {round}, {closes}, and a body without {link}."""
    problems = []
    for label, text in (("subject", subject), ("body", body)):
        if not (text or "").strip():
            problems.append(f"the {label} is empty")
            continue
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError as error:
            problems.append(f"the {label} has an unmatched brace ({error}); write {{{{ and }}}} for a literal brace")
            continue
        for _, field, spec, conversion in parsed:
            if field is None:
                continue
            if field not in FIELDS or spec or conversion:
                problems.append(f"the {label} uses {{{field}}}; only {', '.join('{' + f + '}' for f in FIELDS)} are known")
    if not problems and "{link}" not in body:
        problems.append("the body must contain {link}, the respondent's personal link")
    if problems:
        raise SurveyError("; ".join(problems))


def get_template(db, round_id: int, kind: str) -> dict:
    _check_kind(kind)
    row = db.execute("SELECT subject, body FROM mail_templates WHERE round_id = ? AND kind = ?", (round_id, kind)).fetchone()
    if row is None:
        return {**DEFAULT_TEMPLATES[kind], "default": True, "kind": kind}
    return {"subject": row["subject"], "body": row["body"], "default": False, "kind": kind}


def save_template(db, round_ref, kind: str, subject: str, body: str, actor: str = "cli") -> dict:
    _check_kind(kind)
    subject, body = (subject or "").strip(), (body or "").replace("\r\n", "\n").strip() + "\n"
    check_template(subject, body)
    round_ = get_round(db, round_ref)
    with transaction(db):
        db.execute(
            "INSERT INTO mail_templates (round_id, kind, subject, body) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (round_id, kind) DO UPDATE SET subject = excluded.subject, body = excluded.body",
            (round_["id"], kind, subject, body))
        audit.record(db, actor, "mail_template.saved", round_["id"], kind=kind, subject=subject)
    return get_template(db, round_["id"], kind)


def render(template: dict, round_: dict, person: dict, link: str) -> tuple[str, str]:
    """(subject, body) with the person's name and link filled in (in English for English-speaking
    people while the round uses the default texts)."""
    closes = round_.get("closes")
    english = person.get("language") == "en" and template.get("default")
    if english:
        template = DEFAULT_TEMPLATES_EN[template.get("kind") or "invitation"]
    values = {
        "name": (person.get("name") or "").strip() or ("participant" if english else "du"),
        "link": link,
        "round": round_["name"],
        "closes": (_english_date(closes) if english else _danish_date(closes)) if closes
        else ("when the project team closes it" if english else "når projektledelsen lukker den"),
    }
    subject = template["subject"].format_map(values).replace("\n", " ").strip()
    return subject, template["body"].format_map(values)


def _english_date(iso: str) -> str:
    day = dt.date.fromisoformat(iso[:10])
    return f"on {day.day} {day:%B} {day.year}"


def _danish_date(iso: str) -> str:
    day = dt.date.fromisoformat(iso[:10])
    return f"den {day.day}. {month_year(day)}"


# --- Who gets what ------------------------------------------------------------------------------

def _parse_time(stamp: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(stamp)
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _people(db, round_id: int, units: list[str] | None) -> list[dict]:
    sql = ("SELECT i.id AS invitation_id, i.group_name, i.unit, i.eligible, i.ineligible_reason, i.completed, "
           "i.started, p.key, p.name, p.email, p.language, "
           "EXISTS (SELECT 1 FROM responses r WHERE r.invitation_id = i.id AND r.status = 'complete') AS response_complete "
           "FROM invitations i JOIN people p ON p.id = i.person_id WHERE i.round_id = ? AND i.removed_at IS NULL")
    params: list = [round_id]
    if units is not None:
        sql += f" AND i.unit IN ({','.join('?' * len(units))})"
        params.extend(units)
    return [dict(r) for r in db.query(sql + " ORDER BY i.unit, i.group_name, p.key", params)]


def _mails_by_invitation(db, round_id: int) -> dict[int, list[dict]]:
    mails: dict[int, list[dict]] = {}
    for row in db.query("SELECT m.* FROM mails m JOIN invitations i ON i.id = m.invitation_id WHERE i.round_id = ? "
                        "ORDER BY m.kind, m.step", [round_id]):
        mails.setdefault(row["invitation_id"], []).append(dict(row))
    return mails


def plan(db, round_ref, kind: str, min_days: int = 3, max_reminders: int = 2, units: list[str] | None = None,
         at: dt.datetime | None = None) -> list[dict]:
    """One decision per person on the list: action 'send', 'retry' (a failed mail) or 'skip' with a reason."""
    _check_kind(kind)
    if min_days < 0 or max_reminders < 0:
        raise SurveyError("--min-days and --max cannot be negative")
    round_ = get_round(db, round_ref)
    if round_["answered_by"] == "citizen":
        # Standing progress-measurement rounds hold every citizen in a programme: a bulk mail
        # would reach people nobody meant to ask now. Links go out one by one from the case pages.
        raise SurveyError(f"round '{round_['name']}' is registered by professionals for citizens; "
                          "send self-completion links one at a time from the case pages, not in bulk")
    at = at or dt.datetime.now(dt.timezone.utc)
    mails = _mails_by_invitation(db, round_["id"])
    decisions = []
    for person in _people(db, round_["id"], units):
        own = mails.get(person["invitation_id"], [])
        decision = {**person, "kind": kind, "step": 0 if kind == "invitation" else None, "action": "skip", "reason": ""}
        decisions.append(decision)
        uncertain = [m for m in own if m["status"] == "sending"]
        if not person["eligible"]:
            decision["reason"] = f"ineligible ({person['ineligible_reason'] or 'no reason given'})"
            continue
        if not person["email"]:
            decision["reason"] = "no e-mail address"
            continue
        invitation_mail = next((m for m in own if m["kind"] == "invitation"), None)
        if kind == "invitation":
            if invitation_mail is None:
                decision["action"] = "send"
            elif invitation_mail["status"] == "failed":
                decision["action"], decision["reason"] = "retry", f"earlier attempt failed: {invitation_mail['error']}"
            elif invitation_mail["status"] == "sending":
                decision["reason"] = "uncertain: an earlier run stopped while sending; check and resolve it"
            else:
                decision["reason"] = "invitation already sent"
            continue
        if person["completed"] or person["response_complete"]:
            decision["reason"] = "has completed"
            continue
        if uncertain:
            decision["reason"] = "uncertain: an earlier run stopped while sending; check and resolve it"
            continue
        if invitation_mail is None or invitation_mail["status"] != "sent":
            decision["reason"] = "no invitation sent yet"
            continue
        reminders = [m for m in own if m["kind"] == "reminder"]
        sent_reminders = [m for m in reminders if m["status"] == "sent"]
        if len(sent_reminders) >= max_reminders:
            decision["reason"] = f"reminded {len(sent_reminders)} time(s) already (max {max_reminders})"
            continue
        last = max(_parse_time(m["at"]) for m in own if m["status"] == "sent")
        days = (at - last).total_seconds() / 86400
        if days < min_days:
            decision["reason"] = f"last mail {days:.1f} day(s) ago (minimum {min_days})"
            continue
        step = len(sent_reminders) + 1
        decision["step"] = step
        failed = next((m for m in reminders if m["step"] == step and m["status"] == "failed"), None)
        if failed:
            decision["action"], decision["reason"] = "retry", f"earlier attempt failed: {failed['error']}"
        else:
            decision["action"] = "send"
    return decisions


# --- SMTP -----------------------------------------------------------------------------------------

class Mailer:
    """One SMTP connection for a batch, opened on first use; plain, STARTTLS or implicit TLS."""

    def __init__(self, settings: dict):
        self.host = settings.get("SMTP_HOST") or "localhost"
        self.port = int(settings.get("SMTP_PORT") or 25)
        self.user = settings.get("SMTP_USER") or ""
        self.password = settings.get("SMTP_PASSWORD") or ""
        self.tls = (settings.get("SMTP_TLS") or "none").lower()
        if self.tls not in ("none", "starttls", "ssl"):
            raise SurveyError(f"SURVEYAPP_SMTP_TLS must be none, starttls or ssl, not '{self.tls}'")
        self.sender = settings.get("MAIL_FROM") or "surveyapp@localhost"
        self.connection: smtplib.SMTP | None = None
        self.broken: str | None = None

    def connect(self) -> smtplib.SMTP:
        if self.connection is not None:
            return self.connection
        if self.broken:
            raise SMTPUnavailable(self.broken)
        try:
            context = ssl.create_default_context()
            if self.tls == "ssl":
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=SMTP_TIMEOUT, context=context)
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT)
                if self.tls == "starttls":
                    smtp.starttls(context=context)
            if self.user:
                smtp.login(self.user, self.password)
        except (OSError, smtplib.SMTPException) as error:
            self.broken = f"could not connect to SMTP server {self.host}:{self.port} ({self.tls}): {_reason(error)}"
            raise SMTPUnavailable(self.broken) from error
        self.connection = smtp
        return smtp

    def send(self, message: EmailMessage) -> None:
        smtp = self.connect()
        try:
            smtp.send_message(message)
        except smtplib.SMTPServerDisconnected:
            self.connection = None  # the next message reconnects
            raise

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self.connection = None


class SMTPUnavailable(Exception):
    pass


def _reason(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        parts = [f"{code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
                 for code, msg in error.recipients.values()]
        return "recipient refused: " + "; ".join(parts)
    if isinstance(error, (smtplib.SMTPResponseException,)):
        msg = error.smtp_error.decode(errors="replace") if isinstance(error.smtp_error, bytes) else str(error.smtp_error)
        return f"{error.smtp_code} {msg}"
    if isinstance(error, socket.timeout):
        return "timed out"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def build_message(sender: str, person: dict, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = formataddr(((person.get("name") or "").strip(), person["email"]))
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    domain = sender.rpartition("@")[2].strip(">") or "surveyapp.local"
    message["Message-ID"] = make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    return message


# --- Sending ----------------------------------------------------------------------------------

def send(db, round_ref, kind: str, settings: dict, secret: str, dry_run: bool = False, min_days: int = 3,
         max_reminders: int = 2, units: list[str] | None = None, actor: str = "cli",
         at: dt.datetime | None = None) -> dict:
    """Send invitations or reminders for a round; returns counts and the people in each outcome.

    dry_run: nothing is sent or stored; `would_send` lists who would be mailed."""
    round_ = get_round(db, round_ref)
    if round_["status"] == "closed":
        raise Conflict(f"round '{round_['name']}' is closed; nothing is sent")
    if round_["status"] != "open" and not dry_run:
        raise Conflict(f"round '{round_['name']}' is not open yet; open it before sending (a dry run works now)")
    decisions = plan(db, round_["id"], kind, min_days, max_reminders, units, at)
    to_send = [d for d in decisions if d["action"] in ("send", "retry")]
    result = {"round": round_["name"], "kind": kind, "dry_run": dry_run, "sent": 0, "failed": 0,
              "skipped": len(decisions) - len(to_send), "uncertain": sum(d["reason"].startswith("uncertain") for d in decisions),
              "would_send": [], "sent_to": [], "failed_rows": [], "skipped_rows": [d for d in decisions if d["action"] == "skip"]}
    if dry_run:
        result["would_send"] = to_send
        return result
    template = get_template(db, round_["id"], kind)
    mailer = Mailer(settings)
    base_url = settings.get("BASE_URL") or ""
    try:
        for decision in to_send:
            if not _claim(db, decision):
                result["skipped"] += 1  # another run took this mail between planning and now
                decision["reason"] = "taken by another run"
                result["skipped_rows"].append(decision)
                continue
            link = tokens.answer_url(base_url, tokens.make_token(secret, decision["invitation_id"]))
            subject, body = render(template, round_, decision, link)
            error = None
            try:
                mailer.send(build_message(mailer.sender, decision, subject, body))
            except SMTPUnavailable as unavailable:
                error = str(unavailable)
            except (OSError, smtplib.SMTPException) as failure:
                error = _reason(failure)
            _finish(db, decision, error)
            if error:
                result["failed"] += 1
                result["failed_rows"].append({**decision, "error": error})
            else:
                result["sent"] += 1
                result["sent_to"].append(decision)
    finally:
        mailer.close()
        if result["sent"] or result["failed"]:
            with transaction(db):
                audit.record(db, actor, f"mail.{kind}s_sent", round_["id"], sent=result["sent"], failed=result["failed"],
                             skipped=result["skipped"], units=units)
    return result


def _claim(db, decision: dict) -> bool:
    """Take the (invitation, kind, step) row for this run: insert 'sending', or turn 'failed' into 'sending'."""
    key = (decision["invitation_id"], decision["kind"], decision["step"])
    with transaction(db):
        if decision["action"] == "retry":
            cursor = db.execute("UPDATE mails SET status = 'sending', error = NULL, at = ? "
                                "WHERE invitation_id = ? AND kind = ? AND step = ? AND status = 'failed'", (db_now(), *key))
            return cursor.rowcount == 1
        try:
            db.execute("INSERT INTO mails (invitation_id, kind, step, status, at) VALUES (?, ?, ?, 'sending', ?)",
                       (*key, db_now()))
        except sqlite3.IntegrityError:
            return False
    return True


def _finish(db, decision: dict, error: str | None) -> None:
    with transaction(db):
        db.execute("UPDATE mails SET status = ?, error = ?, at = ? WHERE invitation_id = ? AND kind = ? AND step = ?",
                   ("failed" if error else "sent", error, db_now(), decision["invitation_id"], decision["kind"], decision["step"]))


def resolve_uncertain(db, mail_id: int, delivered: bool, actor: str = "cli") -> None:
    """A person decides about a mail left 'sending' by a crash: delivered (sent) or not (failed, retried next run)."""
    with transaction(db):
        row = db.execute("SELECT m.*, i.round_id FROM mails m JOIN invitations i ON i.id = m.invitation_id WHERE m.id = ?",
                         (mail_id,)).fetchone()
        if row is None or row["status"] != "sending":
            raise Conflict("that mail is not waiting for a decision")
        db.execute("UPDATE mails SET status = ?, error = ? WHERE id = ?",
                   ("sent" if delivered else "failed", None if delivered else f"marked not delivered by {actor}", mail_id))
        audit.record(db, actor, "mail.resolved", row["round_id"], mail=mail_id, delivered=delivered)


# --- The send log ---------------------------------------------------------------------------

def send_log(db, round_ref, units: list[str] | None = None) -> list[dict]:
    """Per respondent: invitation status (sent / failed with reason / uncertain), reminders sent."""
    round_ = get_round(db, round_ref)
    mails = _mails_by_invitation(db, round_["id"])
    rows = []
    for person in _people(db, round_["id"], units):
        own = mails.get(person["invitation_id"], [])
        invitation = next((m for m in own if m["kind"] == "invitation"), None)
        reminders = [m for m in own if m["kind"] == "reminder"]
        sent_reminders = [m for m in reminders if m["status"] == "sent"]
        problems = [m for m in own if m["status"] in ("failed", "sending")]
        rows.append({
            **person,
            "invitation_status": invitation["status"] if invitation else None,
            "invitation_at": invitation["at"] if invitation else None,
            "invitation_error": invitation["error"] if invitation else None,
            "reminders_sent": len(sent_reminders),
            "last_reminder_at": sent_reminders[-1]["at"] if sent_reminders else None,
            "failed": [m for m in problems if m["status"] == "failed"],
            "uncertain": [m for m in problems if m["status"] == "sending"],
        })
    return rows
