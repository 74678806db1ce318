-- A stored answer is never replayed as stored: a retry gets the record's current view for its
-- caller, through the access rules. So an idempotency key keeps what identifies the outcome
-- (its status and the record it concerns), not the answer: the stored bodies, which held
-- personal data (names, phones, messages), go, with the keys that held them (they only served
-- retries of the last hours; a retry after the upgrade is judged as a new request).
DELETE FROM idempotency_keys;
ALTER TABLE idempotency_keys DROP COLUMN response_body;
ALTER TABLE idempotency_keys ADD COLUMN record_id TEXT;
CREATE INDEX idempotency_keys_record ON idempotency_keys (record_id);
