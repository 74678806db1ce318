-- The data keys a sealing pass completed for: `relais serve` runs the pass at start (sealing the
-- values of a database from before sealing, or moving values to a new active key) only when the
-- active key has no row here. `relais keys rotate` runs it on demand.
CREATE TABLE sealing_passes (
    key_id TEXT PRIMARY KEY,
    completed_at TIMESTAMP NOT NULL
);
