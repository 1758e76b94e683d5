-- Operations: the wrong-token throttle shared by every server worker.
-- A client is a keyed hash of its remote address (no IP addresses are stored).
CREATE TABLE token_throttle (
    client TEXT PRIMARY KEY,
    window_start REAL NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    blocked_until REAL
);
