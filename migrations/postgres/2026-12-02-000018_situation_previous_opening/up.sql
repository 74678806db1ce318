-- The opening date of the same person's situation just before this one (by opening date, then
-- id), NULL for their first: kept on the situation so that the statistics grid (issue 17) finds
-- each person's first situation of a period with a filter (`previous_opened_on IS NULL OR
-- previous_opened_on < from`) instead of a sort of the period's situations. It is a function of
-- the rows alone: the triggers below recompute it for every situation of the person whenever one
-- of theirs is added, moved in time, moved to another person or removed, whatever wrote it (the
-- API, the seed's bulk insert, an operator), so it cannot drift from them. Inserts and deletes
-- fire statement triggers with transition tables: a bulk insert recomputes each person once.
-- Ids are ordered bytewise (`COLLATE "C"`), as SQLite orders them.
ALTER TABLE situations ADD COLUMN previous_opened_on date;

-- The one definition, for the situations of the persons `persons`.
CREATE FUNCTION situations_recompute_previous_of(persons text[]) RETURNS void LANGUAGE sql AS $$
    UPDATE situations s SET previous_opened_on = r.previous
    FROM (SELECT id, LAG(opened_on) OVER (PARTITION BY beneficiary_id ORDER BY opened_on, id COLLATE "C") AS previous
          FROM situations WHERE beneficiary_id = ANY (persons)) r
    WHERE s.id = r.id AND s.previous_opened_on IS DISTINCT FROM r.previous;
$$;

CREATE FUNCTION situations_recompute_previous() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM situations_recompute_previous_of(ARRAY(SELECT DISTINCT beneficiary_id::text FROM changed_situations));
    RETURN NULL;
END
$$;

-- An update of the columns it comes from, row by row (a row trigger can name its columns where a
-- statement trigger with transition tables cannot): its own update of `previous_opened_on` does
-- not fire it again.
CREATE FUNCTION situations_recompute_previous_of_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM situations_recompute_previous_of(ARRAY[OLD.beneficiary_id::text, NEW.beneficiary_id::text]);
    RETURN NULL;
END
$$;

SELECT situations_recompute_previous_of(ARRAY(SELECT DISTINCT beneficiary_id::text FROM situations));

CREATE TRIGGER situations_previous_insert AFTER INSERT ON situations
    REFERENCING NEW TABLE AS changed_situations
    FOR EACH STATEMENT EXECUTE FUNCTION situations_recompute_previous();
CREATE TRIGGER situations_previous_update AFTER UPDATE OF opened_on, beneficiary_id ON situations
    FOR EACH ROW EXECUTE FUNCTION situations_recompute_previous_of_row();
CREATE TRIGGER situations_previous_delete AFTER DELETE ON situations
    REFERENCING OLD TABLE AS changed_situations
    FOR EACH STATEMENT EXECUTE FUNCTION situations_recompute_previous();
