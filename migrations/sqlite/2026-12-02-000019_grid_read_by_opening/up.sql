-- Two more values the statistics grid (issue 17) reads on the rows it already reads, kept by the
-- database so that it reads no other table. Both are functions of other rows alone: the triggers
-- below recompute them whenever those rows change, whatever wrote them (the API, the seed's bulk
-- insert, an operator), so they cannot drift from them; a recount test proves it.
--
-- `situations.problems`: the situation's problems (`situation_problems`), their codes in bytewise
-- order joined by commas; NULL for none. The grid counts situations by problem from the row it
-- reads for every other split, not from a join to every problem of the period. Ordered by a
-- subquery, not `group_concat(… ORDER BY …)`: SQLite reads that only from 3.44, and a trigger an
-- older SQLite cannot parse makes the whole file unreadable to it (Debian 12's `sqlite3` is 3.40,
-- the `sqlite3 relais.db .backup` of an operator). Nothing counts on the order: it is a set.
ALTER TABLE situations ADD COLUMN problems TEXT;

UPDATE situations SET problems = (
    SELECT group_concat(problem, ',') FROM (
        SELECT sp.problem FROM situation_problems sp WHERE sp.situation_id = situations.id
        ORDER BY sp.problem));

CREATE TRIGGER situation_problems_kept_insert AFTER INSERT ON situation_problems
BEGIN
    UPDATE situations SET problems = (
        SELECT group_concat(problem, ',') FROM (
            SELECT sp.problem FROM situation_problems sp WHERE sp.situation_id = situations.id
            ORDER BY sp.problem))
    WHERE id = NEW.situation_id;
END;

CREATE TRIGGER situation_problems_kept_update AFTER UPDATE OF situation_id, problem ON situation_problems
BEGIN
    UPDATE situations SET problems = (
        SELECT group_concat(problem, ',') FROM (
            SELECT sp.problem FROM situation_problems sp WHERE sp.situation_id = situations.id
            ORDER BY sp.problem))
    WHERE id IN (OLD.situation_id, NEW.situation_id);
END;

CREATE TRIGGER situation_problems_kept_delete AFTER DELETE ON situation_problems
BEGIN
    UPDATE situations SET problems = (
        SELECT group_concat(problem, ',') FROM (
            SELECT sp.problem FROM situation_problems sp WHERE sp.situation_id = situations.id
            ORDER BY sp.problem))
    WHERE id = OLD.situation_id;
END;

-- `hand_offs.situation_opened_on`: the opening of the hand-off's situation. The grid counts a
-- hand-off with its situation; with the situation's opening beside its post (`hand_offs.post_id`,
-- the situation's post since the hand-off was made), a scope's hand-offs of a period are one range
-- of an index rather than a probe for each of the period's situations.
ALTER TABLE hand_offs ADD COLUMN situation_opened_on DATE;

UPDATE hand_offs SET situation_opened_on = (
    SELECT s.opened_on FROM situations s WHERE s.id = hand_offs.situation_id);

-- Each writes only a value that differs: a situation's move sets its hand-offs' opening, which
-- fires their update trigger, which then finds nothing to write (as PostgreSQL's skip equal
-- values).
CREATE TRIGGER hand_offs_opening_insert AFTER INSERT ON hand_offs
BEGIN
    UPDATE hand_offs SET situation_opened_on = (
        SELECT s.opened_on FROM situations s WHERE s.id = NEW.situation_id)
    WHERE id = NEW.id AND situation_opened_on IS NOT (
        SELECT s.opened_on FROM situations s WHERE s.id = NEW.situation_id);
END;

CREATE TRIGGER hand_offs_opening_update AFTER UPDATE OF situation_id, situation_opened_on ON hand_offs
BEGIN
    UPDATE hand_offs SET situation_opened_on = (
        SELECT s.opened_on FROM situations s WHERE s.id = NEW.situation_id)
    WHERE id = NEW.id AND situation_opened_on IS NOT (
        SELECT s.opened_on FROM situations s WHERE s.id = NEW.situation_id);
END;

CREATE TRIGGER situations_opening_to_hand_offs AFTER UPDATE OF opened_on ON situations
BEGIN
    UPDATE hand_offs SET situation_opened_on = NEW.opened_on
    WHERE situation_id = NEW.id AND situation_opened_on IS NOT NEW.opened_on;
END;

-- The grid's read of a scope's sent hand-offs, by the opening of their situations, from the index
-- alone: by post (a post, a department's posts) and for the country. They replace the read by
-- situation (`hand_offs_sent`, migration 000017), which nothing else uses.
DROP INDEX hand_offs_sent;
CREATE INDEX hand_offs_sent_by_post ON hand_offs (post_id, situation_opened_on, status, result, partner_id, created_at, sent_at, answered_at)
    WHERE sent_at IS NOT NULL;
CREATE INDEX hand_offs_sent_by_opening ON hand_offs (situation_opened_on, status, result, partner_id, created_at, sent_at, answered_at)
    WHERE sent_at IS NOT NULL;
