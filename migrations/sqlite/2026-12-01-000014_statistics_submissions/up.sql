-- A post's statistics as submitted by its coordinator: a frozen copy of the grid for a period
-- (whole calendar months), versioned. Later changes to the cases never touch it; submitting
-- again adds the next version. `statistics` is the grid as answered (JSON), `differences` what
-- changed since the previous version (JSON, empty for version 1).
CREATE TABLE statistics_submissions (
    id TEXT PRIMARY KEY NOT NULL,
    post_id TEXT NOT NULL REFERENCES posts (id),
    grid TEXT NOT NULL,
    period_from DATE NOT NULL,
    period_to DATE NOT NULL,
    version BIGINT NOT NULL,
    submitted_at TIMESTAMP NOT NULL,
    submitted_by TEXT NOT NULL,
    statistics TEXT NOT NULL,
    differences TEXT NOT NULL,
    UNIQUE (post_id, grid, period_from, period_to, version)
);
-- The observatory reads the latest version of each post's submission for one period.
CREATE INDEX statistics_submissions_period ON statistics_submissions (grid, period_from, period_to, post_id, version);

-- Frozen: a submission is never changed, only followed by a new version.
CREATE TRIGGER statistics_submissions_frozen BEFORE UPDATE ON statistics_submissions
BEGIN
    SELECT RAISE(ABORT, 'statistics submissions are frozen (UPDATE refused)');
END;

-- National consolidation (the observatory's side). The instances whose exports are accepted,
-- each with the Ed25519 public key its documents must verify with.
CREATE TABLE statistics_instances (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    public_key TEXT NOT NULL,
    registered_at TIMESTAMP NOT NULL,
    registered_by TEXT NOT NULL
);

-- The posts' submissions read from verified documents: the sender's post id, name and
-- department as the document gave them, and the figures as JSON. A version is imported once;
-- importing the same document again changes nothing.
CREATE TABLE imported_submissions (
    id TEXT PRIMARY KEY NOT NULL,
    instance_id TEXT NOT NULL REFERENCES statistics_instances (id),
    post_id TEXT NOT NULL,
    post_name TEXT NOT NULL,
    department_code TEXT NOT NULL,
    grid TEXT NOT NULL,
    period_from DATE NOT NULL,
    period_to DATE NOT NULL,
    version BIGINT NOT NULL,
    submitted_at TIMESTAMP NOT NULL,
    statistics TEXT NOT NULL,
    imported_at TIMESTAMP NOT NULL,
    UNIQUE (instance_id, post_id, grid, period_from, period_to, version)
);
CREATE INDEX imported_submissions_period ON imported_submissions (grid, period_from, period_to, instance_id, post_id, version);
