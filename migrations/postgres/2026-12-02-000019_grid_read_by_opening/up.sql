-- Two more values the statistics grid (issue 17) reads on the rows it already reads, kept by the
-- database so that it reads no other table. Both are functions of other rows alone: the triggers
-- below recompute them whenever those rows change, whatever wrote them (the API, the seed's bulk
-- insert, an operator), so they cannot drift from them; a recount test proves it.
--
-- `situations.problems`: the situation's problems (`situation_problems`), their codes in bytewise
-- order (`COLLATE "C"`, as SQLite orders them) joined by commas; NULL for none. The grid counts
-- situations by problem from the row it reads for every other split, not from a join to every
-- problem of the period. Inserts and deletes fire statement triggers with transition tables: a
-- bulk insert recomputes each situation once.
ALTER TABLE situations ADD COLUMN problems text;

-- The one definition, for the situations `ids`.
CREATE FUNCTION situations_recompute_problems_of(ids text[]) RETURNS void LANGUAGE sql AS $$
    UPDATE situations s SET problems = r.problems
    FROM (SELECT s2.id, (SELECT string_agg(sp.problem::text, ',' ORDER BY sp.problem::text COLLATE "C")
                         FROM situation_problems sp WHERE sp.situation_id = s2.id) AS problems
          FROM situations s2 WHERE s2.id = ANY (ids)) r
    WHERE s.id = r.id AND s.problems IS DISTINCT FROM r.problems;
$$;

CREATE FUNCTION situations_recompute_problems() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM situations_recompute_problems_of(ARRAY(SELECT DISTINCT situation_id::text FROM changed_problems));
    RETURN NULL;
END
$$;

-- An update of the columns it comes from, row by row (a row trigger can name its columns where a
-- statement trigger with transition tables cannot).
CREATE FUNCTION situations_recompute_problems_of_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM situations_recompute_problems_of(ARRAY[OLD.situation_id::text, NEW.situation_id::text]);
    RETURN NULL;
END
$$;

SELECT situations_recompute_problems_of(ARRAY(SELECT DISTINCT situation_id::text FROM situation_problems));

CREATE TRIGGER situation_problems_kept_insert AFTER INSERT ON situation_problems
    REFERENCING NEW TABLE AS changed_problems
    FOR EACH STATEMENT EXECUTE FUNCTION situations_recompute_problems();
CREATE TRIGGER situation_problems_kept_update AFTER UPDATE OF situation_id, problem ON situation_problems
    FOR EACH ROW EXECUTE FUNCTION situations_recompute_problems_of_row();
CREATE TRIGGER situation_problems_kept_delete AFTER DELETE ON situation_problems
    REFERENCING OLD TABLE AS changed_problems
    FOR EACH STATEMENT EXECUTE FUNCTION situations_recompute_problems();

-- `hand_offs.situation_opened_on`: the opening of the hand-off's situation. The grid counts a
-- hand-off with its situation; with the situation's opening beside its post (`hand_offs.post_id`,
-- the situation's post since the hand-off was made), a scope's hand-offs of a period are one range
-- of an index rather than a probe for each of the period's situations. Set before each insert,
-- and before any update that names it or the situation (so a hand-written value cannot stay).
ALTER TABLE hand_offs ADD COLUMN situation_opened_on date;

UPDATE hand_offs h SET situation_opened_on = s.opened_on FROM situations s WHERE s.id = h.situation_id;

CREATE FUNCTION hand_offs_take_situation_opening() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.situation_opened_on := (SELECT s.opened_on FROM situations s WHERE s.id = NEW.situation_id);
    RETURN NEW;
END
$$;

CREATE TRIGGER hand_offs_opening_insert BEFORE INSERT ON hand_offs
    FOR EACH ROW EXECUTE FUNCTION hand_offs_take_situation_opening();
CREATE TRIGGER hand_offs_opening_update BEFORE UPDATE OF situation_id, situation_opened_on ON hand_offs
    FOR EACH ROW EXECUTE FUNCTION hand_offs_take_situation_opening();

CREATE FUNCTION situations_opening_to_hand_offs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE hand_offs SET situation_opened_on = NEW.opened_on
    WHERE situation_id = NEW.id AND situation_opened_on IS DISTINCT FROM NEW.opened_on;
    RETURN NULL;
END
$$;

CREATE TRIGGER situations_opening_to_hand_offs AFTER UPDATE OF opened_on ON situations
    FOR EACH ROW EXECUTE FUNCTION situations_opening_to_hand_offs();

-- The grid's read of a scope's sent hand-offs, by the opening of their situations, from the index
-- alone: by post (a post, a department's posts) and for the country. They replace the read by
-- situation (`hand_offs_sent`, migration 000017), which nothing else uses.
DROP INDEX hand_offs_sent;
CREATE INDEX hand_offs_sent_by_post ON hand_offs (post_id, situation_opened_on)
    INCLUDE (status, result, partner_id, created_at, sent_at, answered_at) WHERE sent_at IS NOT NULL;
CREATE INDEX hand_offs_sent_by_opening ON hand_offs (situation_opened_on)
    INCLUDE (status, result, partner_id, created_at, sent_at, answered_at) WHERE sent_at IS NOT NULL;
