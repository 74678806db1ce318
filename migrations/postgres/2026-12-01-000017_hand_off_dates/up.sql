-- A hand-off's first sending and first answer (acceptance or decline), kept on the hand-off so
-- that the statistics grid (issue 17) reads no transition: it counts sent hand-offs and splits them
-- by answer delay. They are the MIN of its transitions' `at`, by definition: the triggers below
-- recompute them from the transitions whenever one is added, changed or removed, whatever wrote
-- it (the API, the seed's bulk insert, retention), so they cannot drift from the rows. Statement
-- triggers with transition tables: a bulk insert recomputes each hand-off once.
ALTER TABLE hand_offs ADD COLUMN sent_at timestamp;
ALTER TABLE hand_offs ADD COLUMN answered_at timestamp;

CREATE FUNCTION hand_offs_recompute_dates() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE hand_offs h SET
        sent_at = (SELECT MIN(t.at) FROM hand_off_transitions t
                   WHERE t.hand_off_id = h.id AND t.to_status = 'sent'),
        answered_at = (SELECT MIN(t.at) FROM hand_off_transitions t
                       WHERE t.hand_off_id = h.id AND t.to_status IN ('accepted', 'declined'))
    WHERE h.id IN (SELECT hand_off_id FROM changed_transitions);
    RETURN NULL;
END
$$;

UPDATE hand_offs h SET
    sent_at = (SELECT MIN(t.at) FROM hand_off_transitions t
               WHERE t.hand_off_id = h.id AND t.to_status = 'sent'),
    answered_at = (SELECT MIN(t.at) FROM hand_off_transitions t
                   WHERE t.hand_off_id = h.id AND t.to_status IN ('accepted', 'declined'));

CREATE TRIGGER hand_off_transitions_dates_insert AFTER INSERT ON hand_off_transitions
    REFERENCING NEW TABLE AS changed_transitions
    FOR EACH STATEMENT EXECUTE FUNCTION hand_offs_recompute_dates();
-- Before and after an update, in case one moved a transition to another hand-off.
CREATE TRIGGER hand_off_transitions_dates_update_old AFTER UPDATE ON hand_off_transitions
    REFERENCING OLD TABLE AS changed_transitions
    FOR EACH STATEMENT EXECUTE FUNCTION hand_offs_recompute_dates();
CREATE TRIGGER hand_off_transitions_dates_update_new AFTER UPDATE ON hand_off_transitions
    REFERENCING NEW TABLE AS changed_transitions
    FOR EACH STATEMENT EXECUTE FUNCTION hand_offs_recompute_dates();
CREATE TRIGGER hand_off_transitions_dates_delete AFTER DELETE ON hand_off_transitions
    REFERENCING OLD TABLE AS changed_transitions
    FOR EACH STATEMENT EXECUTE FUNCTION hand_offs_recompute_dates();

-- The grid's read of a situation's sent hand-offs, from the index alone.
CREATE INDEX hand_offs_sent ON hand_offs (situation_id, sent_at, status, result, partner_id, created_at, answered_at);
