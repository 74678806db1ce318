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
