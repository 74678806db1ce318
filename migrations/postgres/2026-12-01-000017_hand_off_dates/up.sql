-- A hand-off's first sending and first answer (acceptance or decline), kept on the hand-off so
-- that the statistics grid (issue 17) reads no transition: it counts sent hand-offs and splits them
-- by answer delay. They are the MIN of its transitions' `at`, by definition: the triggers below
-- recompute them from the transitions whenever one is added, changed or removed, whatever wrote
-- it (the API, the seed's bulk insert, an operator), so they cannot drift from the rows. Inserts
-- and deletes fire statement triggers with transition tables: a bulk insert recomputes each
-- hand-off once.
ALTER TABLE hand_offs ADD COLUMN sent_at timestamp;
ALTER TABLE hand_offs ADD COLUMN answered_at timestamp;

-- The one definition of both dates, for the hand-offs `ids`.
CREATE FUNCTION hand_offs_recompute_dates_of(ids text[]) RETURNS void LANGUAGE sql AS $$
    UPDATE hand_offs h SET
        sent_at = (SELECT MIN(t.at) FROM hand_off_transitions t
                   WHERE t.hand_off_id = h.id AND t.to_status = 'sent'),
        answered_at = (SELECT MIN(t.at) FROM hand_off_transitions t
                       WHERE t.hand_off_id = h.id AND t.to_status IN ('accepted', 'declined'))
    WHERE h.id = ANY (ids);
$$;

CREATE FUNCTION hand_offs_recompute_dates() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hand_offs_recompute_dates_of(ARRAY(SELECT DISTINCT hand_off_id::text FROM changed_transitions));
    RETURN NULL;
END
$$;

-- An update of the columns the dates come from, row by row: no writer does it (transitions are
-- appended; retention only clears their free text, which must not fire this), and a row trigger
-- can name its columns where a statement trigger with transition tables cannot.
CREATE FUNCTION hand_offs_recompute_dates_of_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hand_offs_recompute_dates_of(ARRAY[OLD.hand_off_id::text, NEW.hand_off_id::text]);
    RETURN NULL;
END
$$;

SELECT hand_offs_recompute_dates_of(ARRAY(SELECT id::text FROM hand_offs));

CREATE TRIGGER hand_off_transitions_dates_insert AFTER INSERT ON hand_off_transitions
    REFERENCING NEW TABLE AS changed_transitions
    FOR EACH STATEMENT EXECUTE FUNCTION hand_offs_recompute_dates();
CREATE TRIGGER hand_off_transitions_dates_update
    AFTER UPDATE OF hand_off_id, to_status, at ON hand_off_transitions
    FOR EACH ROW EXECUTE FUNCTION hand_offs_recompute_dates_of_row();
CREATE TRIGGER hand_off_transitions_dates_delete AFTER DELETE ON hand_off_transitions
    REFERENCING OLD TABLE AS changed_transitions
    FOR EACH STATEMENT EXECUTE FUNCTION hand_offs_recompute_dates();

-- The grid's read of a situation's sent hand-offs, from the index alone.
CREATE INDEX hand_offs_sent ON hand_offs (situation_id, sent_at, status, result, partner_id, created_at, answered_at);
