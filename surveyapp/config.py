"""Settings from the environment (twelve-factor) and the instance folder."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from .db import default_db_path, row_id
from .errors import SurveyError

ENV_SETTINGS = {
    "BASE_URL": ("SURVEYAPP_BASE_URL", "http://127.0.0.1:5000"),
    "SMTP_HOST": ("SURVEYAPP_SMTP_HOST", "localhost"),
    "SMTP_PORT": ("SURVEYAPP_SMTP_PORT", "25"),
    "SMTP_USER": ("SURVEYAPP_SMTP_USER", ""),
    "SMTP_PASSWORD": ("SURVEYAPP_SMTP_PASSWORD", ""),
    "SMTP_TLS": ("SURVEYAPP_SMTP_TLS", "none"),
    "MAIL_FROM": ("SURVEYAPP_MAIL_FROM", "surveyapp@localhost"),
}


def secret_key(db_path: str | os.PathLike | None = None) -> str:
    """SURVEYAPP_SECRET_KEY, else a key kept in `secret_key` beside the database (made once).

    Personal links are derived from this key: changing it invalidates every link sent.
    """
    from_env = os.environ.get("SURVEYAPP_SECRET_KEY")
    if from_env:
        return from_env
    path = Path(db_path or default_db_path()).resolve().parent / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def settings(db_path: str | os.PathLike | None = None) -> dict:
    """Every setting the app and the CLI use, read once."""
    values = {name: os.environ.get(var, default) for name, (var, default) in ENV_SETTINGS.items()}
    port = row_id(values["SMTP_PORT"])  # a whole number in ASCII digits, or None
    if port is None or not 0 < port < 65536:
        raise SurveyError(f"SURVEYAPP_SMTP_PORT must be a port number (1-65535), not '{values['SMTP_PORT']}'")
    values["SMTP_PORT"] = port
    values["BASE_URL"] = values["BASE_URL"].rstrip("/")
    values["DATABASE"] = str(Path(db_path or default_db_path()).resolve())
    values["SECRET_KEY"] = secret_key(values["DATABASE"])
    return values
