-- The opening date of the same person's situation just before this one (by opening date, then
-- id), NULL for their first: kept on the situation so that the statistics grid (issue 17) finds
-- each person's first situation of a period with a filter (`previous_opened_on IS NULL OR
-- previous_opened_on < from`) instead of a search or a sort of the period's situations. It is a
-- function of the rows alone: the triggers below recompute it for every situation of the person
-- whenever one of theirs is added, moved in time, moved to another person or removed, whatever
-- wrote it (the API, the seed's bulk insert, an operator), so it cannot drift from them.
ALTER TABLE situations ADD COLUMN previous_opened_on DATE;

UPDATE situations SET previous_opened_on = (
    SELECT p.opened_on FROM situations p
    WHERE p.beneficiary_id = situations.beneficiary_id
      AND (p.opened_on < situations.opened_on OR (p.opened_on = situations.opened_on AND p.id < situations.id))
    ORDER BY p.opened_on DESC, p.id DESC LIMIT 1);

CREATE TRIGGER situations_previous_insert AFTER INSERT ON situations
BEGIN
    UPDATE situations SET previous_opened_on = (
        SELECT p.opened_on FROM situations p
        WHERE p.beneficiary_id = situations.beneficiary_id
          AND (p.opened_on < situations.opened_on OR (p.opened_on = situations.opened_on AND p.id < situations.id))
        ORDER BY p.opened_on DESC, p.id DESC LIMIT 1)
    WHERE beneficiary_id = NEW.beneficiary_id;
END;

CREATE TRIGGER situations_previous_update AFTER UPDATE OF opened_on, beneficiary_id ON situations
BEGIN
    UPDATE situations SET previous_opened_on = (
        SELECT p.opened_on FROM situations p
        WHERE p.beneficiary_id = situations.beneficiary_id
          AND (p.opened_on < situations.opened_on OR (p.opened_on = situations.opened_on AND p.id < situations.id))
        ORDER BY p.opened_on DESC, p.id DESC LIMIT 1)
    WHERE beneficiary_id IN (OLD.beneficiary_id, NEW.beneficiary_id);
END;

CREATE TRIGGER situations_previous_delete AFTER DELETE ON situations
BEGIN
    UPDATE situations SET previous_opened_on = (
        SELECT p.opened_on FROM situations p
        WHERE p.beneficiary_id = situations.beneficiary_id
          AND (p.opened_on < situations.opened_on OR (p.opened_on = situations.opened_on AND p.id < situations.id))
        ORDER BY p.opened_on DESC, p.id DESC LIMIT 1)
    WHERE beneficiary_id = OLD.beneficiary_id;
END;
