DROP TRIGGER situations_previous_delete ON situations;
DROP TRIGGER situations_previous_update ON situations;
DROP TRIGGER situations_previous_insert ON situations;
DROP FUNCTION situations_recompute_previous_of_row();
DROP FUNCTION situations_recompute_previous();
DROP FUNCTION situations_recompute_previous_of(text[]);
ALTER TABLE situations DROP COLUMN previous_opened_on;
