"""Helpers for the console tests: a populated round, accounts, logged-in clients and a real
SMTP server (aiosmtpd) on loopback that collects every delivered message."""
from __future__ import annotations

import contextlib
import email
import email.policy
import re
import textwrap
import time

from surveyapp import respondents, rounds, tokens, users
from surveyapp.db import connect, transaction
from surveyapp.questionnaire_store import register
from surveyapp.questionnaire import parse
from loopback import free_port

QUESTIONNAIRE_HEAD = textwrap.dedent("""\
    title: Trivsel i arbejdet
    language: da
    scales:
      grad4:
        options:
          - {code: 1, label: Slet ikke}
          - {code: 2, label: I mindre grad}
          - {code: 3, label: I nogen grad}
          - {code: 4, label: I høj grad}
        missing:
          - {code: 9, label: Ved ikke}
    sections:
    """)
SECTIONS = {"arbejde": ("Arbejdet", {"q1": "Jeg trives på arbejdet", "q2": "Jeg har de redskaber jeg skal bruge"}),
            "samarbejde": ("Samarbejde", {"q3": "Samarbejdet fungerer", "q4": "Ledelsen bakker op"})}


def questionnaire_yaml(qid: str = "console-test", sections: tuple[str, ...] = tuple(SECTIONS)) -> str:
    """The console tests' questionnaire (grad4 items, 'Ved ikke' missing) with the given sections, one page each."""
    lines = [f"id: {qid}", QUESTIONNAIRE_HEAD.rstrip("\n")]
    for section in sections:
        title, items = SECTIONS[section]
        lines += [f"  - id: {section}", f"    title: {title}", "    items:"]
        lines += [f"      - {{id: {item}, text: {text}, scale: grad4}}" for item, text in items.items()]
    return "\n".join(lines) + "\n"


FOUR_ITEMS = questionnaire_yaml()

SECRET = "test-secret-key-not-for-production"  # the same key tests/conftest.py sets
PASSWORDS = {"boss": "boss-password-1", "lead": "lead-password-1", "reader": "reader-password-1",
             "lead2": "lead2-password-1"}
ROLES = {"boss": ("admin", []), "lead": ("unit_lead", ["Horsens"]), "reader": ("evaluator", []),
         "lead2": ("unit_lead", ["Kolding"])}

# key, email, name, group, unit
PEOPLE = [
    ("hor-1", "anne@horsens.example", "Anne Hansen", "ledere", "Horsens"),
    ("hor-2", "bo@horsens.example", "Bo Berg", "medarbejdere", "Horsens"),
    ("hor-3", "carl@horsens.example", "Carl Dam", "medarbejdere", "Horsens"),
    ("kol-1", "dorte@kolding.example", "Dorte Ebbe", "ledere", "Kolding"),
    ("kol-2", "eva@kolding.example", "Eva Fisk", "medarbejdere", "Kolding"),
]


def load_questionnaire(db, text: str = FOUR_ITEMS) -> str:
    q = parse(text, "console-test.yaml")
    result = register(db, q, text, "console-test.yaml", actor="test")
    return result["questionnaire"]


def build_round(db, secret: str, name: str = "Marts 2015", people=PEOPLE, open_it: bool = True, project: str = "proj") -> int:
    """A round with groups ledere/medarbejdere on the four-item questionnaire and the given people."""
    qid = "console-test"
    if not db.execute("SELECT 1 FROM questionnaires WHERE id = ?", (qid,)).fetchone():
        load_questionnaire(db)
    round_id = rounds.create_round(db, name, {"ledere": qid, "medarbejdere": qid}, project, "2015-03-02", "2015-03-27",
                                   partial_threshold=0.5, actor="test")
    round_ = rounds.get_round(db, round_id)
    with transaction(db):
        for key, mail_, person_name, group, unit in people:
            respondents.add_invitation(db, round_, {"key": key, "email": mail_, "name": person_name, "group": group,
                                                    "unit": unit}, secret)
    if open_it:
        rounds.open_round(db, round_id, actor="test")
    return round_id


def make_users(db) -> None:
    for username, (role, units) in ROLES.items():
        users.create_user(db, username, PASSWORDS[username], role, units, actor="test")


def round_id_of(db, name: str = "Marts 2015") -> int:
    """The id of the round build_round made (the shared fixture round by default)."""
    return db.execute("SELECT id FROM rounds WHERE name = ?", (name,)).fetchone()[0]


def invitation_id(db, round_id: int, key: str) -> int:
    return db.execute("SELECT i.id FROM invitations i JOIN people p ON p.id = i.person_id WHERE i.round_id = ? AND p.key = ?",
                      (round_id, key)).fetchone()[0]


def token_for(secret: str, db, round_id: int, key: str) -> str:
    return tokens.make_token(secret, invitation_id(db, round_id, key))



# --- a real SMTP server on loopback ------------------------------------------------------------

class Collector:
    """aiosmtpd handler: keeps every delivered message; refuses recipients containing 'refuse'."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if "refuse" in address:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"


class SMTPServer:
    def __init__(self, controller, handler):
        self.controller, self.handler = controller, handler
        self.port = controller.port

    @property
    def messages(self):
        return self.handler.messages

    def recipients(self) -> list[str]:
        return [rcpt for _, rcpts in self.handler.envelopes for rcpt in rcpts]




@contextlib.contextmanager
def running_smtp_server(**options):
    """A real SMTP server (aiosmtpd) on a free loopback port while the block runs; `options` go to
    aiosmtpd's Controller (TLS contexts, an authenticator)."""
    from aiosmtpd.controller import Controller

    handler = Collector()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    try:
        yield SMTPServer(controller, handler)
    finally:
        controller.stop()



def smtp_settings(server, base_url: str = "http://testserver") -> dict:
    return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": server.port, "SMTP_TLS": "none", "SMTP_USER": "", "SMTP_PASSWORD": "",
            "MAIL_FROM": "Projektledelsen <survey@example.dk>", "BASE_URL": base_url}


LINK_RE = re.compile(r"https?://\S+/s/[A-Za-z0-9_-]+")


def body_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")


def link_in(message) -> str:
    found = LINK_RE.findall(body_of(message))
    assert len(found) == 1, body_of(message)
    return found[0]


def login(client, db_path, username: str) -> None:
    """Log a test client in as `username` (the session a successful /login creates)."""
    db = connect(db_path)
    user_id = db.execute("SELECT id FROM users WHERE username = ?", (username,)).fetchone()[0]
    stamp = users.session_stamp(db, user_id)
    db.conn.close()
    with client.session_transaction() as session:
        session["user_id"] = user_id
        session["stamp"] = stamp
        session["login_at"] = int(time.time())
