-- The console: look-ups for login throttling and the send log.
CREATE INDEX IF NOT EXISTS login_attempts_lookup ON login_attempts(username, remote_addr, at);
CREATE INDEX IF NOT EXISTS login_attempts_addr ON login_attempts(remote_addr, at);
CREATE INDEX IF NOT EXISTS mails_invitation ON mails(invitation_id, kind, step);
CREATE INDEX IF NOT EXISTS audit_log_round ON audit_log(round_id, id);
