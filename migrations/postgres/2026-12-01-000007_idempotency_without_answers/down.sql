DROP INDEX idempotency_keys_record;
ALTER TABLE idempotency_keys DROP COLUMN record_id;
ALTER TABLE idempotency_keys ADD COLUMN response_body TEXT NOT NULL DEFAULT '';
