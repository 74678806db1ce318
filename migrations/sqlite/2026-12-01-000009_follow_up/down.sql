ALTER TABLE hand_offs DROP COLUMN parental_authority_not_informed_because;
ALTER TABLE hand_offs DROP COLUMN parental_authority_informed_on;
DROP TABLE hand_off_reminders;
