DROP INDEX hand_offs_sent;
DROP TRIGGER hand_off_transitions_dates_delete;
DROP TRIGGER hand_off_transitions_dates_update;
DROP TRIGGER hand_off_transitions_dates_insert;
ALTER TABLE hand_offs DROP COLUMN answered_at;
ALTER TABLE hand_offs DROP COLUMN sent_at;
