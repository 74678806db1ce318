DROP TRIGGER situations_previous_delete;
DROP TRIGGER situations_previous_update;
DROP TRIGGER situations_previous_insert;
ALTER TABLE situations DROP COLUMN previous_opened_on;
