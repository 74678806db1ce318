-- A hand-off's first sending and first answer (acceptance or decline), kept on the hand-off so
-- that the statistics grid (issue 17) reads no transition: it counts sent hand-offs and splits them
-- by answer delay. They are the MIN of its transitions' `at`, by definition: the triggers below
-- recompute them from the transitions whenever one is added, changed or removed, whatever wrote
-- it (the API, the seed's bulk insert, retention), so they cannot drift from the rows.
ALTER TABLE hand_offs ADD COLUMN sent_at TIMESTAMP;
ALTER TABLE hand_offs ADD COLUMN answered_at TIMESTAMP;

UPDATE hand_offs SET
    sent_at = (SELECT MIN(t.at) FROM hand_off_transitions t
               WHERE t.hand_off_id = hand_offs.id AND t.to_status = 'sent'),
    answered_at = (SELECT MIN(t.at) FROM hand_off_transitions t
                   WHERE t.hand_off_id = hand_offs.id AND t.to_status IN ('accepted', 'declined'));

CREATE TRIGGER hand_off_transitions_dates_insert AFTER INSERT ON hand_off_transitions
BEGIN
    UPDATE hand_offs SET
        sent_at = (SELECT MIN(t.at) FROM hand_off_transitions t
                   WHERE t.hand_off_id = hand_offs.id AND t.to_status = 'sent'),
        answered_at = (SELECT MIN(t.at) FROM hand_off_transitions t
                       WHERE t.hand_off_id = hand_offs.id AND t.to_status IN ('accepted', 'declined'))
    WHERE id = NEW.hand_off_id;
END;

CREATE TRIGGER hand_off_transitions_dates_update AFTER UPDATE OF hand_off_id, to_status, at ON hand_off_transitions
BEGIN
    UPDATE hand_offs SET
        sent_at = (SELECT MIN(t.at) FROM hand_off_transitions t
                   WHERE t.hand_off_id = hand_offs.id AND t.to_status = 'sent'),
        answered_at = (SELECT MIN(t.at) FROM hand_off_transitions t
                       WHERE t.hand_off_id = hand_offs.id AND t.to_status IN ('accepted', 'declined'))
    WHERE id IN (OLD.hand_off_id, NEW.hand_off_id);
END;

CREATE TRIGGER hand_off_transitions_dates_delete AFTER DELETE ON hand_off_transitions
BEGIN
    UPDATE hand_offs SET
        sent_at = (SELECT MIN(t.at) FROM hand_off_transitions t
                   WHERE t.hand_off_id = hand_offs.id AND t.to_status = 'sent'),
        answered_at = (SELECT MIN(t.at) FROM hand_off_transitions t
                       WHERE t.hand_off_id = hand_offs.id AND t.to_status IN ('accepted', 'declined'))
    WHERE id = OLD.hand_off_id;
END;

-- The grid's read of a situation's sent hand-offs, from the index alone.
CREATE INDEX hand_offs_sent ON hand_offs (situation_id, sent_at, status, result, partner_id, created_at, answered_at);
