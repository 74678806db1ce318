DROP INDEX hand_offs_sent;
DROP TRIGGER hand_off_transitions_dates_delete ON hand_off_transitions;
DROP TRIGGER hand_off_transitions_dates_update_new ON hand_off_transitions;
DROP TRIGGER hand_off_transitions_dates_update_old ON hand_off_transitions;
DROP TRIGGER hand_off_transitions_dates_insert ON hand_off_transitions;
DROP FUNCTION hand_offs_recompute_dates();
ALTER TABLE hand_offs DROP COLUMN answered_at;
ALTER TABLE hand_offs DROP COLUMN sent_at;
