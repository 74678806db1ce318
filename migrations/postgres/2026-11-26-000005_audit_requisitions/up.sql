-- The audit trail of accesses to personal data. No foreign keys: the trail outlives the records
-- it names (anonymisation, erasure) and must never block them.
CREATE TABLE audit_events (
    id relais_id PRIMARY KEY,
    at timestamp NOT NULL,
    subject text NOT NULL,
    role text NOT NULL,
    action text NOT NULL,
    record_type text,
    record_id text,
    post_id text,
    beneficiary_id text,
    outcome text NOT NULL,
    status integer NOT NULL
);
CREATE INDEX audit_events_post ON audit_events (post_id, id);
CREATE INDEX audit_events_beneficiary ON audit_events (beneficiary_id, id);
CREATE INDEX audit_events_record ON audit_events (record_id, id);
CREATE INDEX audit_events_at ON audit_events (at);

-- Append-only, whatever the SQL: no update ever, no truncate, and no delete of an event younger
-- than 180 days (the shortest retention the configuration accepts). The retention job deletes
-- only older events.
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.at < (now() AT TIME ZONE 'UTC') - interval '180 days' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_early_delete BEFORE DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- Judicial requisitions (CPP 60-1 / 77-1-1) and their approval.
CREATE TABLE requisitions (
    id relais_id PRIMARY KEY,
    post_id relais_id NOT NULL REFERENCES posts (id),
    beneficiary_id relais_id NOT NULL REFERENCES beneficiaries (id),
    legal_basis text NOT NULL,
    procedure_reference text NOT NULL,
    requesting_authority text NOT NULL,
    requesting_unit_id relais_id REFERENCES units (id),
    received_on date NOT NULL,
    status text NOT NULL,
    recorded_by text NOT NULL,
    decided_by text,
    decided_at timestamp,
    decision_note text,
    produced_by text,
    produced_at timestamp,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    version bigint NOT NULL
);
CREATE INDEX requisitions_post ON requisitions (post_id, id);
CREATE INDEX requisitions_beneficiary ON requisitions (beneficiary_id);
