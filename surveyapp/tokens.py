"""Personal answer links.

A token is an HMAC of the invitation id under the secret key (256 bits), so every mail can
rebuild the same link, while the database stores only a SHA-256 hash of it. Anonymous
responses are found by a second keyed hash of the token that nothing stored ties to the
invitation.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re


def make_token(secret: str, invitation_id: int) -> str:
    digest = hmac.new(secret.encode(), f"invitation:{invitation_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def anonymous_key(secret: str, token: str) -> str:
    return hmac.new(secret.encode(), f"anonymous:{token}".encode(), hashlib.sha256).hexdigest()


_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{40,64}")  # base64url without padding (make_token gives 43)


def looks_like_token(token: str) -> bool:
    return _TOKEN_SHAPE.fullmatch(token) is not None


# The invitation as both look-ups give it: its row and the round fields the answer pages need.
_INVITATION_COLUMNS = "i.*, r.status AS round_status, r.anonymous, r.name AS round_name"


def _issued(db, secret: str, token: str, sql: str):
    """(cursor, first row) of `sql` run with the token's hash, or None for a malformed or
    unknown token, or one not issued under this key (compared in constant time)."""
    if not looks_like_token(token):
        return None
    cursor = db.execute(sql, (token_hash(token),))
    row = cursor.fetchone()
    # The hash lookup finds the row; the HMAC check proves the token was issued by this key.
    if row is None or not hmac.compare_digest(make_token(secret, row["id"]), token):
        return None
    return cursor, row


def find_invitation(db, secret: str, token: str) -> dict | None:
    """The invitation a presented token belongs to, or None. Compared in constant time."""
    found = _issued(db, secret, token, f"SELECT {_INVITATION_COLUMNS} FROM invitations i "
                                       "JOIN rounds r ON r.id = i.round_id WHERE i.token_hash = ?")
    return None if found is None else dict(found[1])


def answer_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/s/{token}"


_VISIT_SQL = (
    f"SELECT {_INVITATION_COLUMNS}, 0 AS __round__, r.*, "
    "0 AS __response__, s.*, 0 AS __person__, p.id, p.name, p.language, v.sha256 "
    "FROM invitations i JOIN rounds r ON r.id = i.round_id "
    "LEFT JOIN people p ON p.id = i.person_id "
    # A personal round's response hangs on the invitation; an anonymous one is found by its keyed
    # hash only (responses.find_response), never joined to the invitation.
    "LEFT JOIN responses s ON s.invitation_id = i.id AND r.anonymous = 0 "
    # The hash from a small index, not from the version's row (which holds the whole YAML).
    "LEFT JOIN questionnaire_versions v INDEXED BY questionnaire_versions_id_sha256 "
    "ON v.id = s.questionnaire_version_id "
    "WHERE i.token_hash = ?"
)
NO_RESPONSE_LOOKED_UP = object()


def find_visit(db, secret: str, token: str) -> dict | None:
    """Everything an answer page needs about a link in one query: {"invitation" (as
    find_invitation returns it), "round" (the rounds row), "person" ({"name", "language"} or
    None), "response" (the responses row, None, or NO_RESPONSE_LOOKED_UP for an anonymous round,
    whose response only responses.find_response may look up), "questionnaire_sha256" (of the
    response's questionnaire version, for questionnaire_store.get_version; None without a
    response looked up)}, or None for an unknown or forged token. Compared in constant time, like find_invitation."""
    found = _issued(db, secret, token, _VISIT_SQL)
    if found is None:
        return None
    cursor, row = found
    names = [d[0] for d in cursor.description]
    values = tuple(row)
    r_at, s_at, p_at = names.index("__round__"), names.index("__response__"), names.index("__person__")
    invitation = dict(zip(names[:r_at], values[:r_at]))
    round_ = dict(zip(names[r_at + 1:s_at], values[r_at + 1:s_at]))
    response = dict(zip(names[s_at + 1:p_at], values[s_at + 1:p_at]))
    if invitation["anonymous"]:
        response = NO_RESPONSE_LOOKED_UP
    elif response.get("id") is None:
        response = None
    person = None if values[p_at + 1] is None else {"name": values[p_at + 2], "language": values[p_at + 3]}
    return {"invitation": invitation, "round": round_, "response": response, "person": person,
            "questionnaire_sha256": values[p_at + 4]}
