-- The data keys a sealing pass completed for: `relais serve` runs the pass at start (sealing the
-- values of a database from before sealing, or moving values to a new active key) only when the
-- active key has no row here. `relais keys rotate` runs it on demand.
CREATE TABLE sealing_passes (
    key_id TEXT PRIMARY KEY,
    completed_at TIMESTAMP NOT NULL
);

-- Sealed values are longer than the text they hold (the key id, a nonce, a tag, base64): the
-- lengths are the domain's to check, before sealing.
ALTER TABLE beneficiaries ALTER COLUMN first_name TYPE text;
ALTER TABLE beneficiaries ALTER COLUMN last_name TYPE text;
ALTER TABLE beneficiaries ALTER COLUMN phone TYPE text;
