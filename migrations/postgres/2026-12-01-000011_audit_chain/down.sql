DROP TABLE audit_checkpoints;
DROP TABLE audit_chain;
DROP FUNCTION audit_chain_kept();
DROP INDEX audit_events_position;
ALTER TABLE audit_events DROP COLUMN key_id;
ALTER TABLE audit_events DROP COLUMN mac;
ALTER TABLE audit_events DROP COLUMN position;
