-- A post's statistics as submitted by its coordinator: a frozen copy of the grid for a period
-- (whole calendar months), versioned. Later changes to the cases never touch it; submitting
-- again adds the next version. `statistics` is the grid as answered (JSON), `differences` what
-- changed since the previous version (JSON, empty for version 1).
CREATE TABLE statistics_submissions (
    id relais_id PRIMARY KEY,
    post_id relais_id NOT NULL REFERENCES posts (id),
    grid text NOT NULL,
    period_from date NOT NULL,
    period_to date NOT NULL,
    version bigint NOT NULL,
    submitted_at timestamp NOT NULL,
    submitted_by text NOT NULL,
    statistics text NOT NULL,
    differences text NOT NULL,
    UNIQUE (post_id, grid, period_from, period_to, version)
);
-- The observatory reads the latest version of each post's submission for one period.
CREATE INDEX statistics_submissions_period ON statistics_submissions (grid, period_from, period_to, post_id, version);

-- Frozen: a submission is never changed, only followed by a new version.
CREATE FUNCTION statistics_submissions_frozen() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'statistics submissions are frozen (UPDATE refused)';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER statistics_submissions_frozen BEFORE UPDATE ON statistics_submissions
FOR EACH ROW EXECUTE FUNCTION statistics_submissions_frozen();

-- National consolidation (the observatory's side). The instances whose exports are accepted,
-- each with the Ed25519 public key its documents must verify with.
CREATE TABLE statistics_instances (
    id text PRIMARY KEY,
    name text NOT NULL,
    public_key text NOT NULL,
    registered_at timestamp NOT NULL,
    registered_by text NOT NULL
);

-- The posts' submissions read from verified documents: the sender's post id, name and
-- department as the document gave them, and the figures as JSON. A version is imported once;
-- importing the same document again changes nothing.
CREATE TABLE imported_submissions (
    id relais_id PRIMARY KEY,
    instance_id text NOT NULL REFERENCES statistics_instances (id),
    post_id text NOT NULL,
    post_name text NOT NULL,
    department_code text NOT NULL,
    grid text NOT NULL,
    period_from date NOT NULL,
    period_to date NOT NULL,
    version bigint NOT NULL,
    submitted_at timestamp NOT NULL,
    statistics text NOT NULL,
    imported_at timestamp NOT NULL,
    UNIQUE (instance_id, post_id, grid, period_from, period_to, version)
);
CREATE INDEX imported_submissions_period ON imported_submissions (grid, period_from, period_to, instance_id, post_id, version);
