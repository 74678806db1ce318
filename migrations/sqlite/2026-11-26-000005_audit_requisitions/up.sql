-- The audit trail of accesses to personal data. No foreign keys: the trail outlives the records
-- it names (anonymisation, erasure) and must never block them.
CREATE TABLE audit_events (
    id TEXT PRIMARY KEY NOT NULL,
    at TIMESTAMP NOT NULL,
    subject TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    record_type TEXT,
    record_id TEXT,
    post_id TEXT,
    beneficiary_id TEXT,
    outcome TEXT NOT NULL,
    status INTEGER NOT NULL
);
CREATE INDEX audit_events_post ON audit_events (post_id, id);
CREATE INDEX audit_events_beneficiary ON audit_events (beneficiary_id, id);
CREATE INDEX audit_events_record ON audit_events (record_id, id);
CREATE INDEX audit_events_at ON audit_events (at);

-- Append-only: no update ever, and no delete of an event younger than 180 days (the shortest
-- retention the configuration accepts). Timestamps are stored as 'YYYY-MM-DD HH:MM:SS…' UTC.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only (UPDATE refused)');
END;
CREATE TRIGGER audit_events_no_early_delete BEFORE DELETE ON audit_events
WHEN OLD.at >= datetime('now', '-180 days')
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only (DELETE refused)');
END;

-- Judicial requisitions (CPP 60-1 / 77-1-1) and their approval.
CREATE TABLE requisitions (
    id TEXT PRIMARY KEY NOT NULL,
    post_id TEXT NOT NULL REFERENCES posts (id),
    beneficiary_id TEXT NOT NULL REFERENCES beneficiaries (id),
    legal_basis TEXT NOT NULL,
    procedure_reference TEXT NOT NULL,
    requesting_authority TEXT NOT NULL,
    requesting_unit_id TEXT REFERENCES units (id),
    received_on DATE NOT NULL,
    status TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    decided_by TEXT,
    decided_at TIMESTAMP,
    decision_note TEXT,
    produced_by TEXT,
    produced_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL
);
CREATE INDEX requisitions_post ON requisitions (post_id, id);
CREATE INDEX requisitions_beneficiary ON requisitions (beneficiary_id);
