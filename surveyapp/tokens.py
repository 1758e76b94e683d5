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


def make_token(secret: str, invitation_id: int) -> str:
    digest = hmac.new(secret.encode(), f"invitation:{invitation_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def anonymous_key(secret: str, token: str) -> str:
    return hmac.new(secret.encode(), f"anonymous:{token}".encode(), hashlib.sha256).hexdigest()


def looks_like_token(token: str) -> bool:
    return 40 <= len(token) <= 64 and all(c.isalnum() or c in "-_" for c in token)


def find_invitation(db, secret: str, token: str) -> dict | None:
    """The invitation a presented token belongs to, or None. Compared in constant time."""
    if not looks_like_token(token):
        return None
    row = db.execute(
        "SELECT i.*, r.status AS round_status, r.anonymous, r.name AS round_name FROM invitations i "
        "JOIN rounds r ON r.id = i.round_id WHERE i.token_hash = ?",
        (token_hash(token),),
    ).fetchone()
    if row is None:
        return None
    # The hash lookup finds the row; the HMAC check proves the token was issued by this key.
    if not hmac.compare_digest(make_token(secret, row["id"]), token):
        return None
    return dict(row)


def answer_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/s/{token}"
