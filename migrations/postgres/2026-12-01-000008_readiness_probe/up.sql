-- One row that the readiness probe rewrites: a real write and commit, so that a full disk, a
-- read-only filesystem or a lost file shows as "not ready" (a read alone would still succeed).
CREATE TABLE readiness_probe (
    id INTEGER PRIMARY KEY,
    checked_at TIMESTAMP NOT NULL
);
