ALTER TABLE hand_offs DROP COLUMN result;
