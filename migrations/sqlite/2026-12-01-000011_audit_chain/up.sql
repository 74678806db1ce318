-- The audit trail's MAC chain (persistence/src/audit_chain.rs; README, "Audit trail"). Each event
-- gets its position in the chain (the order of the commits), the MAC that chains it to the
-- event before it, and the id of the audit key that made the MAC. The key itself is never here.
ALTER TABLE audit_events ADD COLUMN position BIGINT;
ALTER TABLE audit_events ADD COLUMN mac TEXT;
ALTER TABLE audit_events ADD COLUMN key_id TEXT;
CREATE UNIQUE INDEX audit_events_position ON audit_events (position);

-- The events recorded before this migration are numbered in id order (UUID v7: time order) and
-- get no MAC: SQL has no key. The first write to the chain after the upgrade, which holds the
-- key, computes their chain and seals it in the genesis checkpoint; from then on an edit,
-- removal or insertion among them is detected there.
DROP TRIGGER audit_events_no_update;
UPDATE audit_events SET position = numbered.position
FROM (SELECT id, row_number() OVER (ORDER BY id) AS position FROM audit_events) AS numbered
WHERE audit_events.id = numbered.id;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only (UPDATE refused)');
END;

-- The head of the chain, one row: the last event's position and MAC, signed with the audit key
-- (so that it cannot be moved back over removed events without the key). SQLite has a single
-- writer: positions follow the commits. `mac` is NULL until the genesis is sealed.
CREATE TABLE audit_chain (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    position BIGINT NOT NULL,
    mac TEXT,
    key_id TEXT,
    signature TEXT,
    updated_at TIMESTAMP NOT NULL
);
INSERT INTO audit_chain (id, position, updated_at)
SELECT 1, COUNT(*), strftime('%Y-%m-%d %H:%M:%f', 'now') FROM audit_events;

-- Signed statements "the event at `position` has MAC `mac`": where the chain begins (genesis),
-- where the retention purge cut it (purge: the last event deleted), and the head when the purge
-- ran (head), which `relais audit verify --from DATE` starts from.
CREATE TABLE audit_checkpoints (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('genesis', 'purge', 'head')),
    position BIGINT NOT NULL,
    mac TEXT NOT NULL,
    -- genesis: the events sealed; purge: the events deleted; head: 0.
    events BIGINT NOT NULL,
    at TIMESTAMP NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL
);
CREATE INDEX audit_checkpoints_position ON audit_checkpoints (position);

CREATE TRIGGER audit_chain_no_delete BEFORE DELETE ON audit_chain
BEGIN
    SELECT RAISE(ABORT, 'the audit chain''s head is kept (DELETE refused)');
END;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit checkpoints are kept (UPDATE refused)');
END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit checkpoints are kept (DELETE refused)');
END;
