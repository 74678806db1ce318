-- The audit trail's MAC chain (persistence/src/audit_chain.rs; README, "Audit trail"). Each event
-- gets its position in the chain (the order of the commits), the MAC that chains it to the
-- event before it, and the id of the audit key that made the MAC. The key itself is never here.
ALTER TABLE audit_events ADD COLUMN position bigint;
ALTER TABLE audit_events ADD COLUMN mac text;
ALTER TABLE audit_events ADD COLUMN key_id text;
CREATE UNIQUE INDEX audit_events_position ON audit_events (position);

-- The events recorded before this migration are numbered in id order (UUID v7: time order) and
-- get no MAC: SQL has no key. The first write to the chain after the upgrade, which holds the
-- key, computes their chain and seals it in the genesis checkpoint; from then on an edit,
-- removal or insertion among them is detected there.
ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update;
UPDATE audit_events SET position = numbered.position
FROM (SELECT id, row_number() OVER (ORDER BY id) AS position FROM audit_events) AS numbered
WHERE audit_events.id = numbered.id;
ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update;

-- The head of the chain, one row: the last event's position and MAC, signed with the audit key
-- (so that it cannot be moved back over removed events without the key). A transaction that
-- appends events locks it (FOR UPDATE) until it commits: positions follow the commits.
-- `mac` is NULL until the genesis is sealed.
CREATE TABLE audit_chain (
    id integer PRIMARY KEY CHECK (id = 1),
    position bigint NOT NULL,
    mac text,
    key_id text,
    signature text,
    updated_at timestamp NOT NULL
);
INSERT INTO audit_chain (id, position, updated_at)
SELECT 1, COUNT(*), now() AT TIME ZONE 'UTC' FROM audit_events;

-- Signed statements "the event at `position` has MAC `mac`": where the chain begins (genesis),
-- where the retention purge cut it (purge: the last event deleted), and the head when the purge
-- ran (head), which `relais audit verify --from DATE` starts from.
CREATE TABLE audit_checkpoints (
    id relais_id PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('genesis', 'purge', 'head')),
    position bigint NOT NULL,
    mac text NOT NULL,
    -- genesis: the events sealed; purge: the events deleted; head: 0.
    events bigint NOT NULL,
    at timestamp NOT NULL,
    key_id text NOT NULL,
    signature text NOT NULL
);
CREATE INDEX audit_checkpoints_position ON audit_checkpoints (position);

CREATE FUNCTION audit_chain_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit chain''s head and checkpoints are kept (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_chain_no_delete BEFORE DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION audit_chain_kept();
CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION audit_chain_kept();
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_chain_kept();
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_chain_kept();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_chain_kept();
